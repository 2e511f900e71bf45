"""The register of inspection sites: site_create, site_update, site_deactivate, sites_from_places."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import LineString, Polygon, box, mapping

from civicloop.core.errors import NotFoundOrForbidden, PermissionRefused, ValidationFailed
from civicloop.inspections.models import Site
from civicloop.inspections.rounds import sampling_frame
from civicloop.inspections.sites import site_create, site_deactivate, site_update, sites_from_places
from civicloop.org.models import Role, RoleAssignment, User
from civicloop.places.models import BackStreet, Compound
from civicloop.testing import LAT0, LON0, STEP

from .round_helpers import make_round, make_sites, site_box

pytestmark = pytest.mark.django_db


def create(city, **kw):
    kw.setdefault("by", city.users["campaign_office"])
    kw.setdefault("name", "幸福巷")
    kw.setdefault("location_type", "back_street")
    kw.setdefault("geometry", mapping(site_box(0.2, 1.4, 1.6, 1.5)))
    return site_create(**kw)


def refused(city, exc, field=None, **kw):
    before = Site.objects.count()
    with pytest.raises(exc) as info:
        create(city, **kw)
    assert Site.objects.count() == before, "nothing is written"
    if field is not None:
        assert info.value.field == field
    return info.value


# ---- site_create ----------------------------------------------------------------------------------


def test_a_site_lies_in_the_community_that_covers_it(city):
    site = create(city, unit=city.units["jwc1"], address="幸福路12号")
    assert site.area == city.areas["c1"]
    assert site.area_path == city.areas["c1"].path
    assert site.unit == city.units["jwc1"] and site.address == "幸福路12号" and site.active
    assert site.shape.equals(site_box(0.2, 1.4, 1.6, 1.5))
    assert (site.min_lon, site.max_lat) == pytest.approx((LON0 + 0.2 * STEP, LAT0 + 1.5 * STEP))


def test_geometry_may_be_shapely_a_feature_or_geojson_text(city):
    a = create(city, name="甲", geometry=site_box(0.2, 0.2, 0.4, 0.4))
    b = create(
        city,
        name="乙",
        geometry={
            "type": "Feature",
            "properties": {},
            "geometry": mapping(site_box(0.5, 0.2, 0.7, 0.4)),
        },
    )
    c = create(city, name="丙", geometry=json.dumps(mapping(site_box(0.8, 0.2, 0.9, 0.4))))
    d = create(
        city, name="丁", geometry={"type": "Point", "coordinates": [LON0 + 2.5 * STEP, LAT0 + STEP]}
    )
    assert [s.area for s in (a, b, c, d)] == [city.areas["c1"]] * 3 + [city.areas["c2"]]


def test_a_back_street_crossing_two_communities_lies_in_its_street_office(city):
    lane = LineString([(LON0 + 1.5 * STEP, LAT0 + STEP), (LON0 + 2.5 * STEP, LAT0 + STEP)]).buffer(
        0.00005
    )
    site = create(city, geometry=lane)
    assert site.area == city.areas["sA"]


def test_an_explicit_area_must_be_a_community_or_street_that_holds_the_site(city):
    assert create(city, area=city.areas["sA"]).area == city.areas["sA"]
    assert create(city, name="另一条巷", area=city.areas["c1"].pk).area == city.areas["c1"]
    refused(city, ValidationFailed, "area", name="x", area=city.areas["g1"])
    refused(city, ValidationFailed, "area", name="x", area=city.areas["dA"])
    refused(city, ValidationFailed, "geometry", name="x", area=city.areas["c3"])
    refused(city, ValidationFailed, "area", name="x", area=999999)


@pytest.mark.parametrize(
    "geometry",
    [
        "not json",
        "[1, 2]",
        {"type": "Polygon"},
        {"coordinates": [[0, 0]]},
        {"type": "Polygon", "coordinates": "x"},
        {"type": "Feature", "geometry": None},
        {"type": "Polygon", "coordinates": []},
        42,
    ],
)
def test_malformed_geometry_is_refused(city, geometry):
    refused(city, ValidationFailed, "geometry", geometry=geometry)


def test_empty_invalid_projected_and_outside_geometries_are_refused(city):
    x0, y0 = LON0 + 0.2 * STEP, LAT0 + 0.2 * STEP
    bowtie = Polygon(
        [(x0, y0), (x0 + 0.001, y0 + 0.001), (x0 + 0.001, y0), (x0, y0 + 0.001), (x0, y0)]
    )
    assert "not valid" in refused(city, ValidationFailed, "geometry", geometry=bowtie).message
    assert "empty" in refused(city, ValidationFailed, "geometry", geometry=Polygon()).message
    assert (
        "WGS-84"
        in refused(
            city, ValidationFailed, "geometry", geometry=box(500000, 4500000, 500100, 4500100)
        ).message
    )
    assert (
        "outside the city"
        in refused(
            city, ValidationFailed, "geometry", geometry=box(116.3, 39.9, 116.31, 39.91)
        ).message
    )
    # Partly outside the city is outside too.
    across = box(LON0 + 3.9 * STEP, LAT0 + STEP, LON0 + 4.1 * STEP, LAT0 + 1.1 * STEP)
    refused(city, ValidationFailed, "geometry", geometry=across)


def test_name_type_address_and_unit_are_checked(city):
    refused(city, ValidationFailed, "name", name="   ")
    refused(city, ValidationFailed, "name", name="巷" * 121)
    refused(city, ValidationFailed, "location_type", location_type="castle")
    refused(city, ValidationFailed, "address", address="路" * 201)
    refused(city, ValidationFailed, "unit", unit=999999)
    unit = city.units["ylj"]
    unit.active = False
    unit.save()
    refused(city, ValidationFailed, "unit", unit=unit)


def test_a_name_is_unique_per_area_and_type(city):
    create(city)
    assert "already has" in refused(city, ValidationFailed, "name").message
    assert create(city, location_type="old_community").location_type == "old_community"


def test_only_the_campaign_office_of_the_area_and_admins_register_sites(city):
    for key in (
        "dispatcher",
        "inspector",
        "leader",
        "grid_worker",
        "community_staff",
        "resident",
        "outsider",
    ):
        refused(city, PermissionRefused, by=city.users[key])
    office_b = User.objects.create_user(username="office_b", password="pw")
    RoleAssignment.objects.create(user=office_b, role=Role.CAMPAIGN_OFFICE, area=city.areas["dB"])
    refused(city, PermissionRefused, by=office_b)
    assert (
        create(city, by=office_b, name="团结巷", geometry=site_box(3.2, 1.4, 3.8, 1.5)).area
        == city.areas["c3"]
    )
    assert create(city, by=city.users["admin"]).pk


def test_a_mapped_place_is_registered_once(city):
    compound = _compound(city, "光明小区", 1995, site_box(0.2, 0.2, 0.7, 0.7))
    create(
        city,
        name="光明小区",
        location_type="old_community",
        geometry=compound.shape,
        compound=compound,
    )
    refused(
        city,
        ValidationFailed,
        "compound",
        name="又一个",
        location_type="old_community",
        geometry=compound.shape,
        compound=compound,
    )
    street = _back_street(city, "幸福巷", site_box(0.2, 1.4, 1.6, 1.5))
    refused(city, ValidationFailed, "compound", name="x", compound=compound, back_street=street)


# ---- site_update and site_deactivate ------------------------------------------------------------


def test_update_renames_moves_and_reassigns(city):
    site = create(city)
    site = site_update(
        site=site,
        by=city.users["campaign_office"],
        name="  新 幸福巷 ",
        unit=city.units["wy"],
        address="幸福路",
    )
    assert (site.name, site.unit, site.address) == ("新 幸福巷", city.units["wy"], "幸福路")
    # Moved without an area: it lands in the community it now lies in.
    site = site_update(
        site=site, by=city.users["campaign_office"], geometry=site_box(3.2, 1.4, 3.8, 1.5)
    )
    assert site.area == city.areas["c3"] and site.area_path == city.areas["c3"].path
    site.refresh_from_db()
    assert site.shape.equals(site_box(3.2, 1.4, 3.8, 1.5))
    site = site_update(site=site, by=city.users["campaign_office"], area=city.areas["sB"])
    assert site.area == city.areas["sB"]


def test_update_refuses_bad_input_and_writes_nothing(city):
    site = create(city)
    other = create(city, name="光明巷", geometry=site_box(0.2, 1.6, 1.6, 1.7))
    office = city.users["campaign_office"]
    bad = [
        ({"name": ""}, "name"),
        ({"name": "光明巷"}, "name"),
        ({"location_type": "castle"}, "location_type"),
        ({"geometry": "nope"}, "geometry"),
        ({"geometry": box(116.3, 39.9, 116.31, 39.91)}, "geometry"),
        ({"area": city.areas["g1"]}, "area"),
        ({"area": city.areas["c3"]}, "geometry"),
        ({"unit": 999999}, "unit"),
    ]
    for changes, field in bad:
        with pytest.raises(ValidationFailed) as info:
            site_update(site=site, by=office, **changes)
        assert info.value.field == field, changes
    with pytest.raises(TypeError):
        site_update(site=site, by=office, created_at=None)
    fresh = Site.objects.get(pk=site.pk)
    assert (fresh.name, fresh.area_id, fresh.geometry) == (site.name, site.area_id, site.geometry)
    assert other.name == "光明巷"


def test_update_and_deactivate_are_for_the_campaign_office(city):
    site = create(city)
    with pytest.raises(PermissionRefused):  # sees the register of dA, may not change it
        site_update(site=site, by=city.users["dispatcher"], name="x")
    with pytest.raises(NotFoundOrForbidden):  # does not even see it
        site_deactivate(site=site, by=city.users["outsider"])
    with pytest.raises(NotFoundOrForbidden):
        site_update(site=site, by=city.users["dispatcher_b"], name="x")
    office_b = User.objects.create_user(username="office_b", password="pw")
    RoleAssignment.objects.create(user=office_b, role=Role.CAMPAIGN_OFFICE, area=city.areas["dB"])
    with pytest.raises(NotFoundOrForbidden):  # a site of dA is not in his register at all
        site_update(
            site=Site.objects.get(pk=site.pk), by=office_b, geometry=site_box(3.2, 1.4, 3.8, 1.5)
        )
    site = create(city, by=office_b, name="团结巷", geometry=site_box(3.2, 1.4, 3.8, 1.5))
    with pytest.raises(PermissionRefused):  # and moving one of dB into dA needs the office of dA
        site_update(site=site, by=office_b, geometry=site_box(0.2, 1.6, 1.6, 1.7))
    assert Site.objects.get(pk=site.pk).area == city.areas["c3"]


def test_a_deactivated_site_leaves_the_sampling_frame(city):
    sites = make_sites(city)
    rnd = make_round(city, draw=False)
    assert sites["c1_old"].pk in {pk for pk, _ in sampling_frame(rnd)}
    site = site_deactivate(site=sites["c1_old"], by=city.users["campaign_office"])
    assert not site.active
    assert sites["c1_old"].pk not in {pk for pk, _ in sampling_frame(rnd)}
    site = site_update(site=site, by=city.users["admin"], active=True)
    assert site.active


def test_the_type_of_a_site_sampled_by_an_unfinished_round_cannot_change(city):
    sites = make_sites(city)
    make_round(city)  # draft, drawn: every site of dA sampled
    with pytest.raises(ValidationFailed) as info:
        site_update(
            site=sites["c1_old"],
            by=city.users["campaign_office"],
            location_type="residential_compound",
        )
    assert info.value.field == "location_type"
    # Other changes still may.
    assert (
        site_update(
            site=sites["c1_old"], by=city.users["campaign_office"], address="幸福路1号"
        ).address
        == "幸福路1号"
    )
    # The sites of dB are not in that round.
    assert (
        site_update(
            site=sites["c3_old"],
            by=city.users["campaign_office"],
            location_type="residential_compound",
        ).location_type
        == "residential_compound"
    )


# ---- sites_from_places ----------------------------------------------------------------------------


def _compound(city, name, built_year, geom, community="c1"):
    c = Compound(name=name, community=city.areas[community], built_year=built_year)
    c.set_geometry(geom)
    c.save()
    return c


def _back_street(city, name, geom, street="sA"):
    s = BackStreet(name=name, street=city.areas[street])
    s.set_geometry(geom)
    s.save()
    return s


def test_sites_from_places_registers_compounds_and_back_streets_once(city):
    old = _compound(city, "幸福里小区", 1988, site_box(1.2, 0.2, 1.7, 0.7))
    new = _compound(city, "阳光花园", 2012, site_box(0.2, 0.2, 0.7, 0.7))
    unknown = _compound(city, "无名楼院", None, site_box(0.8, 0.2, 1.1, 0.7))
    lane = _back_street(city, "幸福巷", site_box(0.2, 1.4, 1.6, 1.5))
    across = _back_street(city, "东关巷", site_box(1.5, 1.0, 2.5, 1.1))
    lane_b = _back_street(city, "团结巷", site_box(3.2, 1.4, 3.8, 1.5), street="sB")
    assert sites_from_places(by=city.users["campaign_office"]) == 6
    by_place = {s.compound_id or -s.back_street_id: s for s in Site.objects.all()}
    assert by_place[old.pk].location_type == "old_community"
    assert by_place[new.pk].location_type == "residential_compound"
    assert by_place[unknown.pk].location_type == "residential_compound"
    assert by_place[old.pk].area == city.areas["c1"] and by_place[old.pk].unit == city.units["jwc1"]
    assert (
        by_place[-lane.pk].location_type == "back_street"
        and by_place[-lane.pk].area == city.areas["c1"]
    )
    # Across two communities: the street office, answered for by the street office.
    assert (
        by_place[-across.pk].area == city.areas["sA"]
        and by_place[-across.pk].unit == city.units["jdA"]
    )
    assert (
        by_place[-lane_b.pk].area == city.areas["c3"]
        and by_place[-lane_b.pk].unit == city.units["jwc3"]
    )
    assert by_place[old.pk].shape.equals(old.shape)
    # Idempotent.
    assert sites_from_places(by=city.users["campaign_office"]) == 0
    assert sites_from_places(by=city.users["admin"]) == 0
    assert Site.objects.count() == 6


def test_sites_from_places_in_one_area_and_for_the_right_people(city):
    _compound(city, "幸福里小区", 1988, site_box(1.2, 0.2, 1.7, 0.7))
    _back_street(city, "团结巷", site_box(3.2, 1.4, 3.8, 1.5), street="sB")
    with pytest.raises(PermissionRefused):
        sites_from_places(by=city.users["dispatcher"], area=city.areas["dA"])
    with pytest.raises(PermissionRefused):
        sites_from_places(by=city.users["dispatcher"])
    with pytest.raises(ValidationFailed):
        sites_from_places(by=city.users["campaign_office"], area=city.areas["g1"])
    assert Site.objects.count() == 0
    assert sites_from_places(by=city.users["campaign_office"], area=city.areas["dB"]) == 1
    assert Site.objects.get().name == "团结巷"
    office_b = User.objects.create_user(username="office_b", password="pw")
    RoleAssignment.objects.create(user=office_b, role=Role.CAMPAIGN_OFFICE, area=city.areas["dB"])
    assert sites_from_places(by=office_b) == 0  # the compound of dA is not his to register
    assert sites_from_places(by=city.users["campaign_office"], area=city.areas["c1"]) == 1


def test_sites_from_places_links_a_site_registered_by_hand_and_repairs_geometry(city):
    x0, y0 = LON0 + 0.2 * STEP, LAT0 + 0.2 * STEP
    bowtie = Polygon(
        [(x0, y0), (x0 + 0.0005, y0 + 0.0005), (x0 + 0.0005, y0), (x0, y0 + 0.0005), (x0, y0)]
    )
    broken = _compound(city, "蝴蝶小区", 1990, bowtie)
    by_hand = create(
        city,
        name="幸福里小区",
        location_type="old_community",
        geometry=site_box(1.2, 0.2, 1.7, 0.7),
    )
    mapped = _compound(city, "幸福里小区", 1988, site_box(1.2, 0.2, 1.7, 0.7))
    assert sites_from_places(by=city.users["campaign_office"]) == 1
    assert Site.objects.get(pk=by_hand.pk).compound == mapped
    repaired = Site.objects.get(compound=broken)
    assert repaired.shape.is_valid and not repaired.shape.is_empty
    assert sites_from_places(by=city.users["campaign_office"]) == 0


def test_sites_from_places_numbers_mapped_places_of_one_name(city):
    for west in (0.2, 0.8, 1.4):
        _compound(city, "1号院", 1985, site_box(west, 0.2, west + 0.4, 0.6))
    assert sites_from_places(by=city.users["campaign_office"]) == 3
    assert sorted(Site.objects.values_list("name", flat=True)) == [
        "1号院",
        "1号院 (2)",
        "1号院 (3)",
    ]
    assert sites_from_places(by=city.users["campaign_office"]) == 0


def test_a_site_a_published_round_inspected_keeps_its_type_area_and_unit(city):
    from .round_helpers import make_round

    rnd = make_round(city, status="published")
    site = rnd.locations.select_related("site").first().site
    by = city.users["campaign_office"]
    for change in ({"unit": city.units["ylj"]}, {"location_type": "market"}, {"area": site.area.parent}):
        with pytest.raises(ValidationFailed) as refused:
            site_update(site=site, by=by, **change)
        assert refused.value.field == next(iter(change))
    renamed = site_update(site=site, by=by, name=site.name + "（东段）", address="东段")
    assert renamed.address == "东段"


@pytest.mark.parametrize("text", ["[" * 200_000, '{"type": "Point", "coordinates": [' + "0," * 600_000 + "0]}"])
def test_deeply_nested_or_huge_geojson_is_refused_with_a_reason(city, text):
    with pytest.raises(ValidationFailed) as refused:
        site_create(by=city.users["campaign_office"], name="巷", location_type="back_street", geometry=text)
    assert refused.value.field == "geometry"
