"""Who hears about what happens to a case, and how the news reaches them.

A case event (written by ``cases.actions``, handed over on commit through the
``notify_case_event`` task) or a sweep finding (deadline near, look-back due) is
turned into:

* in-app ``Notice`` rows for staff (channel ``"inapp"``), and
* ``Delivery`` rows, one per recipient and external channel (e-mail, SMS, WeChat),
  rendered in the recipient's language, then sent one by one by the ``deliver`` task.

Both are unique per recipient + case + key, so re-running a job or a sweep tells
nobody twice. Staff hear about their own work (``STAFF``); residents who left an
e-mail address or phone number hear about their report in plain words (``RESIDENTS``).
Nobody is told about what he did himself.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation

from civicloop.cases.models import Case, CaseEvent, EventKind, Source
from civicloop.org.models import Role, Unit, User

from .channels import INAPP, Message, Recipient, enabled_channels, external_channels, sender_for
from .compose import Content, Topic, compose, render
from .models import Delivery, DeliveryStatus, Notice, NoticeKind

log = logging.getLogger("civicloop.notifications")


# ---- muting (the demo replays history) ---------------------------------------------------

_muted: contextvars.ContextVar[bool] = contextvars.ContextVar("civicloop_notices_muted", default=False)


@contextmanager
def muted() -> Iterator[None]:
    """No notices inside (the demo generator replays half a year of history)."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def is_muted() -> bool:
    return _muted.get()


# ---- audiences ---------------------------------------------------------------------------


def _path_ids(path: str) -> list[int]:
    return [int(x) for x in path.strip("/").split("/") if x]


def _area_staff(case: Case, roles: set[str]) -> Iterable[User]:
    """Staff with one of ``roles`` bound to the case's grid or any area above it."""
    return User.objects.filter(roles__role__in=roles, roles__area_id__in=_path_ids(case.area_path), is_active=True).distinct()


def _staff_of_units(units: Iterable[Unit]) -> Iterable[User]:
    """Staff of the units and of the units above them (a bureau hears about its offices' cases)."""
    ids = {pk for unit in units for pk in _path_ids(unit.path)}
    if not ids:
        return User.objects.none()
    return User.objects.filter(roles__role=Role.UNIT_STAFF, roles__unit_id__in=ids, is_active=True).distinct()


def _unit_staff(case: Case) -> Iterable[User]:
    return _staff_of_units([case.unit]) if case.unit is not None else User.objects.none()


def unit_staff_for(case: Case) -> Iterable[User]:
    return _unit_staff(case)


def area_staff_for(case: Case, roles: set[str]) -> Iterable[User]:
    return _area_staff(case, roles)


def _setting(name: str, default: Any) -> Any:
    return dict(settings.CIVICLOOP).get(name, default)


def _default_language() -> str:
    return str(_setting("NOTIFY_DEFAULT_LANGUAGE", "zh-hans"))


def _staff(user: User, case: Case) -> Recipient:
    return Recipient(user=user, email=user.email, phone=user.phone, language=user.language or _default_language(),
                     ticket_no=case.ticket_no, name=user.display_name or user.username)


def _mailbox(unit: Unit, case: Case) -> Recipient | None:
    """A unit's shared mailbox (Unit.email) hears what its staff hear, by e-mail only."""
    if not unit.email:
        return None
    return Recipient(user=None, email=unit.email, phone="", language=_default_language(), ticket_no=case.ticket_no, name=unit.name)


def residents_of(case: Case) -> list[Recipient]:
    """Reporters of the case who can be reached: the e-mail or phone a report left, or the
    account of a resident who reported while logged in. Each follows his own ticket."""
    found: list[Recipient] = []
    for report in case.reports.select_related("reporter").order_by("created_at", "id"):
        user = report.reporter if report.reporter is not None and report.reporter.is_active else None
        own = user if user is not None and report.source == Source.RESIDENT else None
        email = report.email or (own.email if own is not None else "")
        phone = report.phone or (own.phone if own is not None else "")
        if not email and not phone:
            continue
        language = (user.language if user is not None else "") or _default_language()
        name = report.name or (own.display_name if own is not None else "")
        found.append(Recipient(user=own, email=email, phone=phone, language=language, ticket_no=report.ticket_no,
                               name=name, resident=True))
    return found


