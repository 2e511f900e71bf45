"""``civicloop manage export_ledger OUT.xlsx --as USERNAME [filters]``: a case list as a ledger.

The filters are those of the /cases/ page, and the user's scope applies exactly as on
the page (``ledger.services.export_file``, the export job's own code path).
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from civicloop.cases.models import Source, State
from civicloop.core.errors import CivicError
from civicloop.ledger.services import export_file
from civicloop.places.models import Area

from .import_ledger import user_named


class Command(BaseCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = _(
            "Export the cases a user may see, filtered like the case list, to an XLSX ledger."
        )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("out", help=_("the XLSX file to write"))
        parser.add_argument(
            "--as", dest="username", required=True, help=_("the user whose scope applies")
        )
        parser.add_argument("--area", help=_("area code (district, street, community or grid)"))
        parser.add_argument("--category", help=_("category code, e.g. E0102"))
        parser.add_argument("--state", choices=State.values)
        parser.add_argument("--source", choices=Source.values)
        parser.add_argument("--overdue", choices=("yes", "no"))
        parser.add_argument(
            "--from",
            dest="reported_from",
            metavar="YYYY-MM-DD",
            help=_("reported on or after this day"),
        )
        parser.add_argument(
            "--to",
            dest="reported_to",
            metavar="YYYY-MM-DD",
            help=_("reported on or before this day"),
        )
        parser.add_argument("--q", help=_("ticket or text"))
        parser.add_argument(
            "--lang",
            choices=("zh-hans", "en"),
            default="zh-hans",
            help=_("header language (default zh-hans)"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = user_named(options["username"])
        params = QueryDict(mutable=True)
        if options["area"]:
            area = Area.objects.filter(code=options["area"]).first()
            if area is None:
                raise CommandError(_("Unknown area code “%(code)s”.") % {"code": options["area"]})
            params["area"] = str(area.pk)
        for key in ("category", "state", "source", "overdue", "reported_from", "reported_to", "q"):
            if options[key]:
                params[key] = options[key]
        out = Path(options["out"])
        try:
            with open(out, "wb") as fh:
                count = export_file(
                    user=user, querystring=params.urlencode(), lang=options["lang"], out=fh
                )
        except CivicError as exc:
            out.unlink(missing_ok=True)
            raise CommandError(exc.message) from exc
        except OSError as exc:
            raise CommandError(
                _("Cannot write %(file)s: %(problem)s") % {"file": out, "problem": exc.strerror}
            ) from exc
        self.stdout.write(
            self.style.SUCCESS(
                ngettext(
                    "%(count)d case written to %(file)s.",
                    "%(count)d cases written to %(file)s.",
                    count,
                )
                % {"count": count, "file": out}
            )
        )
