"""Reads of the ledger's own records: each user sees only his exports and imports."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from civicloop.core.errors import NotFoundOrForbidden

from .models import ExportJob, ImportBatch


def export_jobs(*, user: Any) -> QuerySet[ExportJob]:
    return ExportJob.objects.filter(owner_id=getattr(user, "pk", None))


def export_job_get(*, user: Any, job_id: int) -> ExportJob:
    """The user's own job; someone else's is "not found", like a missing one."""
    job = export_jobs(user=user).filter(pk=job_id).first()
    if job is None:
        raise NotFoundOrForbidden(_("No such export."))
    return job


def import_batches(*, user: Any) -> QuerySet[ImportBatch]:
    return ImportBatch.objects.filter(created_by_id=getattr(user, "pk", None))


def import_batch_get(*, user: Any, batch_id: int) -> ImportBatch:
    batch = import_batches(user=user).filter(pk=batch_id).first()
    if batch is None:
        raise NotFoundOrForbidden(_("No such import."))
    return batch
