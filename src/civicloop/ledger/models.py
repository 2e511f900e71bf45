"""Ledger (台账) imports and exports: who did what, when, with which file.

Files live in the private storage (never served directly): an export is downloaded by
its owner through a view, an uploaded ledger and its error report likewise. Both expire
and are removed by ``ledger.services.exports_prune`` (run by the worker).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def _private_storage():  # noqa: ANN202
    from django.core.files.storage import storages

    return storages["private"]


def _export_path(instance: ExportJob, filename: str) -> str:
    return f"ledger/exports/{instance.owner_id}/{instance.pk}.xlsx"


def _upload_path(instance: ImportBatch, filename: str) -> str:
    return f"ledger/imports/{instance.created_by_id}/{instance.pk}-upload.bin"


def _report_path(instance: ImportBatch, filename: str) -> str:
    return f"ledger/imports/{instance.created_by_id}/{instance.pk}-errors.xlsx"


class ExportJob(models.Model):
    """One export of a filtered case list to XLSX, run in the background."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="ledger_exports",
    )
    # The /cases/ list's filters, as web.dispatch_forms.filter_querystring writes them.
    querystring = models.CharField(_("filters"), max_length=1000, blank=True)
    lang = models.CharField(_("header language"), max_length=10, default="zh-hans")
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    rows_done = models.PositiveIntegerField(_("rows written"), default=0)
    rows_total = models.PositiveIntegerField(_("rows in all"), null=True, blank=True)
    file = models.FileField(storage=_private_storage, upload_to=_export_path, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ledger export")
        verbose_name_plural = _("ledger exports")

    def __str__(self) -> str:
        return f"{self.pk} {self.owner_id} {self.status}"

    @property
    def finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(100, self.rows_done * 100 // self.rows_total)

    def download_name(self) -> str:
        stamp = timezone.localtime(self.finished_at or self.created_at).strftime("%Y%m%d-%H%M")
        return f"civicloop-ledger-{stamp}.xlsx"


class ImportBatch(models.Model):
    """One uploaded ledger: checked at upload (the preview), imported on confirmation."""

    class Status(models.TextChoices):
        READY = "ready", _("Checked, ready to import")
        INVALID = "invalid", _("Has errors")
        IMPORTED = "imported", _("Imported")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        on_delete=models.PROTECT,
        related_name="ledger_imports",
    )
    file_name = models.CharField(_("file name"), max_length=200)
    file = models.FileField(storage=_private_storage, upload_to=_upload_path, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    crs = models.CharField(_("coordinate system"), max_length=8, default="wgs84")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, db_index=True)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_bad = models.PositiveIntegerField(_("rows with errors"), default=0)
    cases_created = models.PositiveIntegerField(_("cases imported"), default=0)
    # Counts by state and street, the period, the first errors: what the preview shows.
    summary = models.JSONField(default=dict, blank=True)
    error_report = models.FileField(storage=_private_storage, upload_to=_report_path, blank=True)
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    imported_at = models.DateTimeField(_("imported at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("files kept until"), db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ledger import")
        verbose_name_plural = _("ledger imports")

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"
