"""Performance figures of the case loop (综合评价): counts in the database, rates by the standard.

The rates are those of GB/T 30428.4 (数字化城市管理信息系统 第4部分：绩效评价), as
summarised in shared/STANDARDS.md, "Evaluation (GB/T 30428.4 / CJ/T 292 style)":

* 结案率 (closure rate)            = 结案数 / 应结案数
* 按期结案率 (on-time closure rate) = 按期结案数 / 应结案数
* 处置率 (handling rate)           = 处置数 / 应处置数
* 按期处置率 (on-time handling)     = 按期处置数 / 应处置数
* 返工率 (rework rate)             = 返工数 / 处置数

Note that the on-time closure rate divides by the cases *due* (应结案数), not by the
cases closed: a city's published figures (应结案 972, 结案 911, 按期结案 737 →
93.72 % and 75.82 %) only come out that way.

The standard names the counts but leaves how a system finds them to the system. Here,
for a period ``[start, end)``:

* 上报数 ``received``: cases reported in the period (a report that joined an open case
  is no new case).
* 立案数 ``registered``: cases registered in the period.
* 结案数 ``closed``: cases closed (verified on the spot) in the period; 按期结案数
  ``closed_on_time``: those closed by their deadline (``Case.closed_on_time``).
* 应结案数 ``due_closure``: the cases that had to be closed by the end of the period:
  those closed in it, and those still unclosed at its end (dispatched, being handled
  or handled but not yet verified) whose deadline had passed. A case deferred (缓办)
  or returned (退回) at the end of the period has no running clock and is not due.
* 处置数 ``handled``: cases the unit reported handled (处理反馈) in the period;
  按期处置数 ``handled_on_time``: those with a report-back in the period by their
  deadline.
* 应处置数 ``due_handling``: cases handled in the period, and cases still not reported
  handled at its end (dispatched or being handled) whose deadline had passed.
* 返工数 ``reworked``: cases handled in the period that verification sent back for
  rework (返工) in the period, so 返工率 ≤ 100 %.

"At the end of the period" is read from the timeline: a case's state then is the
state its last event before the end led to (events are immutable). Deadlines are the
current ones (an extension approved after the period moves them).

Satisfaction is the share of ratings given in the period that say satisfied or
basically satisfied (满意 + 基本满意); the 12345 hotline's weighted 满意率 (basically
satisfied counted 0.9) is a different figure and not computed here.

Every count is one aggregate SQL query over a scoped queryset (start from
``org.policy.visible_cases``); no case is loaded into Python. The division is done by
the functions below, so each formula has exactly one home.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncDate

from .models import Case, CaseEvent, EventKind, Rating, State

HUNDRED = Decimal(100)
CENT = Decimal("0.01")

# States whose case still had to be closed (clock running or awaiting verification).
UNCLOSED_DUE_STATES = (State.DISPATCHED, State.IN_PROGRESS, State.HANDLED)
# States whose case still had to be handled (the unit had not reported back).
UNHANDLED_DUE_STATES = (State.DISPATCHED, State.IN_PROGRESS)


# ---- the formulas ----------------------------------------------------------------


def percentage(part: int, whole: int) -> Decimal | None:
    """``part / whole`` in per cent, two decimals, half up; ``None`` when ``whole`` is 0.

    ``None`` (no cases to measure) is shown as "—", never as 0 % or 100 %.
    """
    if not whole:
        return None
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(CENT, rounding=ROUND_HALF_UP)


def closure_rate(*, closed: int, due: int) -> Decimal | None:
    """结案率 = 结案数 / 应结案数 (GB/T 30428.4; shared/STANDARDS.md)."""
    return percentage(closed, due)


def on_time_closure_rate(*, closed_on_time: int, due: int) -> Decimal | None:
    """按期结案率 = 按期结案数 / 应结案数 (GB/T 30428.4; shared/STANDARDS.md).

    The denominator is the cases due, not the cases closed: 737 on time of 972 due
    (911 closed) is 75.82 %.
    """
    return percentage(closed_on_time, due)


def handling_rate(*, handled: int, due: int) -> Decimal | None:
    """处置率 = 处置数 / 应处置数 (GB/T 30428.4, handling unit; shared/STANDARDS.md)."""
    return percentage(handled, due)


def on_time_handling_rate(*, handled_on_time: int, due: int) -> Decimal | None:
    """按期处置率 = 按期处置数 / 应处置数 (GB/T 30428.4, handling unit; shared/STANDARDS.md)."""
    return percentage(handled_on_time, due)


def rework_rate(*, reworked: int, handled: int) -> Decimal | None:
    """返工率 = 返工数 / 处置数 (GB/T 30428.4, handling unit; shared/STANDARDS.md)."""
    return percentage(reworked, handled)


def satisfaction_rate(*, satisfied: int, rated: int) -> Decimal | None:
    """Share of ratings that are satisfied or basically satisfied (满意 + 基本满意)."""
    return percentage(satisfied, rated)


# ---- the counts ---------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """The counts of one period and scope, with the standard's rates as properties."""

    received: int = 0
    registered: int = 0
    due_closure: int = 0
    closed: int = 0
    closed_on_time: int = 0
    due_handling: int = 0
    handled: int = 0
    handled_on_time: int = 0
    reworked: int = 0
    rated: int = 0
    satisfied: int = 0

    @property
    def closure_rate(self) -> Decimal | None:
        return closure_rate(closed=self.closed, due=self.due_closure)

    @property
    def on_time_closure_rate(self) -> Decimal | None:
        return on_time_closure_rate(closed_on_time=self.closed_on_time, due=self.due_closure)

    @property
    def handling_rate(self) -> Decimal | None:
        return handling_rate(handled=self.handled, due=self.due_handling)

    @property
    def on_time_handling_rate(self) -> Decimal | None:
        return on_time_handling_rate(handled_on_time=self.handled_on_time, due=self.due_handling)

    @property
    def rework_rate(self) -> Decimal | None:
        return rework_rate(reworked=self.reworked, handled=self.handled)

    @property
    def satisfaction_rate(self) -> Decimal | None:
        return satisfaction_rate(satisfied=self.satisfied, rated=self.rated)


