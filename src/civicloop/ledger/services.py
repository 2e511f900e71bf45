"""The ledger's background work: running an export job, and pruning expired files.

``export_run`` is the body of the ``ledger.tasks.export_cases`` job. It claims the job
with a conditional UPDATE (several workers are safe), lists the cases with the very
filters and scope of the /cases/ page (``web.dispatch.filtered_cases`` over
``org.policy.visible_cases`` of the job's owner, evaluated when the job runs), streams
them into an XLSX in the private storage and records its progress as it goes.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from collections.abc import Callable
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.http import QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from civicloop.core.errors import CivicError, PermissionRefused, ValidationFailed

from .actions import filters_refused, keep_days, may_export
from .exporting import write_cases
from .limits import limit
from .models import ExportJob, ImportBatch

log = logging.getLogger("civicloop.ledger")

EXPORT_CHUNK = 500


def max_export_rows() -> int:
    return limit("LEDGER_EXPORT_MAX_ROWS")


def export_progress(job_id: int, rows_done: int) -> None:
    """Record how far a job got (the page polls it)."""
    ExportJob.objects.filter(pk=job_id).update(rows_done=rows_done)


def _started(job_id: int, total: int) -> None:
    ExportJob.objects.filter(pk=job_id).update(rows_total=total, rows_done=0)


def _fail(job_id: int, message: str) -> None:
    now = timezone.now()
    ExportJob.objects.filter(pk=job_id).update(
        status=ExportJob.Status.FAILED,
        error=message,
        finished_at=now,
        expires_at=now + dt.timedelta(days=keep_days()),
    )


def _cases(owner: Any, querystring: str, now: dt.datetime) -> Any:
    from civicloop.web.dispatch import filtered_cases
    from civicloop.web.dispatch_forms import CaseFilterForm

    if not owner.is_active or not may_export(owner):
        raise PermissionRefused(_("Your account may no longer export cases."))
    form = CaseFilterForm(QueryDict(querystring), user=owner)
    if not form.is_valid():
        raise filters_refused(form)
    # Names of grid, community … come from area_path: no need to load each grid's geometry.
    return filtered_cases(owner, form, now).select_related(None).select_related("category", "unit")


def export_run(*, job_id: int) -> str:
    """Run one export job; returns its final status."""
    now = timezone.now()
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.QUEUED).update(
        status=ExportJob.Status.RUNNING, started_at=now
    )
    if not claimed:
        return "skipped"  # done, failed, pruned or claimed by another worker
    job = ExportJob.objects.select_related("owner").get(pk=job_id)
    language = job.owner.language or settings.LANGUAGE_CODE
    with translation.override(language):
        try:
            _write(job, now)
        except CivicError as exc:
            _fail(job.pk, exc.message)
            return ExportJob.Status.FAILED
        except Exception:
            log.exception("ledger export %s failed", job.pk)
            _fail(
                job.pk,
                _("The export failed. Try again; if it fails again, tell the administrator."),
            )
            return ExportJob.Status.FAILED
    return ExportJob.Status.DONE


def export_file(
    *,
    user: Any,
    querystring: str,
    lang: str,
    out: IO[bytes],
    now: dt.datetime | None = None,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> int:
    """The cases ``user`` sees under the /cases/ filters ``querystring``, as an XLSX ledger on
    ``out``: the one code path of the export job and of ``manage export_ledger``."""
    now = now or timezone.now()
    cases = _cases(user, querystring, now)
    total = cases.count()
    most = max_export_rows()
    if total > most:
        raise ValidationFailed(
            ngettext(
                "%(count)d case matches these filters; at most %(max)d can be exported at once. Narrow the filters (a shorter period, one area).",
                "%(count)d cases match these filters; at most %(max)d can be exported at once. Narrow the filters (a shorter period, one area).",
                total,
            )
            % {"count": total, "max": most}
        )
    if on_total is not None:
        on_total(total)
    return write_cases(
        cases.iterator(chunk_size=EXPORT_CHUNK),
        out,
        lang=lang,
        now=now,
        chunk=EXPORT_CHUNK,
        progress=progress,
    )


def _write(job: ExportJob, now: dt.datetime) -> None:
    with tempfile.TemporaryFile() as tmp:
        written = export_file(
            user=job.owner,
            querystring=job.querystring,
            lang=job.lang,
            out=tmp,
            now=now,
            progress=lambda done: export_progress(job.pk, done),
            on_total=lambda total: _started(job.pk, total),
        )
        size = tmp.tell()
        tmp.seek(0)
        job.file.save(f"{job.pk}.xlsx", File(tmp), save=False)
    finished = timezone.now()
    job.status, job.rows_done, job.rows_total, job.size = (
        ExportJob.Status.DONE,
        written,
        written,
        size,
    )
    job.finished_at, job.expires_at = finished, finished + dt.timedelta(days=keep_days())
    job.save(
        update_fields=[
            "status",
            "rows_done",
            "rows_total",
            "size",
            "file",
            "finished_at",
            "expires_at",
        ]
    )


def exports_prune(now: dt.datetime | None = None) -> int:
    """Delete expired export jobs with their files, and the kept files of expired imports
    (an import's row stays as the record of who imported what). Returns how many."""
    now = now or timezone.now()
    handled = 0
    # A job still "running" past its expiry lost its worker: it goes too.
    for job in ExportJob.objects.filter(expires_at__lte=now).iterator():
        if job.file:
            job.file.delete(save=False)
        job.delete()
        handled += 1
    for batch in (
        ImportBatch.objects.filter(expires_at__lte=now).exclude(file="", error_report="").iterator()
    ):
        if batch.file:
            batch.file.delete(save=False)
        if batch.error_report:
            batch.error_report.delete(save=False)
        batch.file, batch.error_report = "", ""
        batch.save(update_fields=["file", "error_report"])
        handled += 1
    return handled
