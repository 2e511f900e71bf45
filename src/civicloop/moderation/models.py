"""Reports held for moderation instead of being published.

A held report is a valid report (checked by ``cases.actions.report_prepare``) whose text
looked like spam or abuse (``moderation/checks.py``). It creates no case, no ticket and
no notice until a dispatcher releases it; its original text is kept whatever happens.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    WEB = "web", _("Web form")
    API = "api", _("REST API")
    OPEN311 = "open311", _("Open311")


class HeldStatus(models.TextChoices):
    HELD = "held", _("Held for moderation")
    RELEASED = "released", _("Released")
    REJECTED = "rejected", _("Rejected")


class HeldReport(models.Model):
    # Public reference given to the submitter (Open311 ``token``); never a database id.
    token = models.CharField(_("reference"), max_length=32, unique=True, editable=False)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=HeldStatus.choices, default=HeldStatus.HELD
    )
    reasons = models.JSONField(_("reasons"), default=list)
    # The submission exactly as received (category code, lat, lon, crs, description, contacts …).
    payload = models.JSONField(_("submission"))
    original_description = models.TextField(_("original text"))
    category = models.ForeignKey(
        "cases.Category", verbose_name=_("category"), on_delete=models.PROTECT, related_name="+"
    )
    grid = models.ForeignKey(
        "places.Area", verbose_name=_("grid"), on_delete=models.PROTECT, related_name="+"
    )
    area_path = models.CharField(max_length=255, db_index=True)
    ip = models.CharField(_("IP address"), max_length=64, blank=True)
    api_token = models.ForeignKey(
        "api.ApiToken",
        verbose_name=_("API token"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("submitted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("submitted at"), db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.CharField(_("note"), max_length=500, blank=True)
    report = models.OneToOneField(
        "cases.Report",
        verbose_name=_("report"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="held_as",
    )

    class Meta:
        ordering = ["-submitted_at", "-id"]
        verbose_name = _("held report")
        verbose_name_plural = _("held reports")

    def __str__(self) -> str:
        return f"{self.token} ({self.get_status_display()})"


class SubmissionPrint(models.Model):
    """One row per resident-facing submission: what it said (a hash) and who sent it, so that
    the same text sent again and again is recognised (``checks.REPEATED``)."""

    fingerprint = models.CharField(max_length=64)
    sender = models.CharField(max_length=120)  # "ip:1.2.3.4" or "token:17"
    submitted_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["fingerprint", "submitted_at"], name="moderation_print_idx")
        ]
        verbose_name = _("submission fingerprint")
        verbose_name_plural = _("submission fingerprints")

    def __str__(self) -> str:
        return f"{self.fingerprint[:8]} {self.sender}"


def _private_storage():  # noqa: ANN202
    from django.core.files.storage import storages

    return storages["private"]


def _held_original_path(instance: HeldPhoto, filename: str) -> str:
    return f"held/{instance.held.token}/{instance.sha256}"


def _held_preview_path(instance: HeldPhoto, filename: str) -> str:
    return f"held/{instance.held.token}/{instance.sha256[:16]}.jpg"


class HeldPhoto(models.Model):
    """A photo of a held report, checked by ``cases.evidence`` and kept privately until the
    report is released (then it becomes the case's ``Photo``) or rejected. ``preview`` is the
    stripped copy moderators look at; ``original`` is the upload byte for byte, EXIF and all."""

    held = models.ForeignKey(HeldReport, on_delete=models.CASCADE, related_name="photos")
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=100, blank=True)
    original = models.FileField(storage=_private_storage, upload_to=_held_original_path)
    preview = models.FileField(storage=_private_storage, upload_to=_held_preview_path)
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=32)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("held photo")
        verbose_name_plural = _("held photos")

    def __str__(self) -> str:
        return f"{self.held_id} #{self.position} {self.sha256[:12]}"