CASE_COUNTS = ("received", "registered", "due_closure", "closed", "closed_on_time", "due_handling", "handled", "handled_on_time", "reworked")


def _events(kind: str, start: dt.datetime, end: dt.datetime) -> QuerySet[CaseEvent]:
    return CaseEvent.objects.filter(case=OuterRef("pk"), kind=kind, created_at__gte=start, created_at__lt=end)


def _relevant(cases: QuerySet[Case], start: dt.datetime, end: dt.datetime) -> QuerySet[Case]:
    """Cases that can count in ``[start, end)``, with the per-case facts the counts need."""
    state_at_end = Subquery(
        CaseEvent.objects.filter(case=OuterRef("pk"), created_at__lt=end).order_by("-created_at", "-id").values("to_state")[:1]
    )
    feedback = _events(EventKind.FEEDBACK, start, end)
    return (
        cases.filter(reported_at__lt=end)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=start))
        .alias(
            state_at_end=state_at_end,
            fed_back=Exists(feedback),
            fed_back_on_time=Exists(feedback.filter(created_at__lte=OuterRef("deadline_at"))),
            reworked_in=Exists(_events(EventKind.REWORK, start, end)),
        )
    )


def _count_expressions(start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    closed = Q(closed_at__gte=start, closed_at__lt=end)
    overdue_at_end = Q(deadline_at__lt=end)
    handled = Q(fed_back=True)
    return {
        "received": Count("pk", filter=Q(reported_at__gte=start)),
        "registered": Count("pk", filter=Q(registered_at__gte=start, registered_at__lt=end)),
        "closed": Count("pk", filter=closed),
        "closed_on_time": Count("pk", filter=closed & Q(closed_on_time=True)),
        "due_closure": Count("pk", filter=closed | (overdue_at_end & Q(state_at_end__in=UNCLOSED_DUE_STATES))),
        "handled": Count("pk", filter=handled),
        "handled_on_time": Count("pk", filter=handled & (Q(fed_back_on_time=True) | Q(deadline_at__isnull=True))),
        "due_handling": Count("pk", filter=handled | (overdue_at_end & Q(state_at_end__in=UNHANDLED_DUE_STATES))),
        "reworked": Count("pk", filter=handled & Q(reworked_in=True)),
    }


def _ratings(cases: QuerySet[Case], start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    row = CaseEvent.objects.filter(
        case__in=cases.values("pk"), kind=EventKind.RATED, created_at__gte=start, created_at__lt=end
    ).aggregate(
        rated=Count("pk"),
        satisfied=Count("pk", filter=Q(data__rating__in=[Rating.SATISFIED.value, Rating.BASIC.value])),
    )
    return {k: int(v or 0) for k, v in row.items()}


def figures(cases: QuerySet[Case], *, start: dt.datetime, end: dt.datetime) -> Figures:
    """The counts (and so the rates) of ``cases`` for ``[start, end)``: two queries."""
    row = _relevant(cases, start, end).aggregate(**_count_expressions(start, end))
    counts = {k: int(row[k] or 0) for k in CASE_COUNTS}
    return Figures(**counts, **_ratings(cases, start, end))


@dataclass(frozen=True)
class UnitFigures:
    unit_id: int
    unit_name: str
    figures: Figures


def figures_by_unit(cases: QuerySet[Case], *, start: dt.datetime, end: dt.datetime) -> list[UnitFigures]:
    """Per main handling unit, ranked by 按期结案率 (highest first), then by cases due.

    Units with nothing due for closure in the period are left out (their rate is
    undefined); ratings are not split by unit.
    """
    rows = (
        _relevant(cases.filter(unit__isnull=False), start, end)
        .values("unit", "unit__name")
        .annotate(**_count_expressions(start, end))
        .filter(due_closure__gt=0)  # type: ignore[misc]  # an annotation the stubs cannot see
        .order_by()
    )
    ranked = [
        UnitFigures(unit_id=r["unit"], unit_name=r["unit__name"], figures=Figures(**{k: int(r[k] or 0) for k in CASE_COUNTS}))  # type: ignore[literal-required]
        for r in rows
    ]
    ranked.sort(key=lambda u: (-(u.figures.on_time_closure_rate or Decimal(-1)), -u.figures.due_closure, u.unit_name, u.unit_id))
    return ranked


def state_breakdown(cases: QuerySet[Case], *, start: dt.datetime, end: dt.datetime) -> list[tuple[str, str, int]]:
    """Cases reported in the period by the state they are in now: (state, label, count), in workflow order."""
    rows = dict(
        cases.filter(reported_at__gte=start, reported_at__lt=end).values("state").annotate(n=Count("pk")).values_list("state", "n").order_by()
    )
    return [(s.value, str(s.label), int(rows[s.value])) for s in State if rows.get(s.value)]


def daily_trend(
    cases: QuerySet[Case], *, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo
) -> list[tuple[dt.date, int, int]]:
    """(local day, cases received, cases closed) for every day of the period, zeros included."""
    received = dict(
        cases.filter(reported_at__gte=start, reported_at__lt=end)
        .annotate(day=TruncDate("reported_at", tzinfo=tz))
        .values("day").annotate(n=Count("pk")).values_list("day", "n").order_by()
    )
    closed = dict(
        cases.filter(closed_at__gte=start, closed_at__lt=end)
        .annotate(day=TruncDate("closed_at", tzinfo=tz))
        .values("day").annotate(n=Count("pk")).values_list("day", "n").order_by()
    )
    first = start.astimezone(tz).date()
    last = (end - dt.timedelta(microseconds=1)).astimezone(tz).date()
    days = []
    day = first
    while day <= last:
        days.append((day, int(received.get(day, 0)), int(closed.get(day, 0))))
        day += dt.timedelta(days=1)
    return days


def as_dict(f: Figures) -> dict[str, int]:
    """The raw counts, e.g. for JSON."""
    return {field.name: getattr(f, field.name) for field in fields(f)}
