"""Every write to a webhook: register, change, switch on/off, rotate the secret, delete,
ping, redeliver. Each checks the actor (the owner, or a system administrator), validates
all input before writing, runs in one transaction and sends nothing before the commit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicloop.api.models import ApiToken
from civicloop.cases.models import EventKind
from civicloop.core.errors import (
    ConflictError,
    NotFoundOrForbidden,
    PermissionRefused,
    ValidationFailed,
)
from civicloop.org import policy

from . import services, transport
from .models import PING, DeliveryStatus, DisabledReason, Webhook, WebhookDelivery
from .selectors import may_integrate

MAX_NAME = 100
DEFAULT_SECRET_OVERLAP = dt.timedelta(hours=24)


def _now(at: dt.datetime | None) -> dt.datetime:
    return at if at is not None else timezone.now()


def _max_per_user() -> int:
    return int(dict(settings.CIVICLOOP).get("WEBHOOK_MAX_PER_USER", 20))


def _require_integrator(by: Any) -> None:
    if not may_integrate(by):
        raise PermissionRefused(_("Only staff and system administrators may manage integrations."))


def _require_owner(by: Any, hook: Webhook) -> None:
    _require_integrator(by)
    if hook.owner_id != by.pk and not policy.is_admin(by):
        raise NotFoundOrForbidden(_("No such webhook, or it is not yours."))


def _name(value: str | None) -> str:
    name = (value or "").strip()
    if not name or len(name) > MAX_NAME:
        raise ValidationFailed(
            _("Give the webhook a name of at most %(max)d characters.") % {"max": MAX_NAME},
            field="name",
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ValidationFailed(_("The name may not contain control characters."), field="name")
    return name


def clean_events(kinds: Iterable[Any] | None) -> list[str]:
    """Subscribed kinds in the order of ``EventKind``; empty means every kind (also later ones)."""
    if kinds is None:
        return []
    if isinstance(kinds, (str, bytes)) or not isinstance(kinds, Iterable):
        raise ValidationFailed(_("Events must be a list of case event kinds."), field="events")
    chosen = []
    for kind in kinds:
        text = str(kind).removeprefix("case.") if isinstance(kind, str) else None
        if text not in EventKind.values:
            raise ValidationFailed(
                _("Unknown event kind “%(kind)s”.") % {"kind": str(kind)[:40]}, field="events"
            )
        chosen.append(text)
    return [k for k in EventKind.values if k in set(chosen)]


@transaction.atomic
def webhook_create(
    *,
    by: Any,
    name: str,
    url: str,
    events: Iterable[str] | None = None,
    api_token: ApiToken | None = None,
    active: bool = True,
) -> tuple[Webhook, str]:
    """Register a webhook owned by ``by``; returns it and its secret (shown once)."""
    _require_integrator(by)
    clean_name = _name(name)
    clean_url = transport.clean_url(url)
    kinds = clean_events(events)
    if api_token is not None and api_token.user_id != by.pk:
        raise PermissionRefused(_("A webhook can be registered only with your own token."))
    if Webhook.objects.filter(owner=by).count() >= _max_per_user():
        raise ValidationFailed(
            _("You already have %(max)d webhooks; delete one you no longer use first.")
            % {"max": _max_per_user()}
        )
    secret = services.new_secret()
    hook = Webhook.objects.create(
        owner=by,
        api_token=api_token,
        name=clean_name,
        url=clean_url,
        events=kinds,
        secret=secret,
        active=bool(active),
        disabled_reason="" if active else DisabledReason.MANUAL,
        disabled_at=None if active else timezone.now(),
    )
    return hook, secret


@transaction.atomic
def webhook_update(
    *,
    webhook: Webhook,
    by: Any,
    name: str | None = None,
    url: str | None = None,
    events: Iterable[str] | None = None,
    all_events: bool = False,
) -> Webhook:
    """Change name, URL or events (``all_events`` subscribes to every kind). ``None`` keeps a value."""
    _require_owner(by, webhook)
    fields: list[str] = []
    if name is not None:
        webhook.name = _name(name)
        fields.append("name")
    if url is not None:
        webhook.url = transport.clean_url(url)
        fields.append("url")
    if all_events:
        webhook.events = []
        fields.append("events")
    elif events is not None:
        webhook.events = clean_events(events)
        fields.append("events")
    if fields:
        webhook.save(update_fields=[*fields, "updated_at"])
    return webhook


@transaction.atomic
def webhook_set_active(
    *, webhook: Webhook, by: Any, active: bool, at: dt.datetime | None = None
) -> Webhook:
    """Switch on (the failure count starts again from zero) or off (what waited is given up)."""
    _require_owner(by, webhook)
    hook = Webhook.objects.select_for_update().get(pk=webhook.pk)
    if active:
        hook.active, hook.failure_count, hook.disabled_at, hook.disabled_reason = True, 0, None, ""
    elif hook.active:
        hook.active, hook.disabled_at, hook.disabled_reason = False, _now(at), DisabledReason.MANUAL
        services.give_up_outstanding(hook.pk, _("The webhook was switched off."))
    hook.save(
        update_fields=["active", "failure_count", "disabled_at", "disabled_reason", "updated_at"]
    )
    return hook


@transaction.atomic
def webhook_rotate_secret(
    *, webhook: Webhook, by: Any, keep_old: bool = True, at: dt.datetime | None = None
) -> tuple[Webhook, str]:
    """A new secret, returned once. With ``keep_old`` the previous one still signs for 24 hours
    (each call then carries two ``v1=``), so the receiver can be switched without a gap."""
    _require_owner(by, webhook)
    hook = Webhook.objects.select_for_update().get(pk=webhook.pk)
    secret = services.new_secret()
    if keep_old:
        hook.previous_secret, hook.previous_secret_expires_at = (
            hook.secret,
            _now(at) + DEFAULT_SECRET_OVERLAP,
        )
    else:
        hook.previous_secret, hook.previous_secret_expires_at = "", None
    hook.secret = secret
    hook.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    return hook, secret


@transaction.atomic
def webhook_delete(*, webhook: Webhook, by: Any) -> None:
    """Delete the webhook and its delivery log."""
    _require_owner(by, webhook)
    Webhook.objects.filter(pk=webhook.pk).delete()


@transaction.atomic
def webhook_ping(*, webhook: Webhook, by: Any, at: dt.datetime | None = None) -> WebhookDelivery:
    """Send a signed test event (``ping``) once, also to a switched-off webhook; see its answer in the log."""
    _require_owner(by, webhook)
    now = _now(at)
    delivery_id = uuid.uuid4()
    delivery = WebhookDelivery.objects.create(
        uuid=delivery_id,
        webhook=webhook,
        event_name=PING,
        next_attempt_at=now,
        payload=services.serialize(services.ping_body(webhook, delivery_id=delivery_id, now=now)),
    )
    services.send_on_commit([delivery.pk])
    return delivery


@transaction.atomic
def delivery_redeliver(
    *, delivery: WebhookDelivery, by: Any, at: dt.datetime | None = None
) -> WebhookDelivery:
    """Try the same delivery (same id, same body, a fresh signature) once more, now."""
    _require_owner(by, delivery.webhook)
    now = _now(at)
    current = (
        WebhookDelivery.objects.select_for_update().select_related("webhook").get(pk=delivery.pk)
    )
    if current.claimed_until is not None and current.claimed_until > now:
        raise ConflictError(_("This delivery is being sent right now; look again in a minute."))
    if not current.webhook.active and current.event_name != PING:
        raise ValidationFailed(_("The webhook is switched off: switch it on before redelivering."))
    current.status, current.next_attempt_at, current.claimed_until = (
        DeliveryStatus.PENDING,
        now,
        None,
    )
    current.save(update_fields=["status", "next_attempt_at", "claimed_until"])
    services.send_on_commit([current.pk])
    return current
