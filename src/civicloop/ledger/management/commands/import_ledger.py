"""``civicloop manage import_ledger FILE --as USERNAME [--dry-run]``: historical cases from a ledger.

The same checks as the web import (``ledger.actions.ledger_check``); any error imports
nothing. ``--errors OUT.xlsx`` writes the error report (the rows with 错误原因).
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from civicloop.core.errors import CivicError
from civicloop.ledger.actions import CRS_CHOICES, import_rows, ledger_check
from civicloop.ledger.exporting import write_error_report
from civicloop.org.models import User

SHOWN_ERRORS = 30


def user_named(username: str) -> User:
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(_("No active user “%(name)s”.") % {"name": username})
    return user


class Command(BaseCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = _(
            "Import historical cases from a ledger (XLSX or CSV with Chinese headers), acting as a "
            "dispatcher of the rows' area. Every row is checked first; a file with any error imports nothing."
        )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help=_("the ledger, .xlsx or .csv"))
        parser.add_argument(
            "--as", dest="username", required=True, help=_("the user the import acts as")
        )
        parser.add_argument(
            "--dry-run", action="store_true", help=_("check the file and report, without writing")
        )
        parser.add_argument(
            "--crs",
            choices=CRS_CHOICES,
            default="wgs84",
            help=_("coordinate system of 经度/纬度 (default wgs84)"),
        )
        parser.add_argument(
            "--errors",
            metavar="OUT.xlsx",
            help=_("write the error report here when there are errors"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(
                _("Cannot read %(file)s: %(problem)s") % {"file": path, "problem": exc.strerror}
            ) from exc
        user = user_named(options["username"])
        try:
            checked = ledger_check(data=data, by=user, crs=options["crs"])
        except CivicError as exc:
            raise CommandError(exc.message) from exc
        summary = checked.summary()
        self.stdout.write(
            _("%(rows)d rows: %(good)d without errors, %(bad)d with errors.") % summary
        )
        if checked.errors:
            for error in checked.errors[:SHOWN_ERRORS]:
                self.stderr.write(
                    _("row %(row)d, %(column)s: %(message)s")
                    % {"row": error.row, "column": error.column, "message": error.message}
                )
            if len(checked.errors) > SHOWN_ERRORS:
                self.stderr.write(
                    _("… and %(count)d more errors.")
                    % {"count": len(checked.errors) - SHOWN_ERRORS}
                )
            if options["errors"]:
                with open(options["errors"], "wb") as out:
                    write_error_report(checked.sheet, checked.errors_by_row(), out)
                self.stderr.write(
                    _("Error report written to %(file)s.") % {"file": options["errors"]}
                )
            raise CommandError(_("Nothing was imported: correct the rows above and run again."))
        if options["dry_run"]:
            self.stdout.write(self.style.WARNING(_("Dry run: nothing was written.")))
            return
        try:
            count = import_rows(checked.prepared, by=user, file_name=path.name)
        except IntegrityError as exc:
            raise CommandError(
                _("Some ticket numbers were taken while importing; run again.")
            ) from exc
        self.stdout.write(
            self.style.SUCCESS(
                ngettext(
                    "%(count)d case imported from %(file)s.",
                    "%(count)d cases imported from %(file)s.",
                    count,
                )
                % {"count": count, "file": path.name}
            )
        )
