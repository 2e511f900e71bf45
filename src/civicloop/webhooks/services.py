"""Webhook fan-out and sending.

A case event (``cases.actions`` enqueues ``tasks.webhooks_fan_out`` on commit, next to
the notices) becomes one ``WebhookDelivery`` per active webhook that subscribes to its
kind and whose owner may see the case (``org.policy.visible_cases``). Each delivery's
body is written once; the ``webhook_deliver`` task sends it after the rows are committed.

Sending (``delivery_send``) claims the row with a conditional UPDATE — free (no live
claim), due, not finished — and holds the claim for a lease, so two workers never send
the same delivery at once and a worker that dies mid-call frees it when the lease ends.
A 2xx answer is a success; anything else is recorded (status code, error, first 1 KB of
the answer, duration) and tried again after ``CIVICLOOP["WEBHOOK_RETRY_MINUTES"]`` (1, 5,
15, 60, 180, 720 minutes by default), until ``WEBHOOK_MAX_ATTEMPTS`` attempts: then the
delivery is given up. ``WEBHOOK_DISABLE_AFTER_FAILURES`` failed calls in a row switch the
webhook off (visible on its page) and give up what it still had to send.

The body never carries reporters' names, phone numbers or e-mail addresses, nor the
residents' free text (descriptions, rating comments).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from civicloop.cases.models import Case, CaseEvent, EventKind
from civicloop.cases.selectors import is_overdue
from civicloop.cases.workflow import OPEN_STATES
from civicloop.notifications.compose import case_link
from civicloop.org import policy

from . import signing, transport
from .models import PING, DeliveryStatus, DisabledReason, Webhook, WebhookDelivery

log = logging.getLogger("civicloop.webhooks")

USER_AGENT = "civicloop-webhooks/1"
SECRET_PREFIX = "whsec_"
# A fresh delivery belongs to the queue for this long before the periodic retry may take it.
QUEUE_GRACE = dt.timedelta(minutes=1)
# Notes on these events are residents' own words: they stay inside civicloop.
RESIDENT_NOTES = {EventKind.RATED}
FINISHED = (DeliveryStatus.SUCCEEDED, DeliveryStatus.GAVE_UP)


def _setting(name: str, default: Any) -> Any:
    return dict(settings.CIVICLOOP).get(name, default)


def max_attempts() -> int:
    return max(1, int(_setting("WEBHOOK_MAX_ATTEMPTS", 7)))


def retry_minutes() -> tuple[float, ...]:
    return tuple(float(m) for m in _setting("WEBHOOK_RETRY_MINUTES", (1, 5, 15, 60, 180, 720))) or (
        1.0,
    )


def disable_after() -> int:
    return max(1, int(_setting("WEBHOOK_DISABLE_AFTER_FAILURES", 50)))


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt: the schedule's step, its last step beyond."""
    steps = retry_minutes()
    return dt.timedelta(minutes=steps[min(max(attempts, 1), len(steps)) - 1])


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _lease() -> dt.timedelta:
    # Longer than one call can take: connect + send + read, each bounded by the timeout.
    return dt.timedelta(seconds=3 * transport.timeout_s() + 60)


# ---- the body ------------------------------------------------------------------------------------


def _iso(at: dt.datetime | None) -> str | None:
    return timezone.localtime(at).isoformat(timespec="seconds") if at is not None else None


