"""Inspection rounds: planning, sampling, assigning, and the draft → active → closed → published lifecycle."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from civicloop.core.errors import (
    ConflictError,
    NotFoundOrForbidden,
    PermissionRefused,
    TransitionRefused,
    ValidationFailed,
)
from civicloop.inspections import rectification
from civicloop.inspections.actions import standard_new_version, standard_publish, standard_retire
from civicloop.inspections.models import Finding, LocationStatus, Round, RoundLocation, Standard
from civicloop.inspections.rounds import (
    round_assign,
    round_close,
    round_create,
    round_draw,
    round_publish,
    round_start,
    round_update,
    sampling_frame,
)
from civicloop.inspections.sampling import draw
from civicloop.inspections.sites import site_deactivate
from civicloop.org.models import Role, RoleAssignment, User
from civicloop.testing import T0

from .helpers import make_standard
from .round_helpers import (
    SEED,
    advance,
    make_inspector,
    make_round,
    make_sites,
    make_standards,
    record_visit,
)

pytestmark = pytest.mark.django_db

D0 = T0.date()


def plan(city, **kw):
    standards = make_standards(city)
    base = {
        "by": city.users["campaign_office"],
        "name": "2026年11月老城区暗访",
        "kind": "undercover",
        "area": city.areas["dA"],
        "period_start": D0,
        "period_end": D0 + dt.timedelta(days=13),
        "standards": list(standards.values()),
        "at": T0,
    }
    base.update(kw)
    return base


def office(city):
    return city.users["campaign_office"]


def site_ids(rnd):
    return list(rnd.locations.order_by("draw_order").values_list("site_id", flat=True))


# ---- round_create --------------------------------------------------------------------------------


def test_create_records_the_plan(city):
    standards = make_standards(city)
    rnd = round_create(
        **plan(
            city,
            stratify="street_and_type",
            per_stratum="2",
            type_weights={"old_community": Decimal("0.6"), "back_street": "0.40"},
            grade_bands=[["优", 90], ["良", "75.5"], ["中", Decimal("60")], ["差", 0]],
            off_site_metres=150,
            note="重点检查消防通道",
        )
    )
    rnd.refresh_from_db()
    assert (rnd.status, rnd.kind, rnd.area, rnd.area_path) == (
        "draft",
        "undercover",
        city.areas["dA"],
        city.areas["dA"].path,
    )
    assert set(rnd.standards.all()) == set(standards.values())
    assert (rnd.stratify, rnd.per_stratum, rnd.off_site_metres) == ("street_and_type", 2, 150)
    assert rnd.type_weights == {"old_community": "0.6", "back_street": "0.4"}
    assert rnd.grade_bands == [["优", "90"], ["良", "75.5"], ["中", "60"], ["差", "0"]]
    assert (rnd.created_by, rnd.created_at, rnd.version) == (office(city), T0, 1)
    assert rnd.note == "重点检查消防通道"
    assert (
        rnd.seed is None and rnd.frame == [] and rnd.drawn_at is None and not rnd.locations.exists()
    )


def test_create_defaults(city, settings):
    settings.CIVICLOOP = {
        **settings.CIVICLOOP,
        "INSPECTIONS": {**settings.CIVICLOOP["INSPECTIONS"], "OFF_SITE_METRES": 80},
    }
    rnd = round_create(
        **plan(
            city,
            type_weights=None,
            grade_bands=None,
            period_start="2026-11-17",
            period_end="2026-11-17",
        )
    )
    assert (rnd.type_weights, rnd.grade_bands, rnd.off_site_metres) == ({}, [], 80)
    assert (rnd.stratify, rnd.per_stratum) == ("street", 3)
    assert rnd.period_start == rnd.period_end == D0


def _draft_standard(city):
    return make_standard(city, code="SCZX", location_type="market", name="农贸市场测评标准")


BAD_CREATE = [
    ({"name": "  "}, "name"),
    ({"name": "轮" * 121}, "name"),
    ({"kind": "secret"}, "kind"),
    ({"area": None}, "area"),
    ({"area": "abc"}, "area"),
    ({"area": 999999}, "area"),
    ({"area": "c1"}, "area"),
    ({"area": "g1"}, "area"),
    ({"period_start": "17/11/2026"}, "period_start"),
    ({"period_start": T0}, "period_start"),
    ({"period_end": ""}, "period_end"),
    ({"period_end": D0 - dt.timedelta(days=1)}, "period_end"),
    ({"standards": []}, "standards"),
    ({"standards": None}, "standards"),
    ({"standards": [999999]}, "standards"),
    ({"standards": ["x"]}, "standards"),
    ({"standards": "draft"}, "standards"),
    ({"standards": "two_of_a_type"}, "standards"),
    ({"standards": "retired"}, "standards"),
    ({"stratify": "by_weather"}, "stratify"),
    ({"per_stratum": 0}, "per_stratum"),
    ({"per_stratum": 101}, "per_stratum"),
    ({"per_stratum": "three"}, "per_stratum"),
    ({"per_stratum": 2.5}, "per_stratum"),
    ({"per_stratum": True}, "per_stratum"),
    ({"per_stratum": None}, "per_stratum"),
    ({"type_weights": [1, 2]}, "type_weights"),
    ({"type_weights": {"castle": 1}}, "type_weights"),
    ({"type_weights": {"old_community": -1}}, "type_weights"),
    ({"type_weights": {"old_community": "heavy"}}, "type_weights"),
    ({"type_weights": {"old_community": "0.333"}}, "type_weights"),
    ({"type_weights": {"old_community": "NaN"}}, "type_weights"),
    ({"type_weights": {"old_community": "1001"}}, "type_weights"),
    ({"type_weights": {"old_community": None}}, "type_weights"),
    ({"type_weights": {"old_community": 0, "back_street": "0.00"}}, "type_weights"),
    ({"grade_bands": "A90"}, "grade_bands"),
    ({"grade_bands": [["A", 90, 1], ["B", 0]]}, "grade_bands"),
    ({"grade_bands": [["A"], ["B", 0]]}, "grade_bands"),
    ({"grade_bands": [["", 90], ["B", 0]]}, "grade_bands"),
    ({"grade_bands": [["VERYLONGGRADE", 90], ["B", 0]]}, "grade_bands"),
    ({"grade_bands": [["A", 90], ["A", 0]]}, "grade_bands"),
    ({"grade_bands": [["A", 60], ["B", 75], ["C", 0]]}, "grade_bands"),
    ({"grade_bands": [["A", 90], ["B", 90], ["C", 0]]}, "grade_bands"),
    ({"grade_bands": [["A", 90], ["B", 60]]}, "grade_bands"),
    ({"grade_bands": [["A", 101], ["B", 0]]}, "grade_bands"),
    ({"grade_bands": [["A", "ninety"], ["B", 0]]}, "grade_bands"),
    ({"grade_bands": [["A", "90.005"], ["B", 0]]}, "grade_bands"),
    ({"grade_bands": [["A", 90], ["B", -1]]}, "grade_bands"),
    ({"grade_bands": [[str(i), 100 - i] for i in range(10)] + [["Z", 0]]}, "grade_bands"),
    ({"off_site_metres": 0}, "off_site_metres"),
    ({"off_site_metres": 5001}, "off_site_metres"),
    ({"off_site_metres": "far"}, "off_site_metres"),
    ({"note": "注" * 2001}, "note"),
]


def _resolve(city, changes):
    resolved = dict(changes)
    if resolved.get("area") in city.areas:
        resolved["area"] = city.areas[resolved["area"]]
    standards = resolved.get("standards")
    if standards == "draft":
        resolved["standards"] = [_draft_standard(city)]
    elif standards == "two_of_a_type":
        other = make_standard(city, code="LXXQ2", publish=True)
        resolved["standards"] = [make_standards(city)["old_community"], other]
    elif standards == "retired":
        old = make_standards(city)["old_community"]
        newer = standard_new_version(standard=old, by=office(city), at=T0)
        standard_publish(standard=newer, by=office(city), at=T0)  # retires the version before
        old.refresh_from_db()
        assert old.status == "retired"
        resolved["standards"] = [old]
    return resolved


@pytest.mark.parametrize(
    ("changes", "field"), BAD_CREATE, ids=[f"{f}-{i}" for i, (_c, f) in enumerate(BAD_CREATE)]
)
def test_create_refuses_bad_input_and_writes_nothing(city, changes, field):
    kwargs = plan(city, **_resolve(city, changes))
    before = Round.objects.count()
    with pytest.raises(ValidationFailed) as info:
        round_create(**kwargs)
    assert info.value.field == field
    assert info.value.message
    assert Round.objects.count() == before


def test_standard_ids_are_accepted_and_repeats_collapse(city):
    standards = make_standards(city)
    ids = [s.pk for s in standards.values()]
    rnd = round_create(**plan(city, standards=ids + ids[:1]))
    assert sorted(rnd.standards.values_list("pk", flat=True)) == sorted(ids)


def test_only_the_campaign_office_of_the_area_and_admins_plan_rounds(city):
    for key in (
        "dispatcher",
        "inspector",
        "leader",
        "grid_worker",
        "unit_staff",
        "resident",
        "outsider",
    ):
        with pytest.raises(PermissionRefused):
            round_create(**plan(city, by=city.users[key]))
    office_b = User.objects.create_user(username="office_b", password="pw")
    RoleAssignment.objects.create(user=office_b, role=Role.CAMPAIGN_OFFICE, area=city.areas["dB"])
    with pytest.raises(PermissionRefused):
        round_create(**plan(city, by=office_b))
    with pytest.raises(PermissionRefused):
        round_create(**plan(city, by=office_b, area=city.areas["city"]))
    assert Round.objects.count() == 0
    assert round_create(**plan(city, by=office_b, area=city.areas["sB"])).area == city.areas["sB"]
    assert round_create(**plan(city, by=city.users["admin"], area=city.areas["city"])).pk


# ---- round_update --------------------------------------------------------------------------------


def test_update_changes_the_plan_and_bumps_the_version(city):
    rnd = make_round(city, draw=False)
    rnd = round_update(
        round=rnd,
        by=office(city),
        version=1,
        name="十一月暗访（第二批）",
        kind="open",
        period_end=D0 + dt.timedelta(days=20),
        grade_bands=[["A", 80], ["B", 0]],
    )
    rnd.refresh_from_db()
    assert (rnd.name, rnd.kind, rnd.period_end, rnd.grade_bands, rnd.version) == (
        "十一月暗访（第二批）",
        "open",
        D0 + dt.timedelta(days=20),
        [["A", "80"], ["B", "0"]],
        2,
    )
    rnd = round_update(round=rnd, by=office(city), area=city.areas["city"], type_weights={})
    rnd.refresh_from_db()
    assert rnd.area_path == city.areas["city"].path and rnd.type_weights == {}


def test_update_keeps_the_sample_unless_what_it_was_drawn_from_changes(city):
    rnd = make_round(city)
    drawn = site_ids(rnd)
    rnd = round_update(
        round=rnd, by=office(city), name="改名", note="备注", type_weights={"back_street": 2}
    )
    assert site_ids(rnd) == drawn and rnd.seed == SEED
    for change in (
        {"per_stratum": 2},
        {"stratify": "location_type"},
        {"area": "sA"},
        {"standards": [make_standards(city)["old_community"]]},
    ):
        rnd = round_draw(round=rnd, by=office(city), seed=SEED)
        assert rnd.locations.exists()
        rnd = round_update(round=rnd, by=office(city), **_resolve(city, change))
        rnd.refresh_from_db()
        assert not rnd.locations.exists(), change
        assert (rnd.seed, rnd.frame, rnd.drawn_at) == (None, [], None)
    # The same value again is no change.
    rnd = round_draw(round=rnd, by=office(city), seed=SEED)
    rnd = round_update(round=rnd, by=office(city), per_stratum=2, stratify="location_type")
    assert rnd.locations.exists()


def test_update_refuses_bad_input_and_writes_nothing(city):
    rnd = make_round(city)
    before = (rnd.name, rnd.period_end, rnd.version, site_ids(rnd))
    for changes, field in [
        *BAD_CREATE,
        ({"period_start": D0 + dt.timedelta(days=14)}, "period_end"),
    ]:
        with pytest.raises(ValidationFailed) as info:
            round_update(round=rnd, by=office(city), **_resolve(city, changes))
        assert info.value.field == field, changes
    rnd.refresh_from_db()
    assert (rnd.name, rnd.period_end, rnd.version, site_ids(rnd)) == before
    with pytest.raises(TypeError):
        round_update(round=rnd, by=office(city), status="published")


def test_update_only_while_planning_by_the_owner_with_a_fresh_copy(city):
    rnd = make_round(city, kind="open")
    with pytest.raises(ConflictError):
        round_update(round=rnd, by=office(city), version=rnd.version - 1, name="x")
    with pytest.raises(NotFoundOrForbidden):  # an undercover or draft round does not exist for him
        round_update(round=rnd, by=city.users["dispatcher"], name="x")
    with pytest.raises(PermissionRefused):  # its inspector sees it but does not plan it
        round_update(round=rnd, by=city.users["inspector"], name="x")
    office_b = User.objects.create_user(username="office_b", password="pw")
    RoleAssignment.objects.create(user=office_b, role=Role.CAMPAIGN_OFFICE, area=city.areas["dB"])
    own = make_round(city, area="sB", by="admin", draw=False)
    with pytest.raises(PermissionRefused):  # may not move his round into dA
        round_update(round=own, by=office_b, area=city.areas["dA"])
    assert round_update(round=own, by=office_b, area=city.areas["dB"]).area == city.areas["dB"]
    rnd = advance(city, rnd, "active")
    with pytest.raises(TransitionRefused):
        round_update(round=rnd, by=office(city), name="x")
    assert Round.objects.get(pk=rnd.pk).name != "x"


# ---- round_draw ----------------------------------------------------------------------------------


def test_draw_records_seed_frame_and_a_reproducible_stratified_sample(city):
    sites = make_sites(city)
    rnd = make_round(city, area="city", per_stratum=2, draw=False, inspectors=())
    rnd = round_draw(round=rnd, by=office(city), seed=7, at=T0 + dt.timedelta(minutes=3))
    rnd.refresh_from_db()
    assert (rnd.seed, rnd.drawn_at, rnd.version) == (7, T0 + dt.timedelta(minutes=3), 2)
    assert rnd.frame == [
        [s.pk, "东关街道"]
        for s in sorted(
            (sites[k] for k in ("c1_street", "c1_old", "c1_old2", "c2_street", "c2_old")),
            key=lambda s: s.pk,
        )
    ] + [
        [s.pk, "西门街道"]
        for s in sorted((sites["c3_street"], sites["c3_old"]), key=lambda s: s.pk)
    ]
    locations = list(rnd.locations.order_by("draw_order"))
    assert [(loc.site_id, loc.stratum) for loc in locations] == draw(
        [tuple(row) for row in rnd.frame], 2, 7
    )
    assert [loc.draw_order for loc in locations] == [1, 2, 3, 4]
    standards = make_standards(city)
    assert all(loc.standard == standards[loc.site.location_type] for loc in locations)
    assert all(loc.inspector is None and loc.status == LocationStatus.PENDING for loc in locations)
    # The same seed draws the same sample again (the draw replaces the earlier one).
    again = round_draw(round=rnd, by=office(city), seed=7)
    assert [(loc.site_id, loc.stratum) for loc in again.locations.order_by("draw_order")] == [
        (loc.site_id, loc.stratum) for loc in locations
    ]
    assert RoundLocation.objects.filter(round=rnd).count() == 4


def test_draw_without_a_seed_records_a_fresh_one_that_redraws_the_sample(city):
    rnd = make_round(city, per_stratum=2, draw=False)
    seeds = set()
    for _ in range(3):
        rnd = round_draw(round=rnd, by=office(city))
        rnd.refresh_from_db()
        assert 0 <= rnd.seed < 2**63
        seeds.add(rnd.seed)
        assert [(loc.site_id, loc.stratum) for loc in rnd.locations.order_by("draw_order")] == draw(
            [tuple(row) for row in rnd.frame], rnd.per_stratum, rnd.seed
        )
    assert len(seeds) == 3


def test_strata_by_type_and_by_street_and_type(city):
    make_sites(city)
    rnd = make_round(city, area="city", stratify="location_type", per_stratum=1)
    assert sorted(rnd.locations.values_list("stratum", flat=True)) == [
        "Back street (背街小巷)",
        "Old community (老旧小区)",
    ]
    assert sorted({label for _pk, label in rnd.frame}) == [
        "Back street (背街小巷)",
        "Old community (老旧小区)",
    ]
    rnd = make_round(city, area="city", stratify="street_and_type", per_stratum=1)
    assert sorted(rnd.locations.values_list("stratum", flat=True)) == [
        "东关街道 · Back street (背街小巷)",
        "东关街道 · Old community (老旧小区)",
        "西门街道 · Back street (背街小巷)",
        "西门街道 · Old community (老旧小区)",
    ]


def test_two_street_offices_of_one_name_stay_two_strata(city):
    make_sites(city)
    city.areas["sB"].name = "东关街道"
    city.areas["sB"].save()
    rnd = make_round(city, area="city", per_stratum=1)
    assert sorted(rnd.locations.values_list("stratum", flat=True)) == [
        "东关街道 (650102001)",
        "东关街道 (650103001)",
    ]


def test_the_frame_holds_active_sites_of_the_area_with_a_standard_for_their_type(city):
    sites = make_sites(city)
    only_old = make_round(city, standards=[make_standards(city)["old_community"]], draw=False)
    assert {pk for pk, _ in sampling_frame(only_old)} == {
        sites[k].pk for k in ("c1_old", "c1_old2", "c2_old")
    }
    site_deactivate(site=sites["c1_old2"], by=office(city))
    street = make_round(city, area="sB", draw=False)
    assert {pk for pk, _ in sampling_frame(street)} == {sites["c3_street"].pk, sites["c3_old"].pk}
    rnd = round_draw(round=only_old, by=office(city), seed=1)
    assert set(site_ids(rnd)) == {sites["c1_old"].pk, sites["c2_old"].pk}


def test_draw_assigns_the_round_inspectors_round_robin(city):
    second = make_inspector(city)
    rnd = make_round(city, inspectors=("inspector", "inspector2"))
    got = list(rnd.locations.order_by("draw_order").values_list("inspector", flat=True))
    inspector = city.users["inspector"]
    assert got == [inspector.pk, second.pk, inspector.pk, second.pk, inspector.pk]


def test_draw_refuses(city):
    rnd = make_round(city, draw=False)
    rnd = round_assign(round=rnd, by=office(city), inspectors=[city.users["inspector"]])
    for seed in (-1, 2**63, "lucky", 1.5):
        with pytest.raises(ValidationFailed) as info:
            round_draw(round=rnd, by=office(city), seed=seed)
        assert info.value.field == "seed"
    with pytest.raises(ConflictError):
        round_draw(round=rnd, by=office(city), seed=1, version=0)
    with pytest.raises(NotFoundOrForbidden):
        round_draw(round=rnd, by=city.users["leader_b"], seed=1)
    with pytest.raises(PermissionRefused):
        round_draw(round=rnd, by=city.users["inspector"], seed=1)
    rnd.refresh_from_db()
    assert rnd.seed is None and not rnd.locations.exists() and rnd.version == 2  # (assigned once)
    # Nothing to draw from: a market standard, and no market registered.
    market = make_standard(
        city, code="SCZX", location_type="market", name="农贸市场测评标准", publish=True
    )
    empty = make_round(city, standards=[market], draw=False)
    with pytest.raises(ValidationFailed) as info:
        round_draw(round=empty, by=office(city), seed=1)
    assert "register sites" in info.value.message
    empty.refresh_from_db()
    assert empty.seed is None and empty.drawn_at is None
    active = make_round(city, status="active")
    with pytest.raises(TransitionRefused):
        round_draw(round=active, by=office(city), seed=1)


def test_a_lookback_round_draws_no_sample(city):
    earlier = make_round(city)
    lookback = make_round(city, draw=False)
    Round.objects.filter(pk=lookback.pk).update(lookback_of=earlier)
    lookback.refresh_from_db()
    with pytest.raises(TransitionRefused):
        round_draw(round=lookback, by=office(city), seed=1)
    for change in (
        {"area": city.areas["sA"]},
        {"per_stratum": 2},
        {"standards": [make_standards(city)["old_community"]]},
    ):
        with pytest.raises(ValidationFailed):
            round_update(round=lookback, by=office(city), **change)
    # The same values again (a form sends the whole plan) are no change.
    same = {
        "area": city.areas["dA"],
        "per_stratum": 10,
        "stratify": "street",
        "standards": list(lookback.standards.all()),
    }
    assert round_update(round=lookback, by=office(city), name="回头看", **same).name == "回头看"


# ---- round_assign --------------------------------------------------------------------------------


def test_assign_sets_inspectors_and_explicit_locations(city):
    second = make_inspector(city)
    rnd = make_round(city, inspectors=())
    first, *rest = list(rnd.locations.order_by("draw_order"))
    inspector = city.users["inspector"]
    rnd = round_assign(
        round=rnd,
        by=office(city),
        inspectors=[inspector.pk, second, inspector],
        assignments={first.pk: second, rest[0]: second.pk},
    )
    assert list(rnd.inspectors.order_by("username")) == [inspector, second]
    got = list(rnd.locations.order_by("draw_order").values_list("inspector", flat=True))
    # The two given, then the others round-robin in draw order.
    assert got == [second.pk, second.pk, inspector.pk, second.pk, inspector.pk]
    rnd = round_assign(round=rnd, by=office(city), inspectors=[second])
    assert set(rnd.locations.values_list("inspector", flat=True)) == {second.pk}
    assert list(rnd.inspectors.all()) == [second]


def test_inspectors_must_be_inspectors_of_an_overlapping_area(city):
    rnd = make_round(city, inspectors=())
    make_inspector(city, "inspector_b", "dB")
    make_inspector(city, "inspector_c1", "c1")
    make_inspector(city, "inspector_city", "city")
    for bad in (
        ["inspector_b"],
        ["dispatcher"],
        ["campaign_office"],
        ["admin"],
        ["outsider"],
        ["inspector", "leader"],
    ):
        with pytest.raises(ValidationFailed) as info:
            round_assign(round=rnd, by=office(city), inspectors=[city.users[k] for k in bad])
        assert info.value.field == "inspectors"
    for bad in ([], None, [999999], ["x"]):
        with pytest.raises(ValidationFailed):
            round_assign(round=rnd, by=office(city), inspectors=bad)
    gone = city.users["inspector"]
    gone.is_active = False
    gone.save()
    with pytest.raises(ValidationFailed):
        round_assign(round=rnd, by=office(city), inspectors=[gone])
    assert not rnd.inspectors.exists() and not rnd.locations.exclude(inspector=None).exists()
    rnd = round_assign(
        round=rnd,
        by=office(city),
        inspectors=[city.users["inspector_c1"], city.users["inspector_city"]],
    )
    assert rnd.inspectors.count() == 2
    # A city-wide round may take an inspector of district B.
    wide = make_round(city, area="city", inspectors=("inspector_b",))
    assert set(wide.locations.values_list("inspector", flat=True)) == {city.users["inspector_b"].pk}


def test_assign_refuses_bad_assignments(city):
    second = make_inspector(city)
    rnd = make_round(city)
    other = make_round(city, area="sB")
    foreign = other.locations.first()
    location = rnd.locations.first()
    for assignments in (
        {foreign.pk: city.users["inspector"]},
        {999999: second},
        {"x": second},
        {location.pk: second},
    ):
        with pytest.raises(ValidationFailed) as info:
            round_assign(
                round=rnd,
                by=office(city),
                inspectors=[city.users["inspector"]],
                assignments=assignments,
            )
        assert info.value.field == "assignments"
    assert set(rnd.locations.values_list("inspector", flat=True)) == {city.users["inspector"].pk}
    assert list(rnd.inspectors.all()) == [city.users["inspector"]]


def test_while_inspecting_only_locations_not_yet_inspected_change_hands(city):
    second = make_inspector(city)
    inspector = city.users["inspector"]
    rnd = make_round(city, status="active")
    done = rnd.locations.order_by("draw_order").first()
    RoundLocation.objects.filter(pk=done.pk).update(status=LocationStatus.DONE)  # as a visit would
    with pytest.raises(ValidationFailed):  # the one who inspected stays among the inspectors
        round_assign(round=rnd, by=office(city), inspectors=[second])
    with pytest.raises(ValidationFailed):
        round_assign(
            round=rnd,
            by=office(city),
            inspectors=[inspector, second],
            assignments={done.pk: second},
        )
    rnd = round_assign(round=rnd, by=office(city), inspectors=[second, inspector])
    got = dict(rnd.locations.values_list("pk", "inspector"))
    assert got.pop(done.pk) == inspector.pk
    assert list(got.values()).count(second.pk) == 2 and list(got.values()).count(inspector.pk) == 2
    rnd = advance(city, rnd, "closed")
    with pytest.raises(TransitionRefused):
        round_assign(round=rnd, by=office(city), inspectors=[inspector])


def test_assign_is_for_the_owner_with_a_fresh_copy(city):
    rnd = make_round(city)
    with pytest.raises(ConflictError):
        round_assign(
            round=rnd,
            by=office(city),
            inspectors=[city.users["inspector"]],
            version=rnd.version + 1,
        )
    with pytest.raises(PermissionRefused):
        round_assign(round=rnd, by=city.users["inspector"], inspectors=[city.users["inspector"]])
    with pytest.raises(NotFoundOrForbidden):
        round_assign(
            round=rnd, by=city.users["community_staff"], inspectors=[city.users["inspector"]]
        )


# ---- start, close, publish -----------------------------------------------------------------------


def test_the_lifecycle_records_times_and_versions(city, monkeypatch):
    calls = []
    monkeypatch.setattr(rectification, "findings_open_cases", lambda **kw: calls.append(kw) or [])
    rnd = make_round(city)
    v = rnd.version
    rnd = round_start(round=rnd, by=office(city), version=v, at=T0 + dt.timedelta(hours=2))
    assert (rnd.status, rnd.started_at, rnd.version) == (
        "active",
        T0 + dt.timedelta(hours=2),
        v + 1,
    )
    rnd = round_close(round=rnd, by=office(city), version=v + 1, at=T0 + dt.timedelta(days=5))
    assert (rnd.status, rnd.closed_at, rnd.version) == ("closed", T0 + dt.timedelta(days=5), v + 2)
    assert not calls
    rnd = round_publish(
        round=rnd, by=city.users["admin"], version=v + 2, at=T0 + dt.timedelta(days=6)
    )
    assert (rnd.status, rnd.published_at, rnd.published_by, rnd.version) == (
        "published",
        T0 + dt.timedelta(days=6),
        city.users["admin"],
        v + 3,
    )
    assert calls == [{"round": rnd, "by": city.users["admin"], "at": T0 + dt.timedelta(days=6)}]
    assert calls[0]["round"].status == "published"
    fresh = Round.objects.get(pk=rnd.pk)
    assert (fresh.status, fresh.started_at, fresh.closed_at, fresh.published_by) == (
        "published",
        T0 + dt.timedelta(hours=2),
        T0 + dt.timedelta(days=5),
        city.users["admin"],
    )


def test_publish_and_the_rectification_cases_are_one_transaction(city, monkeypatch):
    def fail(**kw):
        raise ValidationFailed("no category for the finding")

    monkeypatch.setattr(rectification, "findings_open_cases", fail)
    rnd = make_round(city, status="closed")
    with pytest.raises(ValidationFailed):
        round_publish(round=rnd, by=office(city))
    fresh = Round.objects.get(pk=rnd.pk)
    assert (fresh.status, fresh.published_at, fresh.published_by, fresh.version) == (
        "closed",
        None,
        None,
        rnd.version,
    )


def test_start_needs_a_sample_and_inspectors(city):
    rnd = make_round(city, draw=False)
    with pytest.raises(TransitionRefused) as info:
        round_start(round=rnd, by=office(city))
    assert "Draw the sample" in info.value.message
    rnd = round_draw(round=rnd, by=office(city), seed=SEED)
    with pytest.raises(TransitionRefused) as info:
        round_start(round=rnd, by=office(city))
    assert "Assign inspectors" in info.value.message
    rnd.refresh_from_db()
    assert (rnd.status, rnd.started_at) == ("draft", None)
    rnd = round_assign(round=rnd, by=office(city), inspectors=[city.users["inspector"]])
    assert round_start(round=rnd, by=office(city)).status == "active"


def test_a_round_with_inspectors_may_start_with_locations_left_to_share(city):
    rnd = make_round(city)
    RoundLocation.objects.filter(round=rnd).update(inspector=None)
    assert round_start(round=rnd, by=office(city)).status == "active"


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("active", round_start),
        ("closed", round_start),
        ("draft", round_close),
        ("closed", round_close),
        ("draft", round_publish),
        ("active", round_publish),
    ],
)
def test_transitions_out_of_order_are_refused(city, status, action):
    rnd = make_round(city, status=status)
    with pytest.raises(TransitionRefused):
        action(round=rnd, by=office(city))
    fresh = Round.objects.get(pk=rnd.pk)
    assert (fresh.status, fresh.version) == (status, rnd.version)


def test_a_published_round_is_final(city, monkeypatch):
    monkeypatch.setattr(rectification, "findings_open_cases", lambda **kw: [])
    rnd = make_round(city, status="published")
    for action in (round_start, round_close, round_publish):
        with pytest.raises(TransitionRefused):
            action(round=rnd, by=office(city))
    with pytest.raises(TransitionRefused):
        round_update(round=rnd, by=office(city), name="x")
    with pytest.raises(TransitionRefused):
        round_draw(round=rnd, by=office(city))


@pytest.mark.parametrize(
    ("status", "action"),
    [("draft", round_start), ("active", round_close), ("closed", round_publish)],
)
def test_transitions_check_the_version_and_the_actor(city, status, action, monkeypatch):
    monkeypatch.setattr(rectification, "findings_open_cases", lambda **kw: [])
    rnd = make_round(city, status=status, kind="open")
    with pytest.raises(ConflictError):
        action(round=rnd, by=office(city), version=rnd.version - 1)
    with pytest.raises(PermissionRefused):
        action(round=rnd, by=city.users["inspector"])
    with pytest.raises(NotFoundOrForbidden):
        action(round=rnd, by=city.users["outsider"])
    with pytest.raises(NotFoundOrForbidden):
        action(round=rnd, by=None)
    if (
        status != "draft"
    ):  # an open round is read by the area's staff once started: seen, not managed
        with pytest.raises(PermissionRefused):
            action(round=rnd, by=city.users["leader"])
    assert Round.objects.get(pk=rnd.pk).status == status
    assert action(round=rnd, by=office(city), version=rnd.version).version == rnd.version + 1


def test_a_retired_standard_stays_pinned_to_the_round_that_uses_it(city):
    rnd = make_round(city, status="active")
    standard = make_standards(city)["old_community"]
    standard_retire(standard=standard, by=office(city), at=T0)
    assert Standard.objects.get(pk=standard.pk).status == "retired"
    assert set(
        rnd.locations.filter(site__location_type="old_community").values_list("standard", flat=True)
    ) == {standard.pk}
    assert round_close(round=rnd, by=office(city)).status == "closed"


def test_publishing_opens_a_rectification_case_for_every_finding(city):
    rnd = make_round(city, status="active")
    first, second = rnd.locations.order_by("draw_order")[:2]
    record_visit(first, found={(1, 1): 2, (2, 2): 1})
    record_visit(second)  # nothing found
    rnd = advance(city, rnd, "published")
    findings = Finding.objects.filter(visit__location__round=rnd)
    assert findings.count() == 2
    assert all(f.case_id is not None for f in findings)
    assert {f.case.unit for f in findings} == {city.units["hwc"], first.site.unit}


def test_the_area_moves_only_where_the_round_inspectors_work(city):
    rnd = make_round(city)  # inspector of dA assigned
    with pytest.raises(ValidationFailed) as info:
        round_update(round=rnd, by=office(city), area=city.areas["sB"])
    assert info.value.field == "area" and "inspector" in info.value.message
    rnd.refresh_from_db()
    assert rnd.area == city.areas["dA"] and rnd.locations.exists()
    assert (
        round_update(round=rnd, by=office(city), area=city.areas["city"]).area == city.areas["city"]
    )


def test_strata_do_not_depend_on_the_language_of_whoever_draws(city):
    from django.utils import translation

    rnd = make_round(city, area="city", stratify="street_and_type", draw=False)
    english = sampling_frame(rnd)
    with translation.override("zh-hans"):
        assert sampling_frame(rnd) == english
        drawn = round_draw(round=rnd, by=office(city), seed=SEED)
    assert [(loc.site_id, loc.stratum) for loc in drawn.locations.order_by("draw_order")] == draw(
        english, 10, SEED
    )
