"""The GB/T 30428.4 rates: formulas against published figures, counts against hand-built cases."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from civicloop.cases import actions as A
from civicloop.cases import metrics
from civicloop.cases.models import Case, Rating, State
from civicloop.org import policy
from civicloop.testing import SHANGHAI, T0, Loop, jpeg_upload

pytestmark = pytest.mark.django_db

# The week of T0 (Tuesday 17 November 2026), local time.
WEEK_START = dt.datetime(2026, 11, 16, 0, 0, tzinfo=SHANGHAI)
WEEK_END = dt.datetime(2026, 11, 23, 0, 0, tzinfo=SHANGHAI)


# ---- the formulas ---------------------------------------------------------------------


def test_published_example_of_standards_md_closure_and_on_time_closure():
    # 天门, December: 应结案 972, 结案 911, 按期结案 737 → 93.72 % and 75.82 %.
    assert metrics.closure_rate(closed=911, due=972) == Decimal("93.72")
    assert metrics.on_time_closure_rate(closed_on_time=737, due=972) == Decimal("75.82")
    # Dividing by the cases closed would give 80.90 %: the standard divides by the cases due.
    assert metrics.on_time_closure_rate(closed_on_time=737, due=972) != metrics.percentage(737, 911)


def test_second_published_example_twelve_three_four_five_bulletin():
    # 连云港 April 2017: 应结案 24932, 结案 23974 (96.16 %), 按期 22345 (89.62 %).
    assert metrics.closure_rate(closed=23974, due=24932) == Decimal("96.16")
    assert metrics.on_time_closure_rate(closed_on_time=22345, due=24932) == Decimal("89.62")


def test_handling_and_rework_rates():
    assert metrics.handling_rate(handled=4, due=5) == Decimal("80.00")
    assert metrics.on_time_handling_rate(handled_on_time=3, due=5) == Decimal("60.00")
    assert metrics.rework_rate(reworked=1, handled=3) == Decimal("33.33")
    assert metrics.satisfaction_rate(satisfied=2, rated=3) == Decimal("66.67")


def test_rounding_is_half_up_to_two_decimals():
    assert metrics.percentage(1, 8) == Decimal("12.50")
    assert metrics.percentage(2, 3) == Decimal("66.67")
    assert metrics.percentage(1, 3) == Decimal("33.33")
    assert metrics.percentage(1, 1) == Decimal("100.00")
    # 0.125 % → 0.13 (half up, not banker's 0.12)
    assert metrics.percentage(1, 800) == Decimal("0.13")


@pytest.mark.parametrize("fn, kwargs", [
    (metrics.closure_rate, {"closed": 0, "due": 0}),
    (metrics.on_time_closure_rate, {"closed_on_time": 0, "due": 0}),
    (metrics.handling_rate, {"handled": 0, "due": 0}),
    (metrics.on_time_handling_rate, {"handled_on_time": 0, "due": 0}),
    (metrics.rework_rate, {"reworked": 0, "handled": 0}),
    (metrics.satisfaction_rate, {"satisfied": 0, "rated": 0}),
])
def test_nothing_to_measure_is_none_not_zero(fn, kwargs):
    assert fn(**kwargs) is None


def test_empty_figures_have_no_rates():
    f = metrics.Figures()
    assert (f.closure_rate, f.on_time_closure_rate, f.handling_rate, f.on_time_handling_rate, f.rework_rate, f.satisfaction_rate) == (None,) * 6


# ---- the counts ------------------------------------------------------------------------


def _close_late(loop: Loop, **kw) -> Case:
    case = loop.to(State.HANDLED, **kw)
    loop.t = case.deadline_at + dt.timedelta(hours=1)
    return A.case_verify(case=case, by=loop.grid_worker_for(case), passed=True, at=loop.t)


def _three_closed_two_on_time(city) -> tuple[Loop, list[Case]]:
    loop = Loop(city)
    a = loop.to(State.CLOSED)
    b = loop.to(State.CLOSED)
    c = _close_late(loop)
    return loop, [a, b, c]


def test_three_closed_two_on_time_is_66_67(city):
    _, cases = _three_closed_two_on_time(city)
    assert [c.closed_on_time for c in cases] == [True, True, False]
    f = metrics.figures(Case.objects.all(), start=WEEK_START, end=WEEK_END)
    assert (f.received, f.registered, f.closed, f.closed_on_time, f.due_closure) == (3, 3, 3, 2, 3)
    assert f.closure_rate == Decimal("100.00")
    assert f.on_time_closure_rate == Decimal("66.67")
    assert (f.handled, f.handled_on_time, f.due_handling, f.reworked) == (3, 3, 3, 0)
    assert f.rework_rate == Decimal("0.00")


def test_overdue_unclosed_cases_are_due_deferred_and_returned_are_not(city):
    loop, _ = _three_closed_two_on_time(city)
    loop.to(State.IN_PROGRESS)  # its 4 working hours run out on the 17th or 18th: overdue, due, unclosed
    loop.to(State.DISPATCHED)  # never accepted: overdue too
    loop.to(State.DEFERRED)  # clock stopped: not due
    loop.to(State.RETURNED)  # back with the dispatcher, no deadline: not due
    loop.to(State.REGISTERED)  # never dispatched: not due
    f = metrics.figures(Case.objects.all(), start=WEEK_START, end=WEEK_END)
    assert (f.received, f.closed, f.closed_on_time, f.due_closure) == (8, 3, 2, 5)
    assert f.closure_rate == Decimal("60.00")  # 3 / 5
    assert f.on_time_closure_rate == Decimal("40.00")  # 2 / 5
    assert (f.handled, f.handled_on_time, f.due_handling) == (3, 3, 5)
    assert f.handling_rate == Decimal("60.00")
    assert f.on_time_handling_rate == Decimal("60.00")


def test_rework_counts_once_per_handled_case(city):
    loop = Loop(city)
    loop.to(State.CLOSED)
    loop.to(State.CLOSED)
    case = loop.to(State.HANDLED)
    g, h = loop.grid_worker_for(case), loop.handler_for(case)
    case = A.case_verify(case=case, by=g, passed=False, note="垃圾仍未清走", at=loop.tick())
    case = A.case_feedback(case=case, by=h, note="二次清运", photos=[jpeg_upload()], at=loop.tick())
    case = A.case_verify(case=case, by=g, passed=True, at=loop.tick())
    assert case.rework_count == 1
    f = metrics.figures(Case.objects.all(), start=WEEK_START, end=WEEK_END)
    assert (f.handled, f.reworked) == (3, 1)
    assert f.rework_rate == Decimal("33.33")


def test_late_report_back_is_handled_but_not_on_time(city):
    loop = Loop(city)
    case = loop.to(State.IN_PROGRESS)
    loop.t = case.deadline_at + dt.timedelta(minutes=5)
    A.case_feedback(case=case, by=loop.handler_for(case), note="迟了", photos=[jpeg_upload()], at=loop.t)
    loop.to(State.HANDLED)
    f = metrics.figures(Case.objects.all(), start=WEEK_START, end=WEEK_END)
    assert (f.handled, f.handled_on_time, f.due_handling) == (2, 1, 2)
    assert f.on_time_handling_rate == Decimal("50.00")


def test_state_at_the_end_of_a_past_period_comes_from_the_timeline(city):
    # Dispatched on the 17th, still in progress at the end of that day, handled and closed on the 20th.
    loop = Loop(city)
    case = loop.to(State.IN_PROGRESS)
    day_end = dt.datetime(2026, 11, 18, 0, 0, tzinfo=SHANGHAI)
    assert case.deadline_at < day_end
    loop.t = dt.datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
    case = A.case_feedback(case=case, by=loop.handler_for(case), note="已处理", photos=[jpeg_upload()], at=loop.t)
    case = A.case_verify(case=case, by=loop.grid_worker_for(case), passed=True, at=loop.tick())

    first_day = metrics.figures(Case.objects.all(), start=dt.datetime(2026, 11, 17, 0, 0, tzinfo=SHANGHAI), end=day_end)
    assert (first_day.received, first_day.due_closure, first_day.closed, first_day.due_handling, first_day.handled) == (1, 1, 0, 1, 0)
    assert first_day.closure_rate == Decimal("0.00")

    later = metrics.figures(Case.objects.all(), start=day_end, end=WEEK_END)
    assert (later.received, later.due_closure, later.closed, later.closed_on_time, later.handled, later.handled_on_time) == (0, 1, 1, 0, 1, 0)


def test_cases_outside_the_period_do_not_count(city):
    Loop(city, t0=WEEK_START - dt.timedelta(days=6)).to(State.CLOSED)  # closed the week before
    Loop(city, t0=WEEK_END + dt.timedelta(hours=1)).to(State.CLOSED)  # the week after
    f = metrics.figures(Case.objects.all(), start=WEEK_START, end=WEEK_END)
    assert f == metrics.Figures()


def test_satisfaction_counts_ratings_given_in_the_period(city):
    loop, (a, b, c) = _three_closed_two_on_time(city)
    resident = city.users["resident"]
    A.case_rate(case=a, by=resident, rating=Rating.SATISFIED, at=loop.tick())
    A.case_rate(case=b, by=resident, rating=Rating.BASIC, at=loop.tick())
    A.case_rate(case=c, by=resident, rating=Rating.DISSATISFIED, at=loop.tick())
    f = metrics.figures(Case.objects.all(), start=WEEK_START, end=WEEK_END)
    assert (f.rated, f.satisfied) == (3, 2)
    assert f.satisfaction_rate == Decimal("66.67")


def test_scoped_by_the_policy(city):
    _three_closed_two_on_time(city)
    Loop(city, grid="g4").to(State.CLOSED)  # district B
    leader_b = metrics.figures(policy.visible_cases(city.users["leader_b"]), start=WEEK_START, end=WEEK_END)
    assert (leader_b.received, leader_b.closed, leader_b.due_closure, leader_b.on_time_closure_rate) == (1, 1, 1, Decimal("100.00"))
    leader = metrics.figures(policy.visible_cases(city.users["leader"]), start=WEEK_START, end=WEEK_END)
    assert (leader.received, leader.closed, leader.closed_on_time) == (4, 4, 3)


def test_units_ranked_by_on_time_closure_rate(city):
    loop, _ = _three_closed_two_on_time(city)  # sanitation (市环境卫生管理处): 2 of 3 on time
    loop.to(State.CLOSED, category="E0507")  # street order in 幸福社区 → the community committee, on time
    ranked = metrics.figures_by_unit(Case.objects.all(), start=WEEK_START, end=WEEK_END)
    assert [(u.unit_id, u.figures.due_closure, u.figures.closed_on_time, u.figures.on_time_closure_rate) for u in ranked] == [
        (city.units["jwc1"].pk, 1, 1, Decimal("100.00")),
        (city.units["hwc"].pk, 3, 2, Decimal("66.67")),
    ]
    assert ranked[1].unit_name == city.units["hwc"].name


def test_state_breakdown_and_daily_trend(city):
    loop, _ = _three_closed_two_on_time(city)
    loop.to(State.IN_PROGRESS)
    states = metrics.state_breakdown(Case.objects.all(), start=WEEK_START, end=WEEK_END)
    assert [(s, n) for s, _, n in states] == [(State.IN_PROGRESS.value, 1), (State.CLOSED.value, 3)]
    days = metrics.daily_trend(Case.objects.all(), start=WEEK_START, end=WEEK_END, tz=SHANGHAI)
    assert len(days) == 7 and days[0][0] == dt.date(2026, 11, 16) and days[-1][0] == dt.date(2026, 11, 22)
    by_day = {d: (r, c) for d, r, c in days}
    assert sum(r for r, _ in by_day.values()) == 4
    assert sum(c for _, c in by_day.values()) == 3
    # Two closed on the 17th; the third was closed late, on the 18th, after which the fourth came in.
    assert by_day[T0.date()] == (3, 2)
    assert by_day[T0.date() + dt.timedelta(days=1)] == (1, 1)


def test_figures_take_two_queries(city, django_assert_num_queries):
    _three_closed_two_on_time(city)
    leader = city.users["leader"]
    policy.grants(leader)  # role bindings are loaded once per request
    with django_assert_num_queries(2):
        metrics.figures(policy.visible_cases(leader), start=WEEK_START, end=WEEK_END)
