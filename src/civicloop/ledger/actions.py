"""Every write of the ledger: upload and check, import, ask for an export.

An import writes all of a ledger's cases in one transaction or none: a file with one
bad row imports nothing. Imported cases are history: source "import", their own ticket
numbers and times, one timeline event naming the file and the importer, and no notices
or webhooks (nothing is handed over on commit, and notices are muted while writing).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from civicloop.cases.models import Case, CaseEvent, CaseUnit, EventKind, Report, Source
from civicloop.core.errors import (
    ConflictError,
    PermissionRefused,
    TransitionRefused,
    ValidationFailed,
)
from civicloop.core.models import TicketCounter
from civicloop.notifications.services import muted
from civicloop.org import policy
from civicloop.org.models import Role

from .exporting import write_error_report
from .importing import Checked, Prepared, check_ledger
from .limits import limit
from .models import ExportJob, ImportBatch
from .reading import LedgerFileError, read_ledger

CRS_CHOICES = ("wgs84", "gcj02")
OWN_TICKET = re.compile(r"^(\d{8})-(\d{6})$")
STAFF_ROLES = tuple(r for r in Role if r != Role.RESIDENT)


def keep_days() -> int:
    return limit("LEDGER_KEEP_DAYS")


def may_import(user: Any) -> bool:
    """Who may open the import at all; each row is then checked against the user's area."""
    return policy.is_admin(user) or policy.has_role(user, *policy.LEDGER_IMPORTERS)


def may_export(user: Any) -> bool:
    return policy.is_admin(user) or policy.has_role(user, *STAFF_ROLES)


def _file_name(name: str) -> str:
    base = re.split(r"[\\/]", name or "")[-1].strip()
    return base[:200] or "ledger"


def _crs(crs: str) -> str:
    value = (crs or "wgs84").lower().replace("-", "").replace("_", "")
    if value not in CRS_CHOICES:
        raise ValidationFailed(
            _("Unknown coordinate system “%(crs)s”; use “wgs84” or “gcj02”.") % {"crs": crs},
            field="crs",
        )
    return value


# ---- import ---------------------------------------------------------------------------------------


def ledger_check(
    *, data: bytes, by: Any, crs: str = "wgs84", now: dt.datetime | None = None
) -> Checked:
    """Read and check a ledger without writing anything (the CLI's --dry-run, the preview)."""
    if not may_import(by):
        raise PermissionRefused(_("Only dispatchers import ledgers, each for his own area."))
    sheet = read_ledger(data)
    if not sheet.rows:
        raise LedgerFileError(_("The file has the headers but no rows under them."))
    return check_ledger(sheet, by=by, crs=_crs(crs), now=now)


def _summarise(batch: ImportBatch, checked: Checked) -> list[str]:
    batch.status = ImportBatch.Status.READY if checked.ok else ImportBatch.Status.INVALID
    batch.rows_total, batch.rows_bad, batch.summary = (
        checked.rows_total,
        len(checked.bad_rows),
        checked.summary(),
    )
    fields = ["status", "rows_total", "rows_bad", "summary"]
    if checked.errors:
        buffer = io.BytesIO()
        write_error_report(checked.sheet, checked.errors_by_row(), buffer)
        batch.error_report.save("errors.xlsx", ContentFile(buffer.getvalue()), save=False)
        fields.append("error_report")
    return fields


def ledger_upload(
    *, data: bytes, file_name: str, by: Any, crs: str = "wgs84", now: dt.datetime | None = None
) -> ImportBatch:
    """Keep an uploaded ledger and its check (the preview); nothing is imported yet.

    A file that cannot be used as a whole raises ``LedgerFileError`` and is not kept.
    """
    when = now or timezone.now()
    checked = ledger_check(data=data, by=by, crs=crs, now=when)
    with transaction.atomic():
        batch = ImportBatch.objects.create(
            created_by=by,
            file_name=_file_name(file_name),
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            crs=_crs(crs),
            status=ImportBatch.Status.INVALID,
            expires_at=when + dt.timedelta(days=keep_days()),
        )
        batch.file.save("upload.bin", ContentFile(data), save=False)
        fields = ["file", *_summarise(batch, checked)]
        batch.save(update_fields=fields)
    return batch


@dataclass
class Imported:
    batch: ImportBatch
    checked: Checked
    cases: int


def ledger_import(*, batch: ImportBatch, by: Any, now: dt.datetime | None = None) -> Imported:
    """Import a previewed ledger: every row, or — if anything changed since the preview and a
    row no longer passes — none, with the batch showing the new errors."""
    when = now or timezone.now()
    with transaction.atomic():
        locked = (
            ImportBatch.objects.select_for_update()
            .filter(pk=batch.pk, created_by_id=getattr(by, "pk", None))
            .first()
        )
        if locked is None:
            raise PermissionRefused(_("This import is not yours."))
        if locked.status == ImportBatch.Status.IMPORTED:
            raise TransitionRefused(_("This ledger was already imported."))
        if locked.status != ImportBatch.Status.READY:
            raise TransitionRefused(
                _("This ledger has errors: correct the file and upload it again.")
            )
        if not locked.file:
            raise TransitionRefused(_("The uploaded file is no longer kept; upload it again."))
        with locked.file.open("rb") as fh:
            data = fh.read()
        checked = ledger_check(data=data, by=by, crs=locked.crs, now=when)
        if not checked.ok:
            locked.save(update_fields=_summarise(locked, checked))
            return Imported(batch=locked, checked=checked, cases=0)
        try:
            with transaction.atomic():
                count = import_rows(
                    checked.prepared,
                    by=by,
                    file_name=locked.file_name,
                    batch_id=locked.pk,
                    now=when,
                )
        except IntegrityError:
            raise ConflictError(
                _("Some ticket numbers were taken while importing; check the file again.")
            ) from None
        locked.status, locked.cases_created, locked.imported_at = (
            ImportBatch.Status.IMPORTED,
            count,
            when,
        )
        locked.summary = {**locked.summary, "imported": count}
        stored = locked.file.name or ""
        locked.file = ""
        locked.save(update_fields=["status", "cases_created", "imported_at", "summary", "file"])
        # The upload is no longer needed once its cases exist; it holds residents' data.
        transaction.on_commit(lambda: locked.file.storage.delete(stored))
    return Imported(batch=locked, checked=checked, cases=count)


