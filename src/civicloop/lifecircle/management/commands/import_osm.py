"""``manage import_osm FILE.osm.pbf`` (``civicloop import-osm FILE``): read the walking
network, facilities and residential buildings of an OpenStreetMap extract, make it the
current network and compute the life circle, showing progress."""

from __future__ import annotations

import sys
import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from civicloop.core.errors import CivicError
from civicloop.lifecircle import actions
from civicloop.lifecircle.models import STAGE_LABELS, Analysis, JobStatus, Network

STAGES = {
    "ways": "ways",
    "graph": "network",
    "facilities": "facilities",
    "buildings": "buildings",
    "storing": "storing",
    "done": "done",
}


class Command(BaseCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = _(
            "Import the walking network, facilities and residential buildings of an OpenStreetMap "
            "extract (.osm.pbf), make it the current network and compute the 15-minute life circle."
        )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help=_("OpenStreetMap extract (.osm.pbf)"))
        parser.add_argument(
            "--no-analysis",
            action="store_true",
            help=_("only import; the worker computes the life circle in the background"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        started = time.monotonic()
        try:
            network = actions.network_request(by=None, path=path, enqueue=False)
        except CivicError as exc:
            raise CommandError(exc.message) from exc
        status = actions.network_run(network.pk, progress=self._progress)
        if self._tty:
            self.stdout.write("")
        network = Network.objects.get(pk=network.pk)
        if status != JobStatus.DONE:
            raise CommandError(network.error or _("The import failed."))
        self.stdout.write(
            _(
                "Network #%(id)d: %(nodes)d nodes, %(edges)d edges; %(facilities)d facilities, "
                "%(buildings)d residential buildings, %(households)d households (%(s).1f s)."
            )
            % {
                "id": network.pk,
                "nodes": network.nodes,
                "edges": network.edges,
                "facilities": network.facilities,
                "buildings": network.buildings,
                "households": network.households,
                "s": time.monotonic() - started,
            }
        )
        if options["no_analysis"]:
            return
        queued = Analysis.objects.filter(status=JobStatus.QUEUED).order_by("-requested_at").first()
        if queued is None:
            return
        self.stdout.write(_("Computing the life circle …"))
        if actions.analysis_run(queued.pk) != JobStatus.DONE:
            raise CommandError(
                Analysis.objects.get(pk=queued.pk).error or _("The computation failed.")
            )
        done = Analysis.objects.get(pk=queued.pk)
        self.stdout.write(
            _(
                "Life circle computed for %(origins)d compounds and buildings (%(unreachable)d off the network) in %(s).1f s."
            )
            % {"origins": done.origins, "unreachable": done.unreachable, "s": done.seconds}
        )

    @property
    def _tty(self) -> bool:
        return sys.stdout.isatty()

    def _progress(self, stage: str, done: int, total: int) -> None:
        percent = 100.0 * done / total if total else 0.0
        line = f"{STAGE_LABELS.get(stage, stage)} {percent:5.1f}% ({done:,}/{total:,})"
        if self._tty:
            self.stdout.write("\r" + line, ending="")
        elif done >= total:
            self.stdout.write(line)
