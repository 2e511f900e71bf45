"""In-app notices for staff, and the deliveries that carry the same news out by e-mail,
SMS or WeChat (``notifications.channels``), each recorded with its status and attempts."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class NoticeKind(models.TextChoices):
    CASE_EVENT = "case_event", _("Case update")
    DEADLINE_NEAR = "deadline_near", _("Deadline approaching")
    OVERDUE = "overdue", _("Overdue")
    LOOKBACK_DUE = "lookback_due", _("Look-back due")
    RETURNED = "returned", _("Returned")
    ESCALATED = "escalated", _("Escalated")


class Notice(models.Model):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notices")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(_("kind"), max_length=16, choices=NoticeKind.choices)
    # What makes the notice unique, e.g. "event:123" or "deadline:2026-11-25T09:30"; sweeps are idempotent on it.
    key = models.CharField(max_length=64)
    text = models.CharField(_("text"), max_length=300)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        constraints = [models.UniqueConstraint(fields=["recipient", "case", "key"], name="notifications_notice_once")]


    def __str__(self) -> str:
        return self.text


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENDING = "sending", _("Being sent")
    SENT = "sent", _("Sent")
    RETRY = "retry", _("Failed, will retry")
    FAILED = "failed", _("Failed, gave up")


class Delivery(models.Model):
    """One message to one address over one channel, written in the recipient's language.

    Unique per channel + address + case + key (the key is the Notice's: ``event:<id>``,
    ``near:<deadline>``), so re-running a job or a sweep never sends twice. The worker
    claims a row with a conditional UPDATE, so two workers never send it both.
    """

    channel = models.CharField(_("channel"), max_length=16)
    address = models.CharField(_("address"), max_length=254)
    # Empty for an anonymous resident's e-mail and for a unit's mailbox.
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recipient"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    case = models.ForeignKey("cases.Case", verbose_name=_("case"), on_delete=models.CASCADE, related_name="deliveries")
    key = models.CharField(max_length=64)
    language = models.CharField(_("language"), max_length=10)
    subject = models.CharField(_("subject"), max_length=200)
    text = models.TextField(_("text"))
    html = models.TextField(blank=True)
    # One line for channels that carry no subject or body (SMS, WeChat).
    short = models.CharField(max_length=300, blank=True)
    link = models.CharField(max_length=500, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [models.UniqueConstraint(fields=["channel", "address", "case", "key"], name="notifications_delivery_once")]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.channel} → {self.address}: {self.subject}"
