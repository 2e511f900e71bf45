"""``manage import_areas FILE`` (``civicloop import-areas FILE``): load a city's areas from GeoJSON."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from civicloop.core.errors import ValidationFailed
from civicloop.places.importer import FEATURE_KINDS, AreaImportFailed, import_areas_from_file


class Command(BaseCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set here, not as a class attribute: argparse needs a str, and the translation must
        # follow the language active when the command runs.
        self.help = _(
            "Import districts, street offices, communities, grids, residential compounds and back "
            "streets from a GeoJSON FeatureCollection. Everything is checked first; a file with any "
            "problem changes nothing. Importing the same file again updates by code."
        )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help=_("GeoJSON file, or - for standard input"))
        parser.add_argument(
            "--crs",
            choices=("wgs84", "gcj02"),
            default="wgs84",
            help=_("coordinate system of the file (default wgs84; gcj02 for Amap/Tencent data)"),
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help=_("check the file and report what would change, without writing"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = import_areas_from_file(
                options["file"], crs=options["crs"], dry_run=options["dry_run"]
            )
        except AreaImportFailed as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            raise CommandError(exc.message.splitlines()[0].rstrip(":：")) from exc
        except ValidationFailed as exc:
            raise CommandError(exc.message) from exc

        for warning in result.warnings:
            self.stderr.write(self.style.WARNING(warning))
        for kind in FEATURE_KINDS:
            if result.counts[kind]:
                self.stdout.write(
                    _("%(kind)s: %(created)d created, %(updated)d updated, %(unchanged)d unchanged")
                    % {
                        "kind": kind,
                        "created": result.created[kind],
                        "updated": result.updated[kind],
                        "unchanged": result.unchanged[kind],
                    }
                )
        if result.dry_run:
            self.stdout.write(self.style.WARNING(_("Dry run: nothing was written.")))
        else:
            self.stdout.write(
                self.style.SUCCESS(_("Imported %(count)d features.") % {"count": result.total})
            )
