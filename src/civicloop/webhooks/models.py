"""Webhooks: an integration's URL that hears about case changes, and every call made to it.

A ``Webhook`` belongs to a user and hears only about cases that user may see
(``org.policy.visible_cases``), exactly as the user would on the web: a unit's vendor
system registers its webhook from a unit-staff account and never hears about another
unit's cases. Each call is a ``WebhookDelivery`` that keeps the exact body sent, the
attempts, the answer and the next try (``services``).

Why the secret is stored as it is. An API token is checked by hashing what the caller
sends, so only its hash is kept. A webhook secret works the other way round: civicloop
must *compute* an HMAC with it on every delivery, so it has to be readable by the server.
It is kept in clear in this table (the dependency-free choice; encrypting it with a key
held in the same settings file would protect only a stolen database dump without the
settings, at the cost of a crypto dependency and key rotation). What protects it: it is
shown once, when created or rotated, never again on a page, in the API or the admin; the
database and its backups are already the boundary for everything else (cases, reporters'
contacts). A leaked secret is fixed by rotating it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class DisabledReason(models.TextChoices):
    MANUAL = "manual", _("Switched off by hand")
    FAILURES = "failures", _("Switched off automatically after too many failed calls in a row")


class Webhook(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="webhooks",
        help_text=_("Hears only about the cases this user may see."),
    )
    # The token an integration registered it with through the API; a revoked token silences it.
    api_token = models.ForeignKey(
        "api.ApiToken",
        verbose_name=_("registered with token"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="webhooks",
    )
    name = models.CharField(_("name"), max_length=100)
    url = models.CharField(_("target URL"), max_length=500)
    secret = models.CharField(max_length=100, editable=False)
    # While a secret is rotated, the old one still signs (a second v1=) until this time.
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Case event kinds (cases.models.EventKind values); empty: every kind, also kinds added later.
    events = models.JSONField(_("events"), default=list, blank=True)
    active = models.BooleanField(_("active"), default=True)
    # Failed calls in a row (a success resets it); at CIVICLOOP["WEBHOOK_DISABLE_AFTER_FAILURES"] the webhook is switched off.
    failure_count = models.PositiveIntegerField(_("failures in a row"), default=0)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    disabled_reason = models.CharField(
        _("why disabled"), max_length=10, choices=DisabledReason.choices, blank=True
    )
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    last_failure_at = models.DateTimeField(_("last failure"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self) -> str:
        return f"{self.name} → {self.url}"

    def hears(self, kind: str) -> bool:
        return not self.events or kind in self.events


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SUCCEEDED = "succeeded", _("Delivered")
    FAILED = "failed", _("Failed, will retry")
    GAVE_UP = "gave_up", _("Failed, gave up")


PING = "ping"


class WebhookDelivery(models.Model):
    """One event for one webhook (or a test ping), with every attempt's outcome.

    Unique per webhook + case event: running the fan-out again never sends twice.
    A worker claims a delivery with a conditional UPDATE of ``claimed_until`` (a lease:
    a worker that dies mid-call frees it when the lease ends), so two workers never send
    the same delivery at once.
    """

    uuid = models.UUIDField(_("delivery id"), default=uuid.uuid4, unique=True, editable=False)
    webhook = models.ForeignKey(
        Webhook, verbose_name=_("webhook"), on_delete=models.CASCADE, related_name="deliveries"
    )
    # Both empty for a test ping.
    event = models.ForeignKey(
        "cases.CaseEvent",
        verbose_name=_("case event"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    case = models.ForeignKey(
        "cases.Case",
        verbose_name=_("case"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # What X-Civicloop-Event says: "case.<event kind>" or "ping".
    event_name = models.CharField(_("event"), max_length=40)
    # The exact body sent (and re-sent): text, not JSON, so not one byte changes.
    payload = models.TextField(_("payload"))
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_status_code = models.PositiveSmallIntegerField(
        _("last HTTP status"), null=True, blank=True
    )
    last_error = models.TextField(_("last error"), blank=True)
    response_excerpt = models.TextField(_("answer (first 1 KB)"), blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "event"],
                condition=models.Q(event__isnull=False),
                name="webhooks_delivery_once_per_event",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["webhook", "status", "id"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} → {self.webhook_id} ({self.status})"

    @property
    def is_ping(self) -> bool:
        return self.event_name == PING

    def payload_pretty(self) -> str:
        try:
            return json.dumps(json.loads(self.payload), ensure_ascii=False, indent=2)
        except ValueError:
            return self.payload

    def payload_data(self) -> Any:
        try:
            return json.loads(self.payload)
        except ValueError:
            return {}
