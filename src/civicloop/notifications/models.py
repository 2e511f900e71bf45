"""In-app notices. E-mail, SMS and WeChat senders (issue 3) deliver the same notices."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class NoticeKind(models.TextChoices):
    CASE_EVENT = "case_event", _("Case update")
    DEADLINE_NEAR = "deadline_near", _("Deadline approaching")
    OVERDUE = "overdue", _("Overdue")
    LOOKBACK_DUE = "lookback_due", _("Look-back due")


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