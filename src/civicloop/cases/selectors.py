"""Reads of cases. Staff lists start from ``org.policy.visible_cases``; the public
view by ticket number shows nobody's identity."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import BooleanField, Count, Q, QuerySet, Value, When
from django.db.models import Case as When_
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civicloop.core.errors import NotFoundOrForbidden
from civicloop.core.tickets import ticket_is_wellformed
from civicloop.org import policy

from .models import Case, CaseEvent, EventKind, Photo, PhotoKind, Report, State
from .workflow import CLOCK_RUNNING, CLOSED_STATES, DISCARDED_STATES, OPEN_STATES


def overdue_q(now: dt.datetime | None = None) -> Q:
    """Overdue, computed from the deadline: right whether or not the worker ran."""
    return Q(state__in=list(CLOCK_RUNNING), deadline_at__lt=now or timezone.now())


def with_overdue(qs: QuerySet[Case], now: dt.datetime | None = None) -> QuerySet[Case]:
    return qs.annotate(
        is_overdue=When_(When(overdue_q(now), then=Value(True)), default=Value(False), output_field=BooleanField())
    )


def is_overdue(case: Case, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    return case.state in CLOCK_RUNNING and case.deadline_at is not None and case.deadline_at < now


def case_text_q(text: str) -> Q:
    """Free-text search of the case lists (web and API): ticket (the case's or any reporter's),
    description, address."""
    return (
        Q(ticket_no__icontains=text)
        | Q(description__icontains=text)
        | Q(address__icontains=text)
        | Q(pk__in=Report.objects.filter(ticket_no=text).values("case_id"))
    )


def case_list(*, user: Any, state: str | None = None, overdue: bool | None = None, area_path: str | None = None,
              category_code: str | None = None, source: str | None = None, since: dt.datetime | None = None,
              until: dt.datetime | None = None, now: dt.datetime | None = None) -> QuerySet[Case]:
    qs = policy.visible_cases(user).select_related("category", "grid", "unit")
    if state:
        qs = qs.filter(state=state)
    if area_path:
        qs = qs.filter(area_path__startswith=area_path)
    if category_code:
        qs = qs.filter(category__code=category_code)
    if source:
        qs = qs.filter(source=source)
    if since:
        qs = qs.filter(reported_at__gte=since)
    if until:
        qs = qs.filter(reported_at__lt=until)
    qs = with_overdue(qs, now)
    if overdue is not None:
        qs = qs.filter(is_overdue=overdue)
    return qs


def case_get(*, user: Any, case_id: int) -> Case:
    return policy.access_case(user, case_id)


def case_timeline(*, case: Case) -> QuerySet[CaseEvent]:
    return case.events.select_related("actor", "actor_unit").prefetch_related("photos")


def nearby_open_cases(*, category_id: int, lat: float, lon: float, now: dt.datetime | None = None) -> list[tuple[Case, float]]:
    """What a reporter sees before submitting: open cases of that category nearby."""
    from .actions import duplicate_candidates
    from .models import Category

    category = Category.objects.filter(pk=category_id).first()
    if category is None:
        return []
    return duplicate_candidates(category=category, lat=lat, lon=lon, at=now)


# ---- the public view by ticket number ------------------------------------------------


PUBLIC_EVENTS = {
    EventKind.REPORTED: gettext_lazy("Your report was received."),
    EventKind.REPORTER_JOINED: gettext_lazy("Another resident reported the same problem."),
    EventKind.REGISTERED: gettext_lazy("Registered as a case."),
    EventKind.REJECTED: gettext_lazy("Not registered."),
    EventKind.VOIDED: gettext_lazy("Voided."),
    EventKind.DISPATCHED: gettext_lazy("Sent to the unit responsible."),
    EventKind.REASSIGNED: gettext_lazy("Sent to another unit."),
    EventKind.ACCEPTED: gettext_lazy("The unit is working on it."),
    EventKind.RETURNED: gettext_lazy("Being routed to the right unit."),
    EventKind.FEEDBACK: gettext_lazy("The unit reports it fixed; awaiting an on-site check."),
    EventKind.VERIFIED: gettext_lazy("Checked on site and closed."),
    EventKind.REWORK: gettext_lazy("The on-site check found it not fixed; sent back to the unit."),
    EventKind.EXTENSION_APPROVED: gettext_lazy("The deadline was extended."),
    EventKind.DEFERRED: gettext_lazy("Put on hold."),
    EventKind.RESUMED: gettext_lazy("Work resumed."),
    EventKind.URGED: gettext_lazy("The unit was urged to act."),
    EventKind.ESCALATED: gettext_lazy("Escalated to a higher level."),
    EventKind.RATED: gettext_lazy("Rated by a resident."),
    EventKind.LOOKBACK_PASSED: gettext_lazy("Look-back: still fixed."),
    EventKind.LOOKBACK_FAILED: gettext_lazy("Look-back: the problem came back; a new case was opened."),
}


@dataclass
class PublicStep:
    at: dt.datetime
    kind: str
    text: str
    note: str


@dataclass
class PublicCase:
    ticket_no: str
    case_ticket_no: str
    state: str
    state_label: str
    category: str
    description: str
    address: str
    reported_at: dt.datetime
    unit_name: str
    deadline_at: dt.datetime | None
    deadline_estimated: bool
    overdue: bool
    closed: bool
    rating: str
    steps: list[PublicStep] = field(default_factory=list)
    before: list[Photo] = field(default_factory=list)
    after: list[Photo] = field(default_factory=list)


# Notes written by staff for these events are for the resident too; others stay internal.
PUBLIC_NOTES = {EventKind.REJECTED, EventKind.FEEDBACK, EventKind.REWORK, EventKind.LOOKBACK_FAILED}


def public_case_by_ticket(*, ticket_no: str, now: dt.datetime | None = None) -> PublicCase:
    """A case as its reporter follows it without an account. No identities, no contacts."""
    ticket_no = (ticket_no or "").strip()
    report = None
    if ticket_is_wellformed(ticket_no):
        report = Report.objects.select_related("case", "case__category", "case__unit").filter(ticket_no=ticket_no).first()
    if report is None:
        raise NotFoundOrForbidden(_("No case has the ticket number “%(ticket)s”.") % {"ticket": ticket_no})
    case = report.case
    steps = [
        PublicStep(at=e.created_at, kind=e.kind, text=str(PUBLIC_EVENTS[EventKind(e.kind)]), note=e.note if e.kind in PUBLIC_NOTES else "")
        for e in case.events.order_by("created_at", "id")
        if e.kind in PUBLIC_EVENTS
    ]
    photos = list(case.photos.order_by("created_at", "id"))
    return PublicCase(
        ticket_no=ticket_no,
        case_ticket_no=case.ticket_no,
        state=case.state,
        state_label=case.get_state_display(),
        category=f"{case.category.big_name} · {case.category.name}",
        description=report.description,
        address=case.address,
        reported_at=report.created_at,
        unit_name=case.unit.name if case.unit else "",
        deadline_at=case.deadline_at,
        deadline_estimated=case.deadline_estimated,
        overdue=is_overdue(case, now),
        closed=case.state in CLOSED_STATES,
        rating=case.rating,
        steps=steps,
        before=[p for p in photos if p.kind == PhotoKind.BEFORE],
        after=[p for p in photos if p.kind in {PhotoKind.AFTER, PhotoKind.VERIFY}],
    )


def public_stats(now: dt.datetime | None = None) -> dict[str, int]:
    """City-wide counts for the front page (no personal data)."""
    now = now or timezone.now()
    agg = Case.objects.aggregate(
        total=Count("pk"),
        open=Count("pk", filter=Q(state__in=list(OPEN_STATES))),
        closed=Count("pk", filter=Q(state__in=list(CLOSED_STATES))),
        discarded=Count("pk", filter=Q(state__in=list(DISCARDED_STATES))),
        overdue=Count("pk", filter=overdue_q(now)),
        last_30_days=Count("pk", filter=Q(reported_at__gte=now - dt.timedelta(days=30))),
    )
    return {k: int(v or 0) for k, v in agg.items()}


def state_counts(*, user: Any) -> dict[str, int]:
    rows = policy.visible_cases(user).values("state").annotate(n=Count("pk"))
    counts = {s.value: 0 for s in State}
    counts.update({r["state"]: r["n"] for r in rows})
    return counts