def import_rows(
    prepared: list[Prepared],
    *,
    by: Any,
    file_name: str,
    batch_id: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Write checked rows as cases (one transaction; the caller has checked them all)."""
    when = now or timezone.now()
    actor = by if getattr(by, "is_authenticated", False) else None
    with transaction.atomic(), muted():
        cases = [
            Case(
                ticket_no=p.ticket,
                state=p.state,
                source=Source.IMPORT,
                category=p.category,
                grid=p.grid,
                area_path=p.grid.path,
                lat=p.lat,
                lon=p.lon,
                address=p.address,
                description=p.description,
                unit=p.unit,
                reported_at=p.reported_at,
                registered_at=p.registered_at,
                dispatched_at=p.dispatched_at,
                deadline_at=p.deadline_at,
                deadline_estimated=p.deadline_estimated,
                handled_at=p.handled_at,
                handled_on_time=p.handled_on_time,
                closed_at=p.closed_at,
                closed_on_time=p.closed_on_time,
                # History has had its look-back (or none is wanted): no look-back falls due.
                lookback_due_at=None,
                rework_count=p.rework_count,
                reporter_count=1,
                rating=p.rating,
            )
            for p in prepared
        ]
        Case.objects.bulk_create(cases, batch_size=500)
        Report.objects.bulk_create(
            [
                Report(
                    case=c,
                    ticket_no=c.ticket_no,
                    source=Source.IMPORT,
                    category=c.category,
                    lat=c.lat,
                    lon=c.lon,
                    description=c.description,
                    created_at=c.reported_at,
                )
                for c in cases
            ],
            batch_size=500,
        )
        CaseUnit.objects.bulk_create(
            [
                CaseUnit(case=c, unit=c.unit, role=CaseUnit.Role.MAIN, active=True)
                for c in cases
                if c.unit_id
            ],
            batch_size=500,
        )
        CaseEvent.objects.bulk_create(
            [
                CaseEvent(
                    case=c,
                    kind=EventKind.IMPORTED,
                    actor=actor,
                    from_state="",
                    to_state=c.state,
                    note=_("Imported from ledger “%(file)s”, row %(row)d.")
                    % {"file": file_name, "row": p.row},
                    data={
                        "file": file_name,
                        "row": p.row,
                        "batch": batch_id,
                        "source": p.source,
                        "source_text": p.source_text,
                        "located": p.located,
                    },
                    created_at=when,
                )
                for c, p in zip(cases, prepared, strict=True)
            ],
            batch_size=500,
        )
        _reserve_tickets([p.ticket for p in prepared])
    return len(cases)


def _reserve_tickets(tickets: list[str]) -> None:
    """Imported numbers in our own format (20260301-000123) are taken out of that day's
    sequence, so ``core.tickets.ticket_next`` never hands them out again."""
    highest: dict[dt.date, int] = {}
    for ticket in tickets:
        match = OWN_TICKET.match(ticket)
        if not match:
            continue
        try:
            day = dt.datetime.strptime(match.group(1), "%Y%m%d").date()
        except ValueError:
            continue
        highest[day] = max(highest.get(day, 0), int(match.group(2)))
    for day, last in highest.items():
        TicketCounter.objects.get_or_create(day=day)
        TicketCounter.objects.filter(day=day, last__lt=last).update(last=last)


# ---- export ---------------------------------------------------------------------------------------


def filters_refused(form: Any) -> ValidationFailed:
    """The refusal of a case-list filter form that is not valid, naming each problem."""
    problems = "; ".join(
        f"{form.fields[k].label if k in form.fields else k}: {' '.join(str(m) for m in v)}"
        for k, v in form.errors.items()
    )
    return ValidationFailed(
        _("Some filters are not valid: %(problems)s") % {"problems": problems}, field="querystring"
    )


def export_request(
    *, by: Any, querystring: str = "", lang: str = "zh-hans", now: dt.datetime | None = None
) -> ExportJob:
    """Queue an export of the case list the filters give (checked now, applied when it runs)."""
    from civicloop.web.dispatch_forms import CaseFilterForm, filter_querystring

    from .tasks import export_cases

    if not may_export(by):
        raise PermissionRefused(_("Exports are for staff."))
    when = now or timezone.now()
    params = QueryDict(querystring or "")
    form = CaseFilterForm(params, user=by)
    if not form.is_valid():
        raise filters_refused(form)
    most = limit("LEDGER_MAX_ACTIVE_EXPORTS")
    active = ExportJob.objects.filter(
        owner=by, status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING]
    ).count()
    if active >= most:
        raise ValidationFailed(
            _("You already have %(count)d exports under way; wait until one is done.")
            % {"count": active}
        )
    job = ExportJob.objects.create(
        owner=by,
        querystring=filter_querystring(params),
        lang="en" if lang.lower().startswith("en") else "zh-hans",
        expires_at=when + dt.timedelta(days=keep_days()),
    )
    transaction.on_commit(lambda: export_cases.enqueue(job_id=job.pk))
    return job
