"""Roll-up, rankings, red and black lists and grade bands (issue 5, point 6).

Every expected score below is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING

import pytest
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from civicloop.core.errors import ValidationFailed
from civicloop.inspections import rankings
from civicloop.inspections.models import (
    Finding,
    LocationStatus,
    LocationType,
    Round,
    RoundKind,
    RoundLocation,
    RoundStatus,
    Site,
    Visit,
)
from civicloop.inspections.rankings import RankRow, cents, grade_for, red_black, roll_up
from civicloop.inspections.sites import site_create
from civicloop.testing import T0

from .round_helpers import advance, make_round, make_sites, site_box

if TYPE_CHECKING:
    from civicloop.testing import TestCity

D = Decimal
OLD, BACK = LocationType.OLD_COMMUNITY.value, LocationType.BACK_STREET.value


# ---- helpers shared with the page tests ----------------------------------------------------------


def lane_site(city: TestCity) -> Site:
    """A back street crossing 幸福社区 and 和平社区: its area is the street office 东关街道."""
    site = Site.objects.filter(name="东关后街").first()
    if site is None:
        site = site_create(
            by=city.users["campaign_office"],
            name="东关后街",
            location_type=BACK,
            geometry=site_box(1.8, 1.0, 2.4, 1.1),
            unit=city.units["jdA"],
        )
    assert site.area_id == city.areas["sA"].pk
    return site


def record(
    location: RoundLocation,
    score: str | None,
    *,
    vetoed: bool = False,
    off_site: bool = False,
    finding_units=(),
) -> Visit:
    """A scored visit written with the ORM (the ranking maths only read score and vetoed)."""
    value = None if score is None else D(score)
    visit = Visit.objects.create(
        location=location,
        inspector=location.inspector or location.round.inspectors.first(),
        client_uuid=uuid.uuid4(),
        recorded_at=T0,
        received_at=T0,
        score=value,
        raw=value or D(0),
        full=D(100),
        vetoed=vetoed,
        off_site=off_site,
    )
    item = (
        location.standard.sections.order_by("position").first().items.order_by("position").first()
    )
    for unit in finding_units:
        Finding.objects.create(
            visit=visit, item=item, deduction=D("2"), description="楼道堆放杂物", unit=unit
        )
    RoundLocation.objects.filter(pk=location.pk).update(status=LocationStatus.DONE)
    return visit


def location_of(rnd: Round, site: Site) -> RoundLocation:
    return rnd.locations.select_related("standard", "round").get(site=site)


# The scores of the district-A round (type weights: old communities × 3, back streets × 1).
#   site        type  community unit  score
#   c1_street   back  c1        jwc1  80.00
#   c1_old      old   c1        wy    90.00  findings: hwc, wy
#   c1_old2     old   c1        jwc1  70.50
#   c2_street   back  c2        hwc   vetoed (counts 0)   finding: hwc
#   c2_old      old   c2        jdA   85.25
#   lane        back  — (sA)    jdA   77.77
SCORES = {
    "c1_street": "80.00",
    "c1_old": "90.00",
    "c1_old2": "70.50",
    "c2_old": "85.25",
    "lane": "77.77",
}


def score_district_a(city: TestCity, rnd: Round) -> dict[str, RoundLocation]:
    sites = {**make_sites(city), "lane": lane_site(city)}
    locations = {key: location_of(rnd, sites[key]) for key in [*SCORES, "c2_street"]}
    u = city.units
    for key, score in SCORES.items():
        record(locations[key], score, finding_units=[u["hwc"], u["wy"]] if key == "c1_old" else ())
    record(locations["c2_street"], "0", vetoed=True, off_site=True, finding_units=[u["hwc"]])
    return locations


@pytest.fixture
def scored_round(city: TestCity) -> Round:
    lane_site(city)
    rnd = make_round(city, status=RoundStatus.ACTIVE, type_weights={OLD: "3"})
    assert rnd.locations.count() == 6
    score_district_a(city, rnd)
    return rnd


def by_name(rows: list[RankRow]) -> dict[str, RankRow]:
    return {r.name: r for r in rows}


def row(name: str, score: str, rank: int = 0, **kw) -> RankRow:
    values = {
        "key": abs(hash(name)) % 10_000,
        "name": name,
        "score": D(score),
        "grade": "",
        "locations": 1,
        "findings": 0,
        "recurrences": 0,
        "rank": rank,
    }
    values.update(kw)
    return RankRow(**values)


# ---- exact arithmetic -----------------------------------------------------------------------------


def test_cents_rounds_half_up_exactly():
    assert cents(Fraction(42625, 1000)) == D("42.63")  # a true half: up
    assert cents(Fraction(1, 3)) == D("0.33") and cents(Fraction(2, 3)) == D("0.67")
    assert cents(Fraction(80005, 1000)) == D("80.01")
    assert cents(Fraction(-42625, 1000)) == D("-42.63")  # away from zero, like ROUND_HALF_UP
    assert cents(D("100")) == D("100.00")


def test_plain_mean_without_weights():
    # (0 + 85.25) / 2 = 42.625 → 42.63
    assert cents(roll_up([(BACK, D("0")), (OLD, D("85.25"))], {})) == D("42.63")
    assert roll_up([], {}) is None


def test_weighted_mean_of_the_type_means():
    scores = [(BACK, D("80")), (OLD, D("90")), (OLD, D("70.50"))]
    # old mean 80.25, back 80: (3 × 80.25 + 1 × 80) / 4 = 320.75 / 4 = 80.1875 → 80.19
    assert cents(roll_up(scores, {OLD: D("3")})) == D("80.19")
    # A type the weights do not name weighs 1: the same as naming it with 1.
    assert roll_up(scores, {OLD: D("3")}) == roll_up(scores, {OLD: D("3"), BACK: D("1")})
    # With weights of 1 for every type the types count equally, not the locations:
    # (80.25 + 80) / 2 = 80.125 → 80.13 (the plain mean would be 240.5 / 3 = 80.17).
    assert cents(roll_up(scores, {OLD: D("1")})) == D("80.13")
    assert cents(roll_up(scores, {})) == D("80.17")


def test_nothing_is_rounded_before_the_end():
    # old mean (80.00 + 80.01) / 2 = 80.005, back 70: (80.005 + 70) / 2 = 75.0025 → 75.00.
    # Rounding the old mean first (80.01) would give 75.005 → 75.01.
    scores = [(OLD, D("80.00")), (OLD, D("80.01")), (BACK, D("70.00"))]
    assert cents(roll_up(scores, {OLD: D("1")})) == D("75.00")


def test_a_type_weighing_zero_does_not_count():
    scores = [(OLD, D("90")), (BACK, D("10"))]
    assert roll_up(scores, {BACK: D("0")}) == 90
    assert roll_up([(BACK, D("10"))], {BACK: D("0")}) is None


two_decimals = st.decimals(
    min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False
)
types = st.sampled_from([OLD, BACK, LocationType.MARKET.value])


@settings(max_examples=150, deadline=None)
@given(
    scores=st.lists(st.tuples(types, two_decimals), min_size=1, max_size=12),
    weights=st.dictionaries(types, st.decimals(min_value=0, max_value=50, places=2), max_size=3),
)
def test_a_group_score_lies_between_its_lowest_and_highest_location(scores, weights):
    exact = roll_up(scores, weights)
    counted = [s for t, s in scores if weights.get(t, D(1)) != 0]
    if not counted:
        assert exact is None
        return
    low, high = min(counted), max(counted)
    assert low <= exact <= high
    assert low <= cents(exact) <= high


# ---- ranks, red and black lists ---------------------------------------------------------------------


def test_equal_scores_share_a_rank_then_go_by_name():
    ranked = rankings.rank([row("丙", "80"), row("乙", "90"), row("甲", "90"), row("丁", "70")])
    assert [(r.name, r.rank) for r in ranked] == [("乙", 1), ("甲", 1), ("丙", 3), ("丁", 4)]


def _ranked(*scores: str) -> list[RankRow]:
    return rankings.rank([row(f"g{i:02d}", s) for i, s in enumerate(scores)])


def test_red_and_black_lists_take_the_best_and_the_worst():
    rows = _ranked("95", "91", "88", "80", "75", "70", "61", "55")
    red, black = red_black(rows, 3)
    assert [r.score for r in red] == [D("95"), D("91"), D("88")]
    assert [r.score for r in black] == [D("70"), D("61"), D("55")]


def test_red_and_black_lists_split_a_short_ranking_in_half():
    red, black = red_black(_ranked("90", "80", "70", "60"), 3)
    assert [r.score for r in red] == [D("90"), D("80")] and [r.score for r in black] == [
        D("70"),
        D("60"),
    ]
    # An odd count: the middle one is in neither list.
    red, black = red_black(_ranked("90", "80", "70", "60", "50"), 3)
    assert [r.score for r in red] == [D("90"), D("80")] and [r.score for r in black] == [
        D("60"),
        D("50"),
    ]
    assert red_black(_ranked("90"), 3) == ([], [])
    assert red_black([], 3) == ([], [])


def test_the_black_list_holds_only_scores_below_the_red_list():
    # The 3rd and 4th tie at 80: the 4th is not blamed for the score that praises the 3rd.
    red, black = red_black(_ranked("95", "90", "80", "80", "80", "60"), 3)
    assert [r.score for r in red] == [D("95"), D("90"), D("80")]
    assert [r.score for r in black] == [D("60")]
    red, black = red_black(_ranked("80", "80", "80", "80"), 2)
    assert len(red) == 2 and black == []


def test_red_black_size_comes_from_the_settings_and_is_checked():
    rows = _ranked("95", "91", "88", "80", "75", "70", "61", "55")
    red, black = red_black(rows)  # RED_BLACK_SIZE = 3
    assert len(red) == 3 and len(black) == 3
    with override_settings(CIVICLOOP={**_inspections(RED_BLACK_SIZE=2)}):
        assert [len(x) for x in red_black(rows)] == [2, 2]
    for bad in (0, -1, "3", 2.5, True):
        with pytest.raises(ValidationFailed):
            red_black(rows, bad)


# ---- grade bands -------------------------------------------------------------------------------


def _inspections(**changes):
    from django.conf import settings as django_settings

    conf = dict(django_settings.CIVICLOOP)
    conf["INSPECTIONS"] = {**conf["INSPECTIONS"], **changes}
    return conf


def test_default_bands_and_their_edges():
    bands = rankings.bands_for(None)
    assert bands == [("A", D("90")), ("B", D("75")), ("C", D("60")), ("D", D("0"))]
    expected = {
        "100": "A",
        "90.00": "A",
        "89.99": "B",
        "75": "B",
        "74.99": "C",
        "60": "C",
        "59.99": "D",
        "0": "D",
    }
    assert {s: grade_for(D(s), bands) for s in expected} == expected
    assert grade_for(None, bands) == ""


def test_a_round_sets_its_own_bands(db):
    rnd = Round(grade_bands=[["优秀", "85"], ["合格", "60"], ["不合格", "0"]])
    bands = rankings.bands_for(rnd)
    assert grade_for(D("85"), bands) == "优秀" and grade_for(D("59.99"), bands) == "不合格"


@pytest.mark.parametrize(
    "bands",
    [
        [["A", "90"], ["B", "95"], ["C", "0"]],  # not descending
        [["A", "90"], ["B", "60"]],  # does not end at 0
        [["A", "90"], ["A", "0"]],  # a grade twice
        [["A", "abc"], ["B", "0"]],
        [["A", "120"], ["B", "0"]],
        "A90",
        [],
    ],
)
def test_bad_bands_in_the_settings_are_refused(bands):
    with override_settings(CIVICLOOP=_inspections(GRADE_BANDS=bands)):
        with pytest.raises(ValidationFailed) as exc:
            rankings.bands_for(None)
    assert exc.value.field == "grade_bands"


def test_a_negative_recurrence_penalty_is_refused():
    with override_settings(CIVICLOOP=_inspections(RECURRENCE_PENALTY="-1")):
        with pytest.raises(ValidationFailed):
            rankings.recurrence_penalty()
    with override_settings(CIVICLOOP=_inspections(RECURRENCE_PENALTY="two")):
        with pytest.raises(ValidationFailed):
            rankings.recurrence_penalty()


# ---- periods -------------------------------------------------------------------------------------


def test_month_and_quarter_bounds():
    assert rankings.month_bounds(2028, 2) == (dt.date(2028, 2, 1), dt.date(2028, 2, 29))
    assert rankings.month_bounds(2026, 12) == (dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    assert rankings.quarter_bounds(2026, 4) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert rankings.quarter_bounds(2027, 1) == (dt.date(2027, 1, 1), dt.date(2027, 3, 31))
    for bad in ((2026, 13), (2026, 0), (1999, 5), (2026, "5")):
        with pytest.raises(ValidationFailed):
            rankings.month_bounds(*bad)
    with pytest.raises(ValidationFailed):
        rankings.quarter_bounds(2026, 5)
    with pytest.raises(ValidationFailed):
        rankings.check_period(dt.date(2026, 12, 1), dt.date(2026, 11, 30))


def test_unknown_level_is_refused(db):
    with pytest.raises(ValidationFailed) as exc:
        rankings.round_ranking(Round(), "grid")
    assert exc.value.field == "level"


# ---- one round from the database -------------------------------------------------------------------


def test_community_ranking_of_a_round(city, scored_round, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        rows = rankings.round_ranking(scored_round, "community")
    # c1: old mean (90 + 70.50) / 2 = 80.25, back 80 → (3 × 80.25 + 80) / 4 = 80.1875 → 80.19 (B)
    # c2: old 85.25, back 0 (vetoed) → (3 × 85.25 + 0) / 4 = 63.9375 → 63.94 (C)
    # The lane lies in no community: left out.
    assert [(r.name, r.score, r.grade, r.rank, r.locations, r.findings) for r in rows] == [
        ("幸福社区", D("80.19"), "B", 1, 3, 2),
        ("和平社区", D("63.94"), "C", 2, 2, 1),
    ]


def test_street_and_district_rankings_count_the_lane(city, scored_round):
    # old: (90 + 70.50 + 85.25) / 3 = 81.9166…; back: (80 + 0 + 77.77) / 3 = 52.59
    # (3 × 81.9166… + 52.59) / 4 = (245.75 + 52.59) / 4 = 74.585 → 74.59 (C)
    (street,) = rankings.round_ranking(scored_round, "street")
    assert (street.name, street.score, street.grade, street.locations, street.findings) == (
        "东关街道",
        D("74.59"),
        "C",
        6,
        3,
    )
    (district,) = rankings.round_ranking(scored_round, "district")
    assert (district.name, district.score) == ("老城区", D("74.59"))


def test_unit_ranking_of_a_round(city, scored_round):
    rows = rankings.round_ranking(scored_round, "unit")
    u = city.units
    # wy: 90 → 90.00 A; jdA: (3 × 85.25 + 77.77) / 4 = 333.52 / 4 = 83.38 B;
    # jwc1: (3 × 70.50 + 80) / 4 = 291.5 / 4 = 72.875 → 72.88 C; hwc: vetoed 0 → D.
    # Findings are the unit's own (Finding.unit): hwc 2, wy 1.
    assert [
        (r.key, r.score, r.grade, r.rank, r.locations, r.findings, r.recurrences) for r in rows
    ] == [
        (u["wy"].pk, D("90.00"), "A", 1, 1, 1, 0),
        (u["jdA"].pk, D("83.38"), "B", 2, 2, 0, 0),
        (u["jwc1"].pk, D("72.88"), "C", 3, 2, 0, 0),
        (u["hwc"].pk, D("0.00"), "D", 4, 1, 2, 0),
    ]
    assert all(r.base_score == r.score for r in rows)


def test_without_weights_every_location_counts_the_same(city, scored_round):
    scored_round.type_weights = {}
    rows = by_name(rankings.round_ranking(scored_round, "community"))
    # c1: (80 + 90 + 70.50) / 3 = 80.1666… → 80.17; c2: (0 + 85.25) / 2 = 42.625 → 42.63 (D)
    assert rows["幸福社区"].score == D("80.17") and rows["和平社区"].score == D("42.63")
    assert rows["和平社区"].grade == "D"
    # street: (80 + 90 + 70.50 + 0 + 85.25 + 77.77) / 6 = 403.52 / 6 = 67.2533… → 67.25
    assert rankings.round_ranking(scored_round, "street")[0].score == D("67.25")


def test_uninspected_and_unscored_locations_do_not_count(city, scored_round):
    # Take the visit away from c1_old (90.00): c1 = (3 × 70.50 + 80) / 4 = 72.875 → 72.88.
    Visit.objects.filter(location__round=scored_round, location__site__name="幸福里小区").delete()
    rows = by_name(rankings.round_ranking(scored_round, "community"))
    assert rows["幸福社区"].score == D("72.88") and rows["幸福社区"].locations == 2
    # A visit where nothing applied has no score: it does not count either.
    Visit.objects.filter(location__round=scored_round, location__site__name="光明小区").update(
        score=None
    )
    rows = by_name(rankings.round_ranking(scored_round, "community"))
    assert rows["幸福社区"].score == D("80.00") and rows["幸福社区"].locations == 1
    assert "wy" not in {r.name for r in rankings.round_ranking(scored_round, "unit")}


def test_a_vetoed_location_counts_as_zero_whatever_its_stored_score(city, scored_round):
    Visit.objects.filter(location__round=scored_round, location__site__name="和平巷").update(
        score=D("88")
    )
    rows = by_name(rankings.round_ranking(scored_round, "community"))
    assert rows["和平社区"].score == D("63.94")


def test_the_round_location_rows(city, scored_round, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        rows = {r.location.site.name: r for r in rankings.location_rows(scored_round)}
    assert len(rows) == 6
    lane = rows["东关后街"]
    assert (lane.community, lane.street, lane.score, lane.grade) == (
        "",
        "东关街道",
        D("77.77"),
        "B",
    )
    vetoed = rows["和平巷"]
    assert (vetoed.vetoed, vetoed.off_site, vetoed.score, vetoed.grade, vetoed.findings) == (
        True,
        True,
        D("0"),
        "D",
        1,
    )
    assert rows["幸福里小区"].findings == 2 and rows["幸福里小区"].community == "幸福社区"


# ---- recurrences count against the unit --------------------------------------------------------------


def _published_lookback(city: TestCity, rnd: Round, recurred: list[Finding]) -> Round:
    """A published look-back of ``rnd`` whose visits found ``recurred`` again (ORM rows)."""
    lookback = Round.objects.create(
        name="回头看",
        kind=RoundKind.UNDERCOVER,
        status=RoundStatus.PUBLISHED,
        area=rnd.area,
        period_start=dt.date(2026, 12, 10),
        period_end=dt.date(2026, 12, 20),
        lookback_of=rnd,
        created_at=T0,
        published_at=T0 + dt.timedelta(days=30),
    )
    lookback.inspectors.add(city.users["inspector"])
    for original in recurred:
        site = original.visit.location.site
        location, _created = RoundLocation.objects.get_or_create(
            round=lookback,
            site=site,
            defaults={
                "standard": original.visit.location.standard,
                "inspector": city.users["inspector"],
            },
        )
        visit = getattr(location, "visit", None) or record(location, None)
        Finding.objects.create(
            visit=visit,
            item=original.item,
            deduction=original.deduction,
            description="又出现了",
            unit=original.unit,
            recurrence_of=original,
        )
    return lookback


def test_recurrences_take_points_off_the_unit(city, scored_round):
    wy_finding = Finding.objects.filter(
        visit__location__round=scored_round, unit=city.units["wy"]
    ).get()
    _published_lookback(city, scored_round, [wy_finding])
    rows = {r.key: r for r in rankings.round_ranking(scored_round, "unit")}
    wy = rows[city.units["wy"].pk]
    # 90.00 − 2 (RECURRENCE_PENALTY) × 1 = 88.00: down from A to B; the score before it is kept.
    assert (wy.score, wy.base_score, wy.recurrences, wy.grade) == (D("88.00"), D("90.00"), 1, "B")
    with override_settings(CIVICLOOP=_inspections(RECURRENCE_PENALTY="95")):
        wy = {r.key: r for r in rankings.round_ranking(scored_round, "unit")}[city.units["wy"].pk]
        assert wy.score == D("0.00") and wy.rank == 3  # never below 0; ties with hwc, after jwc1
    # Areas are not penalised.
    assert by_name(rankings.round_ranking(scored_round, "community"))["幸福社区"].recurrences == 0


def test_an_unpublished_lookback_does_not_count_yet(city, scored_round):
    finding = Finding.objects.filter(
        visit__location__round=scored_round, unit=city.units["wy"]
    ).get()
    lookback = _published_lookback(city, scored_round, [finding])
    Round.objects.filter(pk=lookback.pk).update(status=RoundStatus.CLOSED)
    rows = {r.key: r for r in rankings.round_ranking(scored_round, "unit")}
    assert (
        rows[city.units["wy"].pk].score == D("90.00") and rows[city.units["wy"].pk].recurrences == 0
    )


# ---- periods -------------------------------------------------------------------------------------


def test_period_ranking_means_the_rounds_of_the_period(city, scored_round):
    # November: the district-A round (published) and a second round ending in November.
    # December: a third one, outside the month, inside the quarter.
    scored_round = advance(city, scored_round, RoundStatus.PUBLISHED)
    second = make_round(
        city,
        status=RoundStatus.ACTIVE,
        name="十一月第二轮",
        at=T0 + dt.timedelta(days=1),
        period_end=dt.date(2026, 11, 30),
    )
    sites = make_sites(city)
    record(location_of(second, sites["c1_old"]), "60.00")
    record(location_of(second, sites["c2_old"]), "75.00")
    second = advance(city, second, RoundStatus.PUBLISHED, at=T0 + dt.timedelta(days=1))
    december = make_round(
        city,
        status=RoundStatus.ACTIVE,
        name="十二月",
        at=dt.datetime(2026, 12, 1, 10, tzinfo=T0.tzinfo),
    )
    record(location_of(december, sites["c2_old"]), "10.00")
    advance(
        city, december, RoundStatus.PUBLISHED, at=dt.datetime(2026, 12, 1, 10, tzinfo=T0.tzinfo)
    )

    leader = city.users["leader"]
    start, end = rankings.month_bounds(2026, 11)
    rows = by_name(rankings.period_ranking(user=leader, start=start, end=end, level="community"))
    # c1: round 1 80.1875; round 2 (no weights) 60 → (80.1875 + 60) / 2 = 70.09375 → 70.09
    # c2: round 1 63.9375; round 2 75 → (63.9375 + 75) / 2 = 69.46875 → 69.47
    assert (rows["幸福社区"].score, rows["幸福社区"].locations, rows["幸福社区"].rank) == (
        D("70.09"),
        4,
        1,
    )
    assert (rows["和平社区"].score, rows["和平社区"].locations) == (D("69.47"), 3)
    start, end = rankings.quarter_bounds(2026, 4)
    rows = by_name(rankings.period_ranking(user=leader, start=start, end=end, level="community"))
    # c2 adds December's 10: (63.9375 + 75 + 10) / 3 = 148.9375 / 3 = 49.6458… → 49.65
    assert rows["和平社区"].score == D("49.65") and rows["幸福社区"].score == D("70.09")


def test_period_ranking_counts_published_rounds_and_shows_groups_the_user_knows(city, scored_round):
    start, end = rankings.month_bounds(2026, 11)
    leader = city.users["leader"]
    # Still being inspected: nobody ranks it, not even its owner.
    assert (
        rankings.period_ranking(
            user=city.users["campaign_office"], start=start, end=end, level="street"
        )
        == []
    )
    advance(city, scored_round, RoundStatus.PUBLISHED)
    assert [
        r.score for r in rankings.period_ranking(user=leader, start=start, end=end, level="street")
    ] == [D("74.59")]
    # District B's leader sees no round with a location in district A's street office.
    assert (
        rankings.period_ranking(user=city.users["leader_b"], start=start, end=end, level="street")
        == []
    )
    assert (
        rankings.period_ranking(user=city.users["outsider"], start=start, end=end, level="street")
        == []
    )
    with pytest.raises(ValidationFailed):
        rankings.period_ranking(user=leader, start=end, end=start, level="street")


def district_b_round(city: TestCity) -> Round:
    """A published round over district B ending on 2026-11-30, like the district-A round.

    Its sites (no type weights, so plain means):
      c3_street  back  c3  jwc3  70.00
      c3_old     old   c3  jwc3  60.00
      西门背街     back  c3  hwc   95.00   (hwc also answers for 和平巷 in district A)
    """
    site_create(
        by=city.users["campaign_office"],
        name="西门背街",
        location_type=BACK,
        geometry=site_box(3.2, 1.7, 3.8, 1.8),
        unit=city.units["hwc"],
    )
    rnd = make_round(city, status=RoundStatus.ACTIVE, area="dB", name="新华区十一月")
    assert rnd.period_end == dt.date(2026, 11, 30)
    sites = make_sites(city)
    record(location_of(rnd, sites["c3_street"]), "70.00")
    record(location_of(rnd, sites["c3_old"]), "60.00")
    record(location_of(rnd, Site.objects.get(name="西门背街")), "95.00")
    return advance(city, rnd, RoundStatus.PUBLISHED)


def test_a_period_ranks_the_same_for_every_reader(city, scored_round):
    advance(city, scored_round, RoundStatus.PUBLISHED)
    district_b_round(city)
    leader, leader_b = city.users["leader"], city.users["leader_b"]
    start, end = rankings.month_bounds(2026, 11)

    def board(user, level):
        return rankings.period_board(user=user, start=start, end=end, level=level)

    def ranks(rows):
        return [(r.name, r.score, r.rank) for r in rows]

    # Communities over both rounds: 幸福社区 80.19, 团结社区 (70 + 60 + 95) / 3 = 75.00,
    # 和平社区 63.94. District B's leader sees only 团结社区, with its city-wide rank 2.
    city_wide = board(leader, "community")
    assert ranks(city_wide.rows) == [
        ("幸福社区", D("80.19"), 1),
        ("团结社区", D("75.00"), 2),
        ("和平社区", D("63.94"), 3),
    ]
    assert [r.name for r in city_wide.red] == ["幸福社区"]
    assert [r.name for r in city_wide.black] == ["和平社区"]
    seen_from_b = board(leader_b, "community")
    assert ranks(seen_from_b.rows) == [("团结社区", D("75.00"), 2)]
    assert seen_from_b.rows[0] == city_wide.rows[1]
    # The lists are drawn from the whole ranking, then limited: none of them is his to see.
    assert seen_from_b.red == [] and seen_from_b.black == []
    assert [r.name for r in seen_from_b.visible_rounds] == ["新华区十一月"]
    assert len(seen_from_b.rounds) == 2 and seen_from_b.bands == city_wide.bands

    # Units: hwc has 和平巷 (vetoed, 0) in district A and 西门背街 (95) in district B:
    # (0 + 95) / 2 = 47.50 for both readers, never 95 for district B's leader.
    u = city.units
    units = {r.key: r for r in board(leader, "unit").rows}
    assert [(k, r.score, r.rank) for k, r in units.items()] == [
        (u["wy"].pk, D("90.00"), 1),
        (u["jdA"].pk, D("83.38"), 2),
        (u["jwc1"].pk, D("72.88"), 3),
        (u["jwc3"].pk, D("65.00"), 4),
        (u["hwc"].pk, D("47.50"), 5),
    ]
    units_b = board(leader_b, "unit")
    assert units_b.rows == [units[u["jwc3"].pk], units[u["hwc"].pk]]
    # 5 rows: red wy, jdA; black jwc3, hwc. District B's leader sees only the black list.
    assert units_b.red == [] and units_b.black == units_b.rows

    # Districts: 新华区 75.00 ahead of 老城区 74.59.
    assert ranks(board(leader_b, "district").rows) == [("新华区", D("75.00"), 1)]
    assert ranks(board(leader, "district").rows) == [
        ("新华区", D("75.00"), 1),
        ("老城区", D("74.59"), 2),
    ]
    # period_ranking is the board's rows.
    assert rankings.period_ranking(user=leader_b, start=start, end=end, level="community") == (
        seen_from_b.rows
    )


def test_period_recurrences_count_every_published_lookback(city, scored_round):
    scored_round = advance(city, scored_round, RoundStatus.PUBLISHED)
    district_b_round(city)
    finding = Finding.objects.filter(
        visit__location__round=scored_round, unit=city.units["hwc"]
    ).first()
    _published_lookback(city, scored_round, [finding])  # district A's, ends 2026-12-20
    start, end = rankings.quarter_bounds(2026, 4)
    assert rankings.period_recurrences(start=start, end=end) == {city.units["hwc"].pk: 1}
    hwc = city.units["hwc"].pk
    # District B's leader cannot see the look-back; it counts against hwc all the same:
    # 47.50 − 2 = 45.50.
    for key in ("leader", "leader_b"):
        rows = {
            r.key: r
            for r in rankings.period_ranking(
                user=city.users[key], start=start, end=end, level="unit"
            )
        }
        assert (rows[hwc].score, rows[hwc].base_score, rows[hwc].recurrences, rows[hwc].rank) == (
            D("45.50"),
            D("47.50"),
            1,
            5,
        ), key


def test_groups_known_to_a_reader(city, scored_round):
    advance(city, scored_round, RoundStatus.PUBLISHED)
    district_b_round(city)
    a, u = city.areas, city.units
    assert rankings.groups_known_to(city.users["leader_b"], "community") == {a["c3"].pk}
    assert rankings.groups_known_to(city.users["leader_b"], "street") == {a["sB"].pk}
    assert rankings.groups_known_to(city.users["leader_b"], "unit") == {u["jwc3"].pk, u["hwc"].pk}
    assert rankings.groups_known_to(city.users["leader"], "community") == {
        a["c1"].pk,
        a["c2"].pk,
        a["c3"].pk,
    }
    assert rankings.groups_known_to(city.users["outsider"], "district") == set()