@dataclass
class Plan:
    """Who is told about one event, what, as which notice kind, and whether beyond in-app."""

    topic: Topic
    users: Iterable[User]
    kind: str = NoticeKind.CASE_EVENT
    external: bool = False  # also e-mail / SMS / WeChat
    mailboxes: tuple[Unit, ...] = ()


def _units(ids: Iterable[object]) -> list[Unit]:
    return list(Unit.objects.filter(pk__in=[int(str(i)) for i in ids], active=True))


def staff_plans(event: CaseEvent) -> list[Plan]:
    """Staff who hear about an event. E-mail (and other channels) for the news they must
    act on: a case for their unit, overdue, returned, escalated; in-app for the rest."""
    case, kind, data = event.case, EventKind(event.kind), event.data or {}
    unit = (case.unit,) if case.unit is not None else ()
    if kind == EventKind.DISPATCHED:
        co = _units(data.get("co_units", []))
        plans = [Plan(Topic.DISPATCHED, _unit_staff(case), external=True, mailboxes=unit)]
        if co:
            plans.append(Plan(Topic.CO_UNIT, _staff_of_units(co), external=True, mailboxes=tuple(co)))
        return plans
    if kind == EventKind.REASSIGNED:
        return [Plan(Topic.DISPATCHED, _unit_staff(case), external=True, mailboxes=unit)]
    if kind == EventKind.CO_UNIT_ADDED:
        co = _units([data["unit"]]) if data.get("unit") else []
        return [Plan(Topic.CO_UNIT, _staff_of_units(co), external=True, mailboxes=tuple(co))]
    if kind == EventKind.URGED and event.actor_id is None:
        # The worker urges once when the deadline passes: that is the overdue notice.
        return [Plan(Topic.OVERDUE, _unit_staff(case), NoticeKind.OVERDUE, external=True, mailboxes=unit)]
    if kind == EventKind.ESCALATED:
        area_id = int(data.get("area") or case.escalated_to_id or 0)
        supervisors = User.objects.filter(roles__role__in=[Role.LEADER, Role.DISPATCHER], roles__area_id=area_id, is_active=True).distinct()
        return [
            Plan(Topic.ESCALATED, _unit_staff(case), NoticeKind.ESCALATED, external=True, mailboxes=unit),
            Plan(Topic.ESCALATED, supervisors, NoticeKind.ESCALATED, external=True),
        ]
    if kind == EventKind.RETURNED:
        return [Plan(Topic.RETURNED, _area_staff(case, {Role.DISPATCHER}), NoticeKind.RETURNED, external=True)]
    if kind in {EventKind.URGED, EventKind.REWORK, EventKind.EXTENSION_APPROVED, EventKind.EXTENSION_DENIED}:
        return [Plan(Topic.EVENT, _unit_staff(case))]
    if kind == EventKind.EXTENSION_REQUESTED:
        return [Plan(Topic.EVENT, _area_staff(case, {Role.DISPATCHER}))]
    if kind == EventKind.FEEDBACK:
        return [Plan(Topic.EVENT, _area_staff(case, {Role.GRID_WORKER}))]
    return []


# What a reporter is told, in plain words. Nothing else reaches residents.
RESIDENTS = {
    EventKind.REGISTERED: Topic.REGISTERED,
    EventKind.REJECTED: Topic.REJECTED,
    EventKind.VOIDED: Topic.VOIDED,
    EventKind.DISPATCHED: Topic.SENT_TO_UNIT,
    EventKind.FEEDBACK: Topic.HANDLED,
    EventKind.VERIFIED: Topic.CLOSED,  # with the rating request and the ticket's link
    EventKind.LOOKBACK_PASSED: Topic.LOOKBACK_PASSED,
    EventKind.LOOKBACK_FAILED: Topic.LOOKBACK_FAILED,
}


# ---- writing notices and deliveries ------------------------------------------------------


@dataclass
class Outcome:
    notices: int = 0
    deliveries: list[int] = field(default_factory=list)