def case_body(case: Case, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The case as an integration sees it: no reporter, no contact, no resident text."""
    return {
        "id": case.pk,
        "ticket_no": case.ticket_no,
        "state": case.state,
        "state_kind": "open" if case.state in OPEN_STATES else "closed",
        "category": {"code": case.category.code, "name": case.category.name},
        "grid": case.grid.code,
        "unit": {"code": case.unit.code, "name": case.unit.name} if case.unit is not None else None,
        "deadline": _iso(case.deadline_at),
        "overdue": is_overdue(case, now),
        "version": case.version,
        "url": case_link(case),
    }


def event_body(
    event: CaseEvent, *, delivery_id: uuid.UUID, now: dt.datetime | None = None
) -> dict[str, Any]:
    note = "" if event.kind in RESIDENT_NOTES else event.note
    return {
        "id": str(delivery_id),
        "event": f"case.{event.kind}",
        "occurred_at": _iso(event.created_at),
        "case": case_body(event.case, now=now),
        "data": {
            "from_state": event.from_state or None,
            "to_state": event.to_state or None,
            "note": note,
        },
    }


def ping_body(webhook: Webhook, *, delivery_id: uuid.UUID, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": str(delivery_id),
        "event": PING,
        "occurred_at": _iso(now),
        "case": None,
        "data": {
            "webhook": webhook.pk,
            "name": webhook.name,
            "events": [f"case.{k}" for k in webhook.events] or ["case.*"],
        },
    }


def serialize(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def headers_for(delivery: WebhookDelivery, body: bytes, *, now: dt.datetime) -> dict[str, str]:
    hook = delivery.webhook
    keys = [hook.secret]
    if (
        hook.previous_secret
        and hook.previous_secret_expires_at is not None
        and hook.previous_secret_expires_at > now
    ):
        keys.append(hook.previous_secret)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Civicloop-Event": delivery.event_name,
        "X-Civicloop-Delivery": str(delivery.uuid),
        "X-Civicloop-Signature": signing.sign(keys, body, timestamp=int(now.timestamp())),
    }


# ---- fan-out ----------------------------------------------------------------------------------------


def _token_live(hook: Webhook, now: dt.datetime) -> bool:
    token = hook.api_token
    if token is None:
        return True
    return token.revoked_at is None and (token.expires_at is None or token.expires_at > now)


def listeners(event: CaseEvent, *, now: dt.datetime) -> list[Webhook]:
    """Active webhooks that subscribe to the event's kind and whose owner may see its case."""
    hooks = [
        h
        for h in Webhook.objects.filter(active=True, owner__is_active=True)
        .select_related("owner", "api_token")
        .order_by("pk")
        if h.hears(event.kind) and _token_live(h, now)
    ]
    sees: dict[int, bool] = {}
    for hook in hooks:
        if hook.owner_id not in sees:
            sees[hook.owner_id] = policy.visible_cases(hook.owner).filter(pk=event.case_id).exists()
    return [h for h in hooks if sees[h.owner_id]]


def deliveries_for_event(*, case_id: int, event_id: int, now: dt.datetime | None = None) -> int:
    """Write one delivery per listening webhook; idempotent. Returns how many were new."""
    now = now or timezone.now()
    event = (
        CaseEvent.objects.select_related("case", "case__category", "case__grid", "case__unit")
        .filter(pk=event_id, case_id=case_id)
        .first()
    )
    if event is None:
        return 0
    new_ids: list[int] = []
    with transaction.atomic():
        for hook in listeners(event, now=now):
            if WebhookDelivery.objects.filter(webhook=hook, event=event).exists():
                continue
            delivery_id = uuid.uuid4()
            delivery, created = WebhookDelivery.objects.get_or_create(
                webhook=hook,
                event=event,
                defaults={
                    "uuid": delivery_id,
                    "case_id": event.case_id,
                    "event_name": f"case.{event.kind}",
                    "payload": serialize(event_body(event, delivery_id=delivery_id, now=now)),
                    "next_attempt_at": now,
                },
            )
            if created:
                new_ids.append(delivery.pk)
        send_on_commit(new_ids)
    return len(new_ids)


def send_on_commit(ids: Iterable[int]) -> None:
    """Sending is the ``webhook_deliver`` task's job, once the rows are committed."""
    ids = list(ids)
    if not ids:
        return
    from .tasks import webhook_deliver

    def enqueue() -> None:
        for pk in ids:
            webhook_deliver.enqueue(delivery_id=pk)

    transaction.on_commit(enqueue, robust=True)


# ---- sending -------------------------------------------------------------------------------------------


def _claim(delivery_id: int, now: dt.datetime) -> dt.datetime | None:
    """Take the delivery for one attempt; the lease's end when this call got it, else None."""
    lease = now + _lease()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    taken = WebhookDelivery.objects.filter(
        free, due, pk=delivery_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED]
    ).update(claimed_until=lease, attempts=F("attempts") + 1, last_attempt_at=now)
    return lease if taken else None


def _finish(delivery: WebhookDelivery, lease: dt.datetime, **fields: Any) -> bool:
    """Record the outcome, if the claim is still ours (a lease that ran out may have passed on)."""
    return bool(
        WebhookDelivery.objects.filter(pk=delivery.pk, claimed_until=lease).update(
            claimed_until=None, **fields
        )
    )


def _refusal(delivery: WebhookDelivery, now: dt.datetime) -> str:
    """Why this delivery may not go out any more (stored in the log in the active language, like every error)."""
    hook = delivery.webhook
    if not hook.active and not delivery.is_ping:
        return _("The webhook is switched off.")
    if not hook.owner.is_active:
        return _("The webhook's owner account is deactivated.")
    if not _token_live(hook, now):
        return _("The API token the webhook was registered with is revoked or expired.")
    if (
        delivery.case_id is not None
        and not policy.visible_cases(hook.owner).filter(pk=delivery.case_id).exists()
    ):
        return _("The webhook's owner may no longer see this case.")
    return ""


