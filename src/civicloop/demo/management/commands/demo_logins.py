from typing import Any

from django.core.management.base import BaseCommand

from civicloop.demo.logins import demo_banner


class Command(BaseCommand):
    help = "Print the demo city's URL, its pages and one login per role with the page it starts on."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000", help="where the demo is served"
        )

    def handle(self, *args: Any, url: str, **options: Any) -> None:
        self.stdout.write(demo_banner(url), ending="")