def _tell(recipient: Recipient, *, topic: Topic, case: Case, event: CaseEvent | None, key: str, kind: str,
          external: bool, outcome: Outcome, fallback_text: str = "") -> None:
    """One recipient: the in-app notice (staff with an account) and, if asked, one delivery per channel."""
    channels = enabled_channels()
    with translation.override(recipient.language):
        content = compose(topic, case=case, recipient=recipient, event=event)
        line = content.line or fallback_text
        if recipient.user is not None and not recipient.resident and INAPP in channels:
            _, new = Notice.objects.get_or_create(recipient=recipient.user, case=case, key=key, defaults={"kind": kind, "text": line[:300]})
            outcome.notices += int(new)
        if external:
            _deliveries(recipient, content, case=case, key=key, outcome=outcome)


def _deliveries(recipient: Recipient, content: Content, *, case: Case, key: str, outcome: Outcome) -> None:
    rendered: tuple[str, str] | None = None
    for channel in external_channels():
        sender = sender_for(channel)
        address = sender.address(recipient).strip()
        if not address:
            continue  # no e-mail address, no phone: in-app only
        if rendered is None:
            rendered = render(content, recipient=recipient)
        text, html = rendered
        delivery, new = Delivery.objects.get_or_create(
            channel=channel, address=address[:254], case=case, key=key,
            defaults={
                "recipient": recipient.user, "language": recipient.language, "subject": content.subject[:200],
                "text": text, "html": html, "short": f"{content.line} {content.link}"[:300], "link": content.link[:500],
            },
        )
        if new:
            outcome.deliveries.append(delivery.pk)


def _send_on_commit(ids: list[int]) -> None:
    """Sending is the ``deliver`` task's job, after the rows are committed: never inside a case's transaction."""
    if not ids:
        return
    from .tasks import deliver

    def enqueue() -> None:
        for pk in ids:
            deliver.enqueue(delivery_id=pk)

    transaction.on_commit(enqueue, robust=True)


def notices_for_event(*, case_id: int, event_id: int) -> int:
    """Write the notices and deliveries an event calls for; idempotent. Returns how many notices were new."""
    event = (
        CaseEvent.objects.select_related("case", "case__unit", "case__category", "actor_unit")
        .filter(pk=event_id, case_id=case_id)
        .first()
    )
    if event is None:
        return 0
    case, key = event.case, f"event:{event.pk}"
    outcome = Outcome()
    with transaction.atomic():
        told: set[int] = set()
        for plan in staff_plans(event):
            for user in plan.users:
                if user.pk == event.actor_id or user.pk in told:
                    continue
                told.add(user.pk)
                _tell(_staff(user, case), topic=plan.topic, case=case, event=event, key=key, kind=plan.kind,
                      external=plan.external, outcome=outcome)
            if plan.external:
                for unit in plan.mailboxes:
                    box = _mailbox(unit, case)
                    if box is not None:
                        _tell(box, topic=plan.topic, case=case, event=event, key=key, kind=plan.kind, external=True, outcome=outcome)
        topic = RESIDENTS.get(EventKind(event.kind))
        if topic is not None:
            for resident in residents_of(case):
                if resident.user is not None and resident.user.pk == event.actor_id:
                    continue
                _tell(resident, topic=topic, case=case, event=event, key=key, kind=NoticeKind.CASE_EVENT,
                      external=True, outcome=outcome)
        _send_on_commit(outcome.deliveries)
    return outcome.notices


# Sweep findings with their own wording, and whether they go beyond in-app.
SWEEP_TOPICS = {
    NoticeKind.DEADLINE_NEAR: (Topic.DEADLINE_NEAR, True),
    NoticeKind.LOOKBACK_DUE: (Topic.LOOKBACK_DUE, False),
}


def notice_send(*, users: Iterable[User], case: Case, kind: str, key: str, text: str = "") -> int:
    """Tell staff about a sweep finding (deadline near, look-back due); idempotent on ``key``.

    Kinds in ``SWEEP_TOPICS`` are written in each recipient's language (``text`` is
    only the fallback), and a near deadline is also sent by e-mail and the other
    channels. Returns how many in-app notices were new.
    """
    topic, external = SWEEP_TOPICS.get(NoticeKind(kind), (Topic.EVENT, False))
    outcome = Outcome()
    with transaction.atomic():
        for user in users:
            if event_is_actor(user, case, key):
                continue
            if topic == Topic.EVENT:
                _, new = Notice.objects.get_or_create(recipient=user, case=case, key=key, defaults={"kind": kind, "text": text[:300]})
                outcome.notices += int(new)
                continue
            _tell(_staff(user, case), topic=topic, case=case, event=None, key=key, kind=kind, external=external,
                  outcome=outcome, fallback_text=text)
        if external and case.unit is not None:
            box = _mailbox(case.unit, case)
            if box is not None:
                _tell(box, topic=topic, case=case, event=None, key=key, kind=kind, external=True, outcome=outcome)
        _send_on_commit(outcome.deliveries)
    return outcome.notices


