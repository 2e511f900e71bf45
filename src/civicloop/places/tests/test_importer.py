"""Importing a city's areas from GeoJSON: the happy path, idempotence, and every way a file can be wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from civicloop.core.errors import ErrorCode, ValidationFailed
from civicloop.places.coords import wgs84_to_gcj02_array
from civicloop.places.importer import (
    AreaImportFailed,
    import_areas_from_file,
    import_areas_from_geojson,
)
from civicloop.places.models import Area, AreaKind, BackStreet, Compound, StreetClass
from civicloop.places.tests.geojson import (
    CITY,
    COMMUNITY,
    COMMUNITY_BOX,
    DISTRICT,
    GRIDS,
    STREET,
    box,
    city_features,
    collection,
    feature,
)

pytestmark = pytest.mark.django_db

# ≈ 1 m of longitude at 43.8° N is 1.25e-5°.
DEG_PER_M_LON = 1 / 80_350


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    return {
        "areas": list(
            Area.objects.order_by("code").values_list(
                "kind",
                "code",
                "name",
                "parent__code",
                "path",
                "geometry",
                "households",
                "population",
            )
        ),
        "compounds": list(
            Compound.objects.order_by("name").values_list(
                "name",
                "community__code",
                "geometry",
                "households",
                "buildings",
                "built_year",
                "osm_id",
            )
        ),
        "back_streets": list(
            BackStreet.objects.order_by("name").values_list(
                "name", "street__code", "geometry", "street_class", "length_m"
            )
        ),
    }


def assert_nothing_written(before: dict[str, list[tuple[Any, ...]]] | None = None) -> None:
    empty: dict[str, list[tuple[Any, ...]]] = {"areas": [], "compounds": [], "back_streets": []}
    assert snapshot() == (before if before is not None else empty)


def refused(data: Any, **kwargs: Any) -> AreaImportFailed:
    with pytest.raises(AreaImportFailed) as caught:
        import_areas_from_geojson(data, **kwargs)
    return caught.value


def features_with(index_or_code: int | str, **changes: Any) -> list[dict[str, Any]]:
    features = city_features()
    for f in features:
        if f["properties"].get("code") == index_or_code:
            target = f
            break
    else:
        target = features[int(index_or_code)]
    geometry = changes.pop("geometry", target["geometry"])
    target["geometry"] = geometry
    target["properties"].update(changes)
    for key in [k for k, v in target["properties"].items() if v is None]:
        del target["properties"][key]
    return features


# ---- happy path ----------------------------------------------------------------------------


def test_a_valid_city_is_imported_with_its_hierarchy() -> None:
    result = import_areas_from_geojson(collection())

    assert result.created == {
        "city": 1,
        "district": 1,
        "street": 1,
        "community": 1,
        "grid": 4,
        "compound": 1,
        "back_street": 1,
    }
    assert result.total == 10 and not result.warnings
    community = Area.objects.get(code=COMMUNITY)
    assert community.kind == AreaKind.COMMUNITY and community.households == 1523
    assert [a.code for a in community.ancestors()] == [CITY, DISTRICT, STREET]
    grids = Area.objects.filter(kind=AreaKind.GRID)
    assert sorted(g.code for g in grids) == sorted(GRIDS)
    assert all(g.parent_id == community.pk and g.path.startswith(community.path) for g in grids)
    grid = Area.objects.get(code="650102001001004")
    assert (grid.min_lon, grid.min_lat, grid.max_lon, grid.max_lat) == GRIDS["650102001001004"]

    compound = Compound.objects.get()
    assert (
        compound.community_id,
        compound.households,
        compound.buildings,
        compound.built_year,
        compound.osm_id,
    ) == (community.pk, 1523, 12, 1998, "way/123")


def test_a_back_street_line_becomes_a_footprint_in_metres() -> None:
    import_areas_from_geojson(collection())

    lane = BackStreet.objects.get()
    assert lane.street.code == STREET
    assert lane.street_class == StreetClass.BOUTIQUE  # given as 精品街
    assert lane.shape.geom_type == "Polygon"
    # 0.0038° of longitude at 43.801° N ≈ 305 m; the default width is 6 m.
    assert lane.length_m == pytest.approx(305.3, abs=1.0)
    width_deg = lane.max_lat - lane.min_lat
    assert width_deg * 111_100 == pytest.approx(6.0, abs=0.1)


def test_a_back_street_footprint_polygon_gets_an_estimated_length() -> None:
    features = features_with(
        "B1", geometry=box(87.6001, 43.80098, 87.6039, 43.80102), street_class="strict"
    )
    import_areas_from_geojson(collection(features))

    lane = BackStreet.objects.get()
    assert lane.street_class == StreetClass.STRICT
    assert lane.length_m == pytest.approx(305.3, abs=1.5)


def test_street_community_and_grid_may_leave_parent_code_to_their_code() -> None:
    features = city_features()
    for f in features:
        if f["properties"]["kind"] in ("street", "community", "grid"):
            del f["properties"]["parent_code"]
    import_areas_from_geojson(collection(features))
    assert Area.objects.get(code="650102001001003", parent__code=COMMUNITY)


def test_reimporting_the_same_file_changes_nothing() -> None:
    import_areas_from_geojson(collection())
    before = snapshot()

    result = import_areas_from_geojson(collection())

    assert sum(result.created.values()) == 0 and sum(result.updated.values()) == 0
    assert (
        result.unchanged["grid"] == 4
        and result.unchanged["compound"] == 1
        and result.unchanged["back_street"] == 1
    )
    assert snapshot() == before


def test_reimporting_updates_by_code() -> None:
    import_areas_from_geojson(collection())
    grid_pk = Area.objects.get(code="650102001001002").pk

    features = features_with("650102001001002", name="东北网格", population=300)
    result = import_areas_from_geojson(collection(features))

    assert result.updated["grid"] == 1 and result.unchanged["grid"] == 3
    grid = Area.objects.get(code="650102001001002")
    assert (grid.pk, grid.name, grid.population) == (grid_pk, "东北网格", 300)
    assert Area.objects.count() == 8


def test_a_file_may_add_grids_to_a_community_already_in_the_database() -> None:
    features = [f for f in city_features() if f["properties"]["code"] != "650102001001004"]
    import_areas_from_geojson(collection(features))

    only_new = [f for f in city_features() if f["properties"]["code"] == "650102001001004"]
    result = import_areas_from_geojson(collection(only_new))

    assert result.created["grid"] == 1
    assert Area.objects.get(code="650102001001004", parent__code=COMMUNITY)


def test_a_dry_run_reports_without_writing() -> None:
    result = import_areas_from_geojson(collection(), dry_run=True)
    assert result.dry_run and result.created["grid"] == 4
    assert_nothing_written()


def test_gcj02_files_are_stored_in_wgs84() -> None:
    features = city_features()
    for f in features:
        geom = shapely.transform(
            shape(f["geometry"]),
            lambda xy: np.column_stack(wgs84_to_gcj02_array(xy[:, 1], xy[:, 0])[::-1]),
        )
        f["geometry"] = geom.__geo_interface__
    import_areas_from_geojson(collection(features), crs="gcj02")

    grid = Area.objects.get(code="650102001001004")
    expected = GRIDS["650102001001004"]
    assert (grid.min_lon, grid.min_lat, grid.max_lon, grid.max_lat) == pytest.approx(
        expected, abs=1e-8
    )


def test_an_invalid_polygon_that_can_be_repaired_is_repaired_with_a_warning() -> None:
    west, south, east, north = COMMUNITY_BOX
    # A ring that runs around the community and back along its southern edge: a zero-width spike.
    spiky = {
        "type": "Polygon",
        "coordinates": [
            [
                [west, south],
                [east, south],
                [east, north],
                [west, north],
                [west, south],
                [87.601, south],
                [west, south],
            ]
        ],
    }
    features = features_with(COMMUNITY, geometry=spiky)
    result = import_areas_from_geojson(collection(features))

    assert len(result.warnings) == 1 and "features[3]" in result.warnings[0]
    assert Area.objects.get(code=COMMUNITY).shape.is_valid


def test_reads_files_and_reports_unreadable_ones(tmp_path: Path) -> None:
    good = tmp_path / "city.geojson"
    good.write_text(json.dumps(collection(), ensure_ascii=False), encoding="utf-8")
    assert import_areas_from_file(good).created["grid"] == 4

    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        import_areas_from_file(broken)
    assert caught.value.code == ErrorCode.BAD_FILE
    with pytest.raises(ValidationFailed):
        import_areas_from_file(tmp_path / "missing.geojson")


# ---- every way a file can be wrong: the error names the feature, and nothing is written ---------


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"type": "Feature", "properties": {}, "geometry": None},
        {"type": "FeatureCollection"},
        {"type": "FeatureCollection", "features": {"a": 1}},
        "FeatureCollection",
    ],
)
def test_a_file_that_is_not_a_feature_collection_is_refused(data: Any) -> None:
    error = refused(data)
    assert error.code == ErrorCode.BAD_FILE
    assert "FeatureCollection" in error.message
    assert_nothing_written()


def test_a_projected_crs_declaration_is_refused() -> None:
    data = collection()
    data["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
    error = refused(data)
    assert "EPSG::3857" in error.message
    assert_nothing_written()


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("not a feature", "GeoJSON Feature"),
        ({"type": "Feature", "geometry": box(*COMMUNITY_BOX)}, "properties"),
        (
            feature(box(*COMMUNITY_BOX), kind="village", code="650102001002", name="x"),
            "Unknown kind",
        ),
        (feature(box(*COMMUNITY_BOX), code="650102001002", name="x"), "Unknown kind"),
        (
            feature(box(*COMMUNITY_BOX), kind="community", name="无码社区", parent_code=STREET),
            "“code” is required",
        ),
        (
            feature(box(*COMMUNITY_BOX), kind="community", code="650102001002", parent_code=STREET),
            "“name” is required",
        ),
        (
            feature(None, kind="community", code="650102001002", name="x", parent_code=STREET),
            "no geometry",
        ),
        (
            feature(
                box(*COMMUNITY_BOX),
                kind="community",
                code="650102001002",
                name="x",
                parent_code=STREET,
                households=-3,
            ),
            "households",
        ),
        (
            feature(
                box(*COMMUNITY_BOX),
                kind="community",
                code="650102001002",
                name="x",
                parent_code=STREET,
                population="many",
            ),
            "population",
        ),
    ],
)
def test_malformed_features_are_refused(entry: Any, expected: str) -> None:
    features: list[Any] = [*city_features(), entry]
    error = refused(collection(features))
    assert len(error.errors) == 1
    assert error.errors[0].index == len(features) - 1
    assert expected in error.message
    assert_nothing_written()


@pytest.mark.parametrize(
    ("code", "changes", "expected"),
    [
        (DISTRICT, {"code": "65010"}, "exactly 6 digits"),
        (DISTRICT, {"code": "660102"}, "not in city 650100"),
        (STREET, {"code": "6501020011"}, "exactly 9 digits"),
        (STREET, {"code": "650103001"}, "followed by 3 digits"),
        ("650102001001004", {"code": "65010200100104"}, "exactly 15 digits"),
        ("650102001001004", {"code": "650102001002004"}, "followed by 3 digits"),
        ("650102001001004", {"code": "6501020010010x4"}, "exactly 15 digits"),
    ],
)
def test_codes_must_follow_gbt_30428(code: str, changes: dict[str, Any], expected: str) -> None:
    error = refused(collection(features_with(code, **changes)))
    assert expected in error.message
    assert_nothing_written()


def test_an_unknown_parent_is_refused() -> None:
    features = [
        *city_features(),
        feature(
            box(87.6, 43.8, 87.61, 43.81),
            kind="community",
            code="650102009001",
            name="孤儿社区",
            parent_code="650102009",
        ),
    ]
    error = refused(collection(features))
    assert (
        "650102009" in error.message and "neither in the file nor in the database" in error.message
    )
    assert error.errors[0].code == "650102009001"
    assert_nothing_written()


@pytest.mark.parametrize(
    ("code", "parent_code", "expected"),
    [
        (DISTRICT, DISTRICT, "must belong to a"),  # its own code: a district, not a city
        ("650102001001004", STREET, "must belong to a"),  # a grid under a street office
        ("C1", STREET, "must belong to a"),  # a compound under a street office
        ("B1", COMMUNITY, "must belong to a"),  # a back street under a community
        (CITY, CITY, "A city has no parent"),
    ],
)
def test_a_parent_of_the_wrong_kind_is_refused(code: str, parent_code: str, expected: str) -> None:
    error = refused(collection(features_with(code, parent_code=parent_code)))
    assert expected in error.message
    assert_nothing_written()


def test_compounds_and_back_streets_need_a_parent_code() -> None:
    features = features_with("C1", parent_code=None)
    error = refused(collection(features))
    assert "“parent_code” is required" in error.message
    assert_nothing_written()


def test_a_code_already_used_by_another_kind_is_refused() -> None:
    import_areas_from_geojson(collection())
    before = snapshot()
    # 650100 is the city; a file now claims it is a district.
    features = [
        feature(
            box(87.5, 43.7, 87.7, 43.9), kind="district", code=CITY, name="冒名区", parent_code=CITY
        )
    ]
    error = refused(collection(features))
    assert "already belongs to a" in error.message
    assert_nothing_written(before)


def test_a_code_twice_in_the_file_is_refused() -> None:
    features = [
        *city_features(),
        feature(
            box(*GRIDS["650102001001004"]),
            kind="grid",
            code="650102001001004",
            name="重复",
            parent_code=COMMUNITY,
        ),
    ]
    error = refused(collection(features))
    assert "appears twice" in error.message
    assert_nothing_written()


def test_a_grid_outside_its_community_is_refused() -> None:
    west, south, east, north = GRIDS["650102001001004"]
    shifted = box(west + 40 * DEG_PER_M_LON, south, east + 40 * DEG_PER_M_LON, north)
    error = refused(collection(features_with("650102001001004", geometry=shifted)))
    assert len(error.errors) == 1
    assert (
        "650102001001004 extends up to 40" in error.message
        and "outside its community" in error.message
    )
    assert_nothing_written()


def test_a_grid_sticking_out_by_digitising_noise_is_accepted() -> None:
    west, south, east, north = GRIDS["650102001001004"]
    noisy = box(west, south, east + 0.2 * DEG_PER_M_LON, north)
    import_areas_from_geojson(collection(features_with("650102001001004", geometry=noisy)))
    assert Area.objects.filter(kind=AreaKind.GRID).count() == 4


def test_overlapping_grids_of_one_community_are_refused() -> None:
    west, south, east, north = GRIDS["650102001001002"]
    widened = box(west - 30 * DEG_PER_M_LON, south, east, north)  # 30 m into grid 001
    error = refused(collection(features_with("650102001001002", geometry=widened)))
    assert len(error.errors) == 1
    assert error.errors[0].code == "650102001001002"
    assert "overlaps grid 650102001001001" in error.message
    assert_nothing_written()


def test_a_sliver_overlap_within_the_tolerance_is_accepted() -> None:
    west, south, east, north = GRIDS["650102001001002"]
    widened = box(west - 0.3 * DEG_PER_M_LON, south, east, north)
    import_areas_from_geojson(collection(features_with("650102001001002", geometry=widened)))
    assert Area.objects.filter(kind=AreaKind.GRID).count() == 4


def test_a_new_grid_overlapping_one_in_the_database_is_refused() -> None:
    import_areas_from_geojson(collection())
    before = snapshot()
    intruder = feature(
        box(87.6005, 43.8005, 87.6015, 43.8015),
        kind="grid",
        code="650102001001005",
        name="插队网格",
        parent_code=COMMUNITY,
    )
    error = refused(collection([intruder]))
    assert "overlaps grid" in error.message
    assert_nothing_written(before)


def test_shrinking_a_community_under_its_stored_grids_is_refused() -> None:
    import_areas_from_geojson(collection())
    before = snapshot()
    west, south, east, north = COMMUNITY_BOX
    community = [f for f in city_features() if f["properties"]["code"] == COMMUNITY][0]
    community["geometry"] = box(west, south, east - 0.001, north)
    error = refused(collection([community]))
    assert "already in the database" in error.message and error.errors[0].code == COMMUNITY
    assert_nothing_written(before)


@pytest.mark.parametrize(
    ("code", "geometry", "expected"),
    [
        ("650102001001004", {"type": "Point", "coordinates": [87.603, 43.8005]}, "not a Point"),
        (
            "650102001001004",
            {"type": "LineString", "coordinates": [[87.602, 43.8], [87.604, 43.801]]},
            "not a LineString",
        ),
        (
            "C1",
            {"type": "LineString", "coordinates": [[87.6005, 43.8005], [87.6015, 43.8015]]},
            "not a LineString",
        ),
        ("B1", {"type": "Point", "coordinates": [87.603, 43.8005]}, "not a Point"),
        (
            "650102001001004",
            {"type": "Polygon", "coordinates": [[[87.602, 43.8], [87.603, 43.8]]]},
            "cannot be read",
        ),
        (
            "650102001001004",
            {
                "type": "Polygon",
                "coordinates": [[[87.602, 43.8], [87.603, 43.8], [87.604, 43.8], [87.602, 43.8]]],
            },
            "cannot be repaired",
        ),
        ("650102001001004", box(500000, 4850000, 500100, 4850100), "projected"),
        ("650102001001004", {"type": "Polygon"}, "cannot be read"),
    ],
)
def test_geometry_of_the_wrong_type_or_shape_is_refused(
    code: str, geometry: dict[str, Any], expected: str
) -> None:
    error = refused(collection(features_with(code, geometry=geometry)))
    assert expected in error.message
    assert_nothing_written()


def test_a_compound_outside_its_community_is_refused() -> None:
    error = refused(collection(features_with("C1", geometry=box(87.61, 43.81, 87.611, 43.811))))
    assert "lies entirely outside" in error.message
    assert_nothing_written()


def test_bad_optional_values_are_refused() -> None:
    features = features_with("C1", built_year=3020, osm_id=["way", 1])
    features = [*features]
    lane = [f for f in features if f["properties"]["kind"] == "back_street"][0]
    lane["properties"].update(street_class="scenic", width_m=0)
    error = refused(collection(features))
    assert "built_year" in error.message and "osm_id" in error.message
    assert "Unknown street class" in error.message and "width_m" in error.message
    assert_nothing_written()


def test_all_problems_are_reported_together_in_feature_order() -> None:
    features = features_with("650102001001004", code="123")
    features[1]["properties"]["kind"] = "province"
    features[6]["geometry"] = {"type": "Point", "coordinates": [87.601, 43.8005]}
    error = refused(collection(features))

    assert [e.index for e in error.errors] == [1, 6, 7]
    assert error.message.startswith("The area file has 3 problems; nothing was imported:")
    assert "features[7] (code 123)" in error.message
    assert_nothing_written()


def test_one_bad_feature_among_existing_data_leaves_the_database_as_it_was() -> None:
    import_areas_from_geojson(collection())
    before = snapshot()
    features = features_with("650102001001001", name="改名网格")  # a valid update …
    features.append(
        feature(
            box(87.7, 43.9, 87.8, 44.0),
            kind="grid",
            code="650102001001009",
            name="错",
            parent_code=COMMUNITY,
        )
    )  # … and a bad grid
    refused(collection(features))
    assert_nothing_written(before)
    assert Area.objects.get(code="650102001001001").name == "第1网格"


def test_moving_a_district_to_another_city_moves_its_whole_subtree() -> None:
    import_areas_from_geojson(collection())
    # A municipality-style city (code ending in 0000) may hold the same district.
    other_city = feature(box(87.4, 43.6, 87.8, 44.0), kind="city", code="650000", name="另一城市")
    district = [f for f in city_features() if f["properties"]["code"] == DISTRICT][0]
    district["properties"]["parent_code"] = "650000"

    result = import_areas_from_geojson(collection([other_city, district]))

    assert result.created["city"] == 1 and result.updated["district"] == 1
    new_city = Area.objects.get(code="650000")
    for code in (DISTRICT, STREET, COMMUNITY, "650102001001004"):
        area = Area.objects.get(code=code)
        assert area.path.startswith(new_city.path), code
        assert [a.code for a in area.ancestors()][0] == "650000"
