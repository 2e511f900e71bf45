"""Who hears about what happens to a case."""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db.models import Q
from django.utils.translation import gettext as _

from civicloop.cases.models import Case, CaseEvent, EventKind
from civicloop.org.models import Role, User

from .models import Notice, NoticeKind


def _area_staff(case: Case, roles: set[str]) -> Iterable[User]:
    ids = [int(x) for x in case.area_path.strip("/").split("/") if x]
    return User.objects.filter(roles__role__in=roles, roles__area_id__in=ids, is_active=True).distinct()


def _unit_staff(case: Case) -> Iterable[User]:
    if case.unit is None:
        return User.objects.none()
    ancestors = [int(x) for x in case.unit.path.strip("/").split("/") if x]
    return User.objects.filter(roles__role=Role.UNIT_STAFF, roles__unit_id__in=ancestors, is_active=True).distinct()


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


RECIPIENTS = {
    EventKind.DISPATCHED: "unit",
    EventKind.REASSIGNED: "unit",
    EventKind.URGED: "unit",
    EventKind.ESCALATED: "unit",
    EventKind.REWORK: "unit",
    EventKind.EXTENSION_APPROVED: "unit",
    EventKind.EXTENSION_DENIED: "unit",
    EventKind.RETURNED: "dispatchers",
    EventKind.EXTENSION_REQUESTED: "dispatchers",
    EventKind.FEEDBACK: "verifiers",
}


def notices_for_event(*, case_id: int, event_id: int) -> int:
    """Write the in-app notices an event calls for; idempotent. Returns how many were new."""
    event = CaseEvent.objects.select_related("case", "case__unit").filter(pk=event_id, case_id=case_id).first()
    if event is None:
        return 0
    case = event.case
    who = RECIPIENTS.get(EventKind(event.kind))
    if who == "unit":
        users = _unit_staff(case)
    elif who == "dispatchers":
        users = _area_staff(case, {Role.DISPATCHER})
    elif who == "verifiers":
        users = _area_staff(case, {Role.GRID_WORKER})
    else:
        return 0
    text = _("%(ticket)s · %(what)s") % {"ticket": case.ticket_no, "what": event.get_kind_display()}
    return notice_send(users=users, case=case, kind=NoticeKind.CASE_EVENT, key=f"event:{event.pk}", text=text)


def notice_send(*, users: Iterable[User], case: Case, kind: str, key: str, text: str) -> int:
    created = 0
    for user in users:
        if event_is_actor(user, case, key):
            continue
        _, new = Notice.objects.get_or_create(recipient=user, case=case, key=key, defaults={"kind": kind, "text": text[:300]})
        created += int(new)
    return created


def event_is_actor(user: User, case: Case, key: str) -> bool:
    """Nobody is told about what he did himself."""
    if not key.startswith("event:"):
        return False
    return CaseEvent.objects.filter(pk=int(key.split(":", 1)[1]), actor=user).exists()


def unit_staff_for(case: Case) -> Iterable[User]:
    return _unit_staff(case)


def area_staff_for(case: Case, roles: set[str]) -> Iterable[User]:
    return _area_staff(case, roles)


def unread_count(user: User) -> int:
    return Notice.objects.filter(Q(recipient=user), read_at__isnull=True).count()



