"""Delete photo files left without a row, e.g. by a case action whose transaction rolled back."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from civicloop.cases.evidence import photo_orphans_delete


class Command(BaseCommand):
    help = (
        "Delete photo files (public copies and private originals) that no photo record refers to."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than-minutes",
            type=int,
            default=60,
            help="Spare files younger than this, which may belong to a transaction still open (default 60).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List the files, delete nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        minutes: int = options["older_than_minutes"]
        if minutes < 0:
            raise CommandError(_("--older-than-minutes cannot be negative."))
        dry_run: bool = options["dry_run"]
        names = photo_orphans_delete(older_than=dt.timedelta(minutes=minutes), dry_run=dry_run)
        if options["verbosity"] >= 2:
            for name in names:
                self.stdout.write(name)
        count = len(names)
        if dry_run:
            message = ngettext(
                "%(count)s orphaned photo file found; nothing deleted (dry run).",
                "%(count)s orphaned photo files found; nothing deleted (dry run).",
                count,
            )
        else:
            message = ngettext(
                "%(count)s orphaned photo file deleted.",
                "%(count)s orphaned photo files deleted.",
                count,
            )
        self.stdout.write(message % {"count": count})
