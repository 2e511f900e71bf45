"""Unit evaluation from the case loop (GB/T 30428.4; issue 5, point 7), on hand-computed fixtures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import override_settings

from civicloop.cases import actions as A
from civicloop.cases.metrics import Figures, UnitFigures
from civicloop.cases.models import State
from civicloop.core.errors import ValidationFailed
from civicloop.inspections import evaluation
from civicloop.inspections.evaluation import composite, evaluate, unit_evaluation
from civicloop.org import policy
from civicloop.testing import T0, Loop, jpeg_upload

D = Decimal
WEIGHTS = {  # the settings' default weights
    "handling_rate": D("20"),
    "on_time_handling_rate": D("20"),
    "rework_rate": D("10"),
    "closure_rate": D("20"),
    "on_time_closure_rate": D("30"),
}
# A city's published month: 应结案 972, 结案 911, 按期结案 737; 应处置 980, 处置 950,
# 按期处置 900, 返工 19.
CITY_MONTH = Figures(
    due_closure=972,
    closed=911,
    closed_on_time=737,
    due_handling=980,
    handled=950,
    handled_on_time=900,
    reworked=19,
)


def test_published_city_figures_give_the_published_rates():
    assert CITY_MONTH.closure_rate == D("93.72")  # 911 / 972 = 0.937242… → 93.72 %
    assert CITY_MONTH.on_time_closure_rate == D("75.82")  # 737 / 972 = 0.758230… → 75.82 %
    assert evaluation.rate_values(CITY_MONTH) == {
        "handling_rate": D("96.94"),  # 950 / 980 = 0.969387… → 96.94
        "on_time_handling_rate": D("91.84"),  # 900 / 980 = 0.918367… → 91.84
        "rework_rate": D("2.00"),  # 19 / 950 = 0.02
        "closure_rate": D("93.72"),
        "on_time_closure_rate": D("75.82"),
    }


def test_composite_of_the_city_month():
    # (20 × 96.94 + 20 × 91.84 + 10 × (100 − 2.00) + 20 × 93.72 + 30 × 75.82) / 100
    # = (1938.8 + 1836.8 + 980 + 1874.4 + 2274.6) / 100 = 8904.6 / 100 = 89.046 → 89.05
    assert composite(CITY_MONTH, WEIGHTS) == D("89.05")
    assert evaluation.default_weights() == WEIGHTS
    # Only the on-time closure rate: the composite is that rate.
    assert composite(CITY_MONTH, evaluation.validate_weights({"on_time_closure_rate": 1})) == D(
        "75.82"
    )


def test_an_undefined_rate_drops_out_with_its_weight():
    # Nothing handled and nothing due for handling: three rates are "—".
    figures = Figures(due_closure=10, closed=9, closed_on_time=8)
    assert figures.handling_rate is None and figures.rework_rate is None
    # (20 × 90 + 30 × 80) / (20 + 30) = 4200 / 50 = 84.00
    assert composite(figures, WEIGHTS) == D("84.00")
    # Only weights of undefined rates: no composite.
    assert composite(figures, evaluation.validate_weights({"rework_rate": 1})) is None


def test_the_composite_is_exact_until_the_end():
    # closure 2/3 = 66.67 (as shown), on time 1/3 = 33.33: (66.67 + 33.33 × 2) / 3 = 133.33 / 3
    # = 44.4433… → 44.44
    figures = Figures(due_closure=3, closed=2, closed_on_time=1)
    weights = evaluation.validate_weights({"closure_rate": 1, "on_time_closure_rate": 2})
    assert composite(figures, weights) == D("44.44")


@pytest.mark.parametrize(
    "weights, field_text",
    [
        ({"closure_rate": "-1"}, "between 0"),
        ({"closure_rate": "many"}, "must be a number"),
        ({"closure_rate": 0, "rework_rate": 0}, "more than 0"),
        ({"satisfaction": 10}, "Unknown rates"),
        ({}, "number for each rate"),
        (["closure_rate"], "number for each rate"),
        ({"closure_rate": True}, "must be a number"),
    ],
)
def test_bad_weights_are_refused(weights, field_text):
    with pytest.raises(ValidationFailed) as exc:
        evaluation.validate_weights(weights)
    assert exc.value.field == "weights" and field_text in exc.value.message


def test_bad_weights_in_the_settings_are_refused():
    from django.conf import settings

    conf = {
        **settings.CIVICLOOP,
        "INSPECTIONS": {
            **settings.CIVICLOOP["INSPECTIONS"],
            "UNIT_EVALUATION_WEIGHTS": {"closure_rate": "0"},
        },
    }
    with override_settings(CIVICLOOP=conf):
        with pytest.raises(ValidationFailed):
            evaluation.default_weights()


def test_ranks_share_equal_composites_and_units_without_one_come_last():
    rows = [
        UnitFigures(
            1, "乙单位", Figures(due_closure=4, closed=4, closed_on_time=3)
        ),  # (20·100 + 30·75)/50 = 85
        UnitFigures(2, "甲单位", Figures(due_closure=4, closed=4, closed_on_time=3)),
        UnitFigures(3, "丙单位", Figures(due_closure=2, closed=2, closed_on_time=2)),  # 100
        UnitFigures(4, "丁单位", Figures(due_closure=1)),  # 0 % and 0 %: composite 0
    ]
    weights = evaluation.validate_weights({"closure_rate": 20, "on_time_closure_rate": 30})
    result = evaluate(
        rows, weights, [("A", D("90")), ("B", D("75")), ("C", D("60")), ("D", D("0"))]
    )
    assert [(e.unit_name, e.composite, e.grade, e.rank) for e in result] == [
        ("丙单位", D("100.00"), "A", 1),
        ("乙单位", D("85.00"), "B", 2),
        ("甲单位", D("85.00"), "B", 2),
        ("丁单位", D("0.00"), "D", 4),
    ]
    only_rework = evaluation.validate_weights({"rework_rate": 1})
    result = evaluate(rows, only_rework, [("A", D("0"))])
    assert all(e.composite is None and e.rank is None and e.grade == "" for e in result)


# ---- from the case loop -------------------------------------------------------------------------


def _day(n: int) -> dt.datetime:
    """T0 (a Tuesday) plus n days: n ≤ 3 stays in the same working week."""
    return T0 + dt.timedelta(days=n)


@pytest.fixture
def loop_cases(city):
    """Two units' cases, each through the real workflow on its own day.

    市环境卫生管理处 (hwc, 暴露垃圾 E0102): two closed on time; one reported handled in time but
    verified after its deadline; one sent back for rework once, then closed in time.
    幸福社区居委会 (jwc1, street vending E0501 in 幸福社区): one closed in time; one dispatched
    and left untouched past its deadline.
    """
    cases = {}
    cases["a"] = Loop(city, t0=_day(0)).to(State.CLOSED)
    cases["b"] = Loop(city, t0=_day(1)).to(State.CLOSED)
    late = Loop(city, t0=_day(2))
    c = late.to(State.HANDLED)
    late.t = c.deadline_at + dt.timedelta(hours=1)
    cases["c"] = A.case_verify(case=c, by=late.grid_worker_for(c), passed=True, at=late.t)
    rework = Loop(city, t0=_day(3))
    d = rework.to(State.HANDLED)
    d = A.case_verify(
        case=d,
        by=rework.grid_worker_for(d),
        passed=False,
        note="垃圾未清理干净",
        at=rework.tick(10),
    )
    d = A.case_feedback(
        case=d,
        by=rework.handler_for(d),
        note="已重新清理",
        photos=[jpeg_upload()],
        at=rework.tick(10),
    )
    cases["d"] = A.case_verify(
        case=d, by=rework.grid_worker_for(d), passed=True, at=rework.tick(10)
    )
    cases["e"] = Loop(city, t0=_day(0), category="E0501").to(State.CLOSED)
    cases["f"] = Loop(city, t0=_day(1), category="E0501").to(State.DISPATCHED)
    assert {k: c.unit.code for k, c in cases.items()} == {
        "a": "U-HWC",
        "b": "U-HWC",
        "c": "U-HWC",
        "d": "U-HWC",
        "e": "U-C1",
        "f": "U-C1",
    }
    assert [cases[k].closed_on_time for k in "abcde"] == [True, True, False, True, True]
    assert cases["d"].rework_count == 1
    return cases


PERIOD = {"start": T0 - dt.timedelta(days=1), "end": T0 + dt.timedelta(days=14)}


def counts(f: Figures) -> tuple[int, ...]:
    """应结案, 结案, 按期结案, 应处置, 处置, 按期处置, 返工."""
    return (f.due_closure, f.closed, f.closed_on_time, f.due_handling, f.handled, f.handled_on_time, f.reworked)


def rates(e: evaluation.UnitEvaluation) -> list[str]:
    return [str(e.rates[k]) for k in evaluation.RATE_KEYS]


def test_unit_evaluation_from_the_case_loop(city, loop_cases):
    rows = {
        e.unit_name: e
        for e in unit_evaluation(policy.visible_cases(city.users["leader"]), **PERIOD)
    }
    hwc, jwc1 = rows["市环境卫生管理处"], rows["幸福社区居委会"]
    # hwc: 4 due and closed, 3 in time; 4 handled, all reported back in time; 1 reworked.
    assert counts(hwc.figures) == (4, 4, 3, 4, 4, 4, 1)
    assert rates(hwc) == ["100.00", "100.00", "25.00", "100.00", "75.00"]
    # (20 × 100 + 20 × 100 + 10 × (100 − 25) + 20 × 100 + 30 × 75) / 100 = 9000 / 100 = 90.00 → A
    assert (hwc.composite, hwc.grade, hwc.rank) == (D("90.00"), "A", 1)
    # jwc1: 2 due (1 closed in time, 1 dispatched past its deadline), 2 due for handling, 1 handled in time.
    assert counts(jwc1.figures) == (2, 1, 1, 2, 1, 1, 0)
    assert rates(jwc1) == ["50.00", "50.00", "0.00", "50.00", "50.00"]
    # (20 × 50 + 20 × 50 + 10 × (100 − 0) + 20 × 50 + 30 × 50) / 100 = 5500 / 100 = 55.00 → D
    assert (jwc1.composite, jwc1.grade, jwc1.rank) == (D("55.00"), "D", 2)
    assert list(rows) == ["市环境卫生管理处", "幸福社区居委会"]


def test_weights_given_by_the_caller(city, loop_cases):
    rows = unit_evaluation(
        policy.visible_cases(city.users["leader"]),
        weights={"on_time_closure_rate": "1", "rework_rate": "1"},
        **PERIOD,
    )
    # hwc: (75 + 75) / 2 = 75.00; jwc1: (50 + 100) / 2 = 75.00: they share rank 1, then by name.
    assert [(e.unit_name, e.composite, e.rank) for e in rows] == [
        ("市环境卫生管理处", D("75.00"), 1),
        ("幸福社区居委会", D("75.00"), 1),
    ]
    with pytest.raises(ValidationFailed):
        unit_evaluation(
            policy.visible_cases(city.users["leader"]), weights={"closure_rate": -5}, **PERIOD
        )


def test_unit_evaluation_is_scoped_and_checks_its_period(city, loop_cases):
    assert unit_evaluation(policy.visible_cases(city.users["leader_b"]), **PERIOD) == []
    assert [
        e.unit_name
        for e in unit_evaluation(policy.visible_cases(city.users["community_staff"]), **PERIOD)
    ] == ["幸福社区居委会"]
    with pytest.raises(ValidationFailed):
        unit_evaluation(
            policy.visible_cases(city.users["leader"]), start=PERIOD["end"], end=PERIOD["start"]
        )