def event_is_actor(user: User, case: Case, key: str) -> bool:
    """Nobody is told about what he did himself."""
    if not key.startswith("event:"):
        return False
    return CaseEvent.objects.filter(pk=int(key.split(":", 1)[1]), actor=user).exists()


def unread_count(user: User) -> int:
    return Notice.objects.filter(Q(recipient=user), read_at__isnull=True).count()


# ---- sending -----------------------------------------------------------------------------


def _max_attempts() -> int:
    return int(_setting("NOTIFY_MAX_ATTEMPTS", 6))


def _backoff(attempts: int) -> dt.timedelta:
    """Minutes before the next try: the base, doubled after each failure, capped at a day."""
    base = float(_setting("NOTIFY_RETRY_MINUTES", 5))
    return dt.timedelta(minutes=min(base * 2 ** max(0, attempts - 1), 24 * 60))


def delivery_send(*, delivery_id: int, now: dt.datetime | None = None) -> str:
    """Send one delivery if it is due and nobody else holds it; record the outcome.

    The claim is a conditional UPDATE (pending/retry and due → sending), so two
    workers never send the same message. A failure is recorded with the error and a
    later time to try again; after ``NOTIFY_MAX_ATTEMPTS`` the delivery is given up.
    Returns the status it ended in (or ``""`` when it was not this call's to send).
    """
    now = now or timezone.now()
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    claimed = (
        Delivery.objects.filter(due, pk=delivery_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRY])
        .update(status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, claimed_at=now)
    )
    if not claimed:
        return ""
    delivery = Delivery.objects.select_related("case").get(pk=delivery_id)
    message = Message(to=delivery.address, subject=delivery.subject, text=delivery.text, html=delivery.html,
                      short=delivery.short, ticket=delivery.case.ticket_no, link=delivery.link)
    try:
        sender_for(delivery.channel).send(message)
    except Exception as exc:  # any failure of a gateway is recorded, never raised into a case change
        delivery.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if delivery.attempts >= _max_attempts():
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.RETRY, now + _backoff(delivery.attempts)
        delivery.save(update_fields=["status", "last_error", "next_attempt_at"])
        log.warning("%s to %s failed (attempt %d): %s", delivery.channel, delivery.address, delivery.attempts, delivery.last_error)
        if delivery.next_attempt_at is not None:
            _schedule_retry(delivery)
        return str(delivery.status)
    delivery.status, delivery.sent_at, delivery.next_attempt_at = DeliveryStatus.SENT, now, None
    delivery.save(update_fields=["status", "sent_at", "next_attempt_at"])
    return str(delivery.status)


def _schedule_retry(delivery: Delivery) -> None:
    """On a queue that can defer jobs (the database backend), the retry is a job of its own;
    elsewhere ``deliveries_retry`` picks it up."""
    from .tasks import deliver

    if deliver.get_backend().supports_defer:
        deliver.using(run_after=delivery.next_attempt_at).enqueue(delivery_id=delivery.pk)


# A delivery claimed this long ago and never finished belongs to a worker that died.
STALE_CLAIM = dt.timedelta(minutes=15)


def deliveries_retry(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Send what is due again: failed deliveries whose time has come, and those a dead worker
    left half-done. Idempotent, safe next to running workers. Returns how many were sent."""
    now = now or timezone.now()
    Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=now - STALE_CLAIM).update(status=DeliveryStatus.RETRY, next_attempt_at=now)
    due = Delivery.objects.filter(
        Q(status=DeliveryStatus.RETRY, next_attempt_at__lte=now)
        | Q(status=DeliveryStatus.PENDING, created_at__lt=now - dt.timedelta(minutes=1))
    ).order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit]
    return sum(delivery_send(delivery_id=pk, now=now) == DeliveryStatus.SENT for pk in list(due))
