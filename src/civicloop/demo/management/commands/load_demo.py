import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from civicloop.demo.loader import DemoRefused, load_demo


class Command(BaseCommand):
    help = (
        "Load the demo city (real OSM streets, units, people and half a year of cases) into an "
        "empty database. Once loaded, running it again changes nothing."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--cases", type=int, default=2000, help="reports to replay (default 2000)"
        )
        parser.add_argument("--seed", type=int, default=20261123)
        parser.add_argument("--anchor", help="ISO time the history ends at (default: this hour)")

    def handle(self, *args: Any, cases: int, seed: int, anchor: str | None, **options: Any) -> None:
        if cases < 20:
            raise CommandError("--cases must be at least 20")
        at = None
        if anchor:
            try:
                at = dt.datetime.fromisoformat(anchor)
            except ValueError as exc:
                raise CommandError(f"--anchor: {exc}") from exc
            if at.tzinfo is None:
                raise CommandError("--anchor needs a time zone, e.g. 2026-11-23T12:00+08:00")
        try:
            counts = load_demo(cases=cases, seed=seed, anchor=at, stdout=self.stdout)
        except DemoRefused as exc:
            raise CommandError(str(exc)) from exc
        if options["verbosity"] >= 1:
            width = max(len(k) for k in counts)
            for key, value in counts.items():
                self.stdout.write(f"  {key:<{width}}  {value}")
