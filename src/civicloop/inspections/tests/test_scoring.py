"""The scoring engine: worked examples and properties that hold for every standard."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicloop.inspections.scoring import (
    ItemResult,
    ItemRule,
    ScoringInputError,
    item_deduction,
    rules_for,
    scaled,
    score_location,
)

D = Decimal

RULES = [
    ItemRule("s1_i1", "s1", D("10"), "per_occurrence", D("2")),
    ItemRule("s1_i2", "s1", D("5"), "fixed", D("3")),
    ItemRule("s1_i3", "s1", D("0"), "veto", veto_scope="section"),
    ItemRule("s2_i1", "s2", D("8"), "per_occurrence", D("0.5")),
    ItemRule("s2_i2", "s2", D("7"), "fixed", D("7")),
    ItemRule("s2_i3", "s2", D("0"), "veto", veto_scope="location"),
]


# ---- worked examples ----------------------------------------------------------------------------


def test_nothing_found_scores_full_marks_scaled_to_100():
    result = score_location(RULES, {})
    assert result.full_points == D("30")
    assert result.raw_score == D("30")
    assert result.score == D("100.00")


def test_per_occurrence_is_capped_at_the_items_points_and_fixed_deducts_once():
    result = score_location(
        RULES,
        {
            "s1_i1": ItemResult(occurrences=7),  # 14 → capped at 10
            "s1_i2": ItemResult(occurrences=4),  # 3 once
            "s2_i1": ItemResult(occurrences=3),  # 1.5
        },
    )
    assert result.item("s1_i1").deduction == D("10")
    assert result.item("s1_i2").deduction == D("3")
    assert result.item("s2_i1").deduction == D("1.5")
    assert result.section("s1").score == D("2")
    assert result.section("s2").score == D("13.5")
    assert result.raw_score == D("15.5")
    assert result.score == D("51.67")  # 15.5 / 30 × 100, half up


def test_a_section_veto_zeroes_only_its_section():
    result = score_location(
        RULES, {"s1_i3": ItemResult(veto_hit=True), "s2_i1": ItemResult(occurrences=2)}
    )
    assert result.section("s1").vetoed and result.section("s1").score == 0
    assert result.section("s2").score == D("14")
    assert result.score == D("46.67")
    assert result.veto_items == ("s1_i3",)
    assert not result.vetoed


def test_a_location_veto_zeroes_the_location_and_every_section():
    result = score_location(RULES, {"s2_i3": ItemResult(veto_hit=True)})
    assert result.vetoed and result.score == 0 and result.raw_score == 0
    assert all(s.score == 0 and s.vetoed for s in result.sections)


def test_not_applicable_items_are_left_out_and_the_score_rescaled():
    result = score_location(
        RULES,
        {
            "s1_i1": ItemResult(not_applicable=True, occurrences=3),
            "s2_i2": ItemResult(occurrences=1),
        },
    )
    assert result.item("s1_i1").deduction == 0 and not result.item("s1_i1").applicable
    assert result.full_points == D("20")
    assert result.raw_score == D("13")
    assert result.score == D("65.00")


def test_a_section_where_nothing_applies_is_left_out_and_nothing_at_all_has_no_score():
    every = {r.key: ItemResult(not_applicable=True) for r in RULES}
    assert score_location(RULES, every).score is None
    only_s1 = {k: v for k, v in every.items() if k.startswith("s2")}
    result = score_location(RULES, only_s1)
    assert not result.section("s2").applicable
    assert result.full_points == D("15") and result.score == D("100.00")


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ({"s1_i1": ItemResult(occurrences=-1)}, "cannot be negative"),
        ({"s1_i1": ItemResult(veto_hit=True)}, "is not a veto item"),
        ({"s9_i9": ItemResult(occurrences=1)}, "not part of the standard: s9_i9"),
    ],
)
def test_bad_results_are_refused_with_a_reason(result, message):
    with pytest.raises(ScoringInputError, match=message):
        score_location(RULES, result)


def test_scaled_rounds_half_up_and_has_no_score_without_points():
    assert scaled(D("2"), D("3")) == D("66.67")
    assert scaled(D("1"), D("8")) == D("12.50")
    assert scaled(D("0.00125"), D("1")) == D("0.13")
    assert scaled(D("0"), D("0")) is None


# ---- properties ---------------------------------------------------------------------------------

points = st.decimals(min_value=D("0.01"), max_value=D("30"), places=2)


@st.composite
def rules(draw):
    out = []
    for s in range(1, draw(st.integers(1, 4)) + 1):
        for i in range(1, draw(st.integers(1, 5)) + 1):
            kind = draw(st.sampled_from(["per_occurrence", "fixed", "veto"]))
            if kind == "veto":
                full = draw(st.sampled_from([D("0"), D("0"), D("5")]))
                scope = draw(st.sampled_from(["section", "location"]))
                out.append(ItemRule(f"s{s}_i{i}", f"s{s}", full, "veto", veto_scope=scope))
            else:
                full = draw(points)
                deduction = draw(st.decimals(min_value=D("0.01"), max_value=full, places=2))
                out.append(ItemRule(f"s{s}_i{i}", f"s{s}", full, kind, deduction))
    return out


@st.composite
def scenario(draw):
    rs = draw(rules())
    results = {}
    for r in rs:
        if draw(st.booleans()):
            results[r.key] = ItemResult(
                occurrences=0 if r.rule == "veto" else draw(st.integers(0, 50)),
                veto_hit=r.rule == "veto" and draw(st.integers(0, 4)) == 0,
                not_applicable=draw(st.integers(0, 5)) == 0,
            )
    return rs, results


@given(scenario())
@settings(max_examples=300, deadline=None)
def test_properties_of_every_score(case):
    rs, results = case
    result = score_location(rs, results)
    by_key = {r.key: r for r in rs}

    # An item never deducts less than 0 or more than its points; a section never goes below 0.
    for section in result.sections:
        for item in section.items:
            assert 0 <= item.deduction <= by_key[item.key].full_points
        assert 0 <= section.score <= section.full_points

    # Not-applicable items deduct nothing and are left out of the full points.
    for key, r in results.items():
        if r.not_applicable:
            assert result.item(key).deduction == 0 and result.item(key).full_points == 0
            assert not result.item(key).veto_hit

    # Totals equal the sum of their parts.
    for section in result.sections:
        live = [i for i in section.items if i.applicable]
        assert section.full_points == sum((i.full_points for i in live), D(0))
        assert section.deducted == sum((i.deduction for i in live), D(0))
        if section.applicable and not section.vetoed:
            assert section.score == section.full_points - section.deducted
    applicable = [s for s in result.sections if s.applicable]
    assert result.full_points == sum((s.full_points for s in applicable), D(0))
    assert result.raw_score == sum((s.score for s in applicable), D(0))

    # A veto zeroes its section, or the location and every section.
    hits = [k for k, r in results.items() if r.veto_hit and not r.not_applicable]
    assert set(result.veto_items) == set(hits)
    for key in hits:
        if by_key[key].veto_scope == "location":
            assert result.vetoed and result.score in (D(0), None) and result.raw_score == 0
        else:
            section = result.section(by_key[key].section)
            assert section.vetoed and section.score == 0

    # The score is on 0–100, the raw score re-scaled to the applicable full points.
    if result.score is not None:
        assert D(0) <= result.score <= D(100)
        if not result.vetoed:
            assert result.score == scaled(result.raw_score, result.full_points)
    else:
        assert result.full_points == 0

    # Scoring is idempotent and does not depend on the order of the results.
    assert score_location(rs, results) == result
    assert score_location(rs, dict(reversed(list(results.items())))) == result


@given(scenario())
@settings(max_examples=100, deadline=None)
def test_not_applicable_is_the_same_as_leaving_the_item_out_of_the_standard(case):
    rs, results = case
    na = {k for k, r in results.items() if r.not_applicable}
    kept_rules = [r for r in rs if r.key not in na]
    kept_results = {k: r for k, r in results.items() if k not in na}
    if not kept_rules:
        assert score_location(rs, results).score is None
        return
    assert score_location(rs, results).score == score_location(kept_rules, kept_results).score


@given(
    st.decimals(min_value=D("0.01"), max_value=D("20"), places=2),
    st.decimals(min_value=D("0.01"), max_value=D("20"), places=2),
    st.integers(0, 100),
)
def test_more_occurrences_never_deduct_less(full, deduction, n):
    deduction = min(deduction, full)
    rule = ItemRule("s1_i1", "s1", full, "per_occurrence", deduction)
    first = item_deduction(rule, ItemResult(occurrences=n))
    assert first <= item_deduction(rule, ItemResult(occurrences=n + 1)) <= full


@pytest.mark.django_db
def test_rules_for_reads_a_stored_version_in_order(city):
    from .helpers import make_standard

    standard = make_standard(city)
    keys = [r.key for r in rules_for(standard)]
    assert keys == ["s1_i1", "s1_i2", "s1_i3", "s2_i1", "s2_i2", "s2_i3"]
    assert rules_for(standard)[3] == ItemRule("s2_i1", "s2", D("8.00"), "per_occurrence", D("0.50"))
    assert score_location(rules_for(standard), {}).score == D("100.00")