def delivery_send(*, delivery_id: int, now: dt.datetime | None = None) -> str:
    """One attempt at one delivery, if it is due and nobody else holds it. Returns the status
    it ended in, or ``""`` when it was not this call's to send."""
    now = now or timezone.now()
    lease = _claim(delivery_id, now)
    if lease is None:
        return ""
    delivery = (
        WebhookDelivery.objects.select_related("webhook", "webhook__owner", "webhook__api_token")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None:  # the webhook was deleted meanwhile, its log with it
        return ""
    refusal = _refusal(delivery, now)
    if refusal:
        # Not a call: the attempt the claim counted is taken back.
        _finish(
            delivery,
            lease,
            status=DeliveryStatus.GAVE_UP,
            last_error=refusal,
            next_attempt_at=None,
            attempts=F("attempts") - 1,
        )
        return str(DeliveryStatus.GAVE_UP)
    body = delivery.payload.encode("utf-8")
    answer = transport.post(delivery.webhook.url, body, headers_for(delivery, body, now=now))
    outcome = {
        "last_status_code": answer.status,
        "response_excerpt": answer.excerpt,
        "duration_ms": answer.duration_ms,
    }
    if answer.ok:
        _finish(
            delivery,
            lease,
            status=DeliveryStatus.SUCCEEDED,
            delivered_at=now,
            next_attempt_at=None,
            last_error="",
            **outcome,
        )
        if not delivery.is_ping:
            Webhook.objects.filter(pk=delivery.webhook_id).update(
                failure_count=0, last_success_at=now
            )
        return str(DeliveryStatus.SUCCEEDED)
    # A test ping is tried once: its answer is for the person who pressed the button.
    limit = 1 if delivery.is_ping else max_attempts()
    if delivery.attempts >= limit:
        status, next_at = DeliveryStatus.GAVE_UP, None
    else:
        status, next_at = DeliveryStatus.FAILED, now + backoff(delivery.attempts)
    _finish(
        delivery, lease, status=status, next_attempt_at=next_at, last_error=answer.error, **outcome
    )
    log.warning(
        "webhook %s: %s attempt %d failed: %s",
        delivery.webhook_id,
        delivery.uuid,
        delivery.attempts,
        answer.error,
    )
    if not delivery.is_ping:
        _count_failure(delivery.webhook_id, now)
    if next_at is not None:
        _schedule_retry(delivery.pk, next_at)
    return str(status)


def _count_failure(webhook_id: int, now: dt.datetime) -> None:
    Webhook.objects.filter(pk=webhook_id).update(
        failure_count=F("failure_count") + 1, last_failure_at=now
    )
    switched_off = Webhook.objects.filter(
        pk=webhook_id, active=True, failure_count__gte=disable_after()
    ).update(active=False, disabled_at=now, disabled_reason=DisabledReason.FAILURES)
    if switched_off:
        log.warning(
            "webhook %s switched off after %d failed calls in a row", webhook_id, disable_after()
        )
        give_up_outstanding(
            webhook_id, _("The webhook was switched off after too many failed calls in a row.")
        )


def give_up_outstanding(webhook_id: int, reason: str) -> int:
    """A webhook switched off sends nothing more: what waited is given up (each can be redelivered)."""
    return (
        WebhookDelivery.objects.filter(
            webhook_id=webhook_id,
            status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED],
            claimed_until__isnull=True,
        )
        .exclude(event_name=PING)
        .update(status=DeliveryStatus.GAVE_UP, next_attempt_at=None, last_error=reason)
    )


def _schedule_retry(delivery_id: int, at: dt.datetime) -> None:
    """On a queue that can defer jobs (the database backend) the retry is a job of its own;
    elsewhere ``webhook_deliveries_retry`` picks it up."""
    from .tasks import webhook_deliver

    if webhook_deliver.get_backend().supports_defer:
        webhook_deliver.using(run_after=at).enqueue(delivery_id=delivery_id)


def webhook_deliveries_retry(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Send what is due: failed deliveries whose time has come, fresh ones the queue did not
    take within a minute, and those a dead worker held. Safe next to running workers (each
    send claims its row). Called by the worker every minute; returns how many were attempted."""
    now = now or timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)
    due = (
        WebhookDelivery.objects.filter(free)
        .filter(
            Q(status=DeliveryStatus.FAILED, next_attempt_at__lte=now)
            | Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now - QUEUE_GRACE)
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(bool(delivery_send(delivery_id=pk, now=now)) for pk in list(due))
