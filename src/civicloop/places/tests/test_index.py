"""Point → grid: inside, on boundaries, from GCJ-02, outside, bad input, and a stale index never answers."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from shapely.geometry import box as shapely_box

from civicloop.core.errors import CivicError, ErrorCode, ValidationFailed
from civicloop.places.coords import wgs84_to_gcj02
from civicloop.places.importer import import_areas_from_geojson
from civicloop.places.index import (
    NO_GRID,
    GridIndex,
    get_grid_index,
    grid_for_point,
    grids_for_points,
)
from civicloop.places.models import Area, AreaKind
from civicloop.places.tests.geojson import COMMUNITY, box, collection, feature

pytestmark = pytest.mark.django_db

NW, NE, SW, SE = "650102001001001", "650102001001002", "650102001001003", "650102001001004"


@pytest.fixture
def city() -> dict[str, Area]:
    import_areas_from_geojson(collection())
    return {a.code: a for a in Area.objects.filter(kind=AreaKind.GRID)}


@pytest.mark.parametrize(
    ("lat", "lon", "code"),
    [
        (43.8015, 87.601, NW),
        (43.8015, 87.603, NE),
        (43.8005, 87.601, SW),
        (43.8005, 87.603, SE),
    ],
)
def test_a_point_inside_a_grid_belongs_to_it(
    city: dict[str, Area], lat: float, lon: float, code: str
) -> None:
    assert grid_for_point(lat=lat, lon=lon) == city[code]


@pytest.mark.parametrize(
    ("lat", "lon", "code"),
    [
        (43.8015, 87.602, NW),  # edge shared by 001 and 002
        (43.801, 87.603, NE),  # edge shared by 002 and 004
        (43.801, 87.601, NW),  # edge shared by 001 and 003
        (43.8005, 87.602, SW),  # edge shared by 003 and 004
        (43.801, 87.602, NW),  # the corner all four share
        (43.8005, 87.604, SE),  # the community's outer edge still belongs to its grid
        (43.800, 87.600, SW),  # outer corner
    ],
)
def test_a_point_on_a_boundary_belongs_to_the_lowest_code(
    city: dict[str, Area], lat: float, lon: float, code: str
) -> None:
    assert grid_for_point(lat=lat, lon=lon).code == code
    assert grids_for_points([lat], [lon])[0] == city[code].pk


def test_gcj02_coordinates_from_a_chinese_map_are_converted_first(city: dict[str, Area]) -> None:
    # A pin at the centre of grid 004 as Amap shows it, several hundred metres from its WGS-84 spot.
    gcj_lat, gcj_lon = wgs84_to_gcj02(43.8005, 87.603)
    assert grid_for_point(lat=gcj_lat, lon=gcj_lon, crs="gcj02") == city[SE]
    assert grid_for_point(lat=gcj_lat, lon=gcj_lon, crs="GCJ-02") == city[SE]
    # Read as WGS-84, the same numbers miss the community entirely.
    with pytest.raises(CivicError) as caught:
        grid_for_point(lat=gcj_lat, lon=gcj_lon)
    assert caught.value.code == ErrorCode.OUTSIDE_GRID


def test_a_point_outside_every_grid_is_a_clear_error(city: dict[str, Area]) -> None:
    with pytest.raises(CivicError) as caught:
        grid_for_point(lat=43.79, lon=87.61)
    assert caught.value.code == ErrorCode.OUTSIDE_GRID
    assert caught.value.field == "location"
    assert "(43.790000, 87.610000) is outside every grid" in caught.value.message


def test_without_any_grid_every_point_is_outside() -> None:
    with pytest.raises(CivicError) as caught:
        grid_for_point(lat=43.8015, lon=87.601)
    assert caught.value.code == ErrorCode.OUTSIDE_GRID
    assert grids_for_points([43.8015], [87.601]).tolist() == [NO_GRID]


@pytest.mark.parametrize(
    ("lat", "lon", "crs"),
    [
        (math.nan, 87.6, "wgs84"),
        (43.8, math.inf, "wgs84"),
        (91.0, 87.6, "wgs84"),
        (43.8, -180.5, "wgs84"),
        ("north", 87.6, "wgs84"),
        (None, 87.6, "wgs84"),
        (43.8, 87.6, "bd09"),
    ],
)
def test_bad_coordinates_are_a_validation_error(
    city: dict[str, Area], lat: Any, lon: Any, crs: str
) -> None:
    with pytest.raises(ValidationFailed):
        grid_for_point(lat=lat, lon=lon, crs=crs)


def test_bulk_lookup_returns_ids_and_minus_one_outside(city: dict[str, Area]) -> None:
    lats = np.array([43.8015, 43.8015, 43.8005, 43.8005, 43.79, 43.801])
    lons = np.array([87.601, 87.603, 87.601, 87.603, 87.61, 87.602])
    ids = grids_for_points(lats, lons)
    assert ids.dtype == np.int64
    assert ids.tolist() == [
        city[NW].pk,
        city[NE].pk,
        city[SW].pk,
        city[SE].pk,
        NO_GRID,
        city[NW].pk,
    ]


def test_bulk_lookup_agrees_with_a_plain_loop_on_random_points(city: dict[str, Area]) -> None:
    rng = np.random.default_rng(3)
    lats = rng.uniform(43.7995, 43.8025, 5000)
    lons = rng.uniform(87.5995, 87.6045, 5000)
    ids = grids_for_points(lats, lons)
    grids = sorted(city.values(), key=lambda g: g.code)
    for lat, lon, found in zip(lats[:500], lons[:500], ids[:500], strict=True):
        expected = next(
            (g.pk for g in grids if g.shape.covers(shapely_box(lon, lat, lon, lat).centroid)),
            NO_GRID,
        )
        assert found == expected


def test_bulk_lookup_accepts_gcj02_and_refuses_bad_values(city: dict[str, Area]) -> None:
    gcj_lat, gcj_lon = wgs84_to_gcj02(43.8015, 87.601)
    assert grids_for_points([gcj_lat], [gcj_lon], crs="gcj02").tolist() == [city[NW].pk]
    with pytest.raises(ValidationFailed) as caught:
        grids_for_points([43.8, np.nan], [87.6, 87.6])
    assert "position 1" in caught.value.message
    with pytest.raises(ValidationFailed):
        grids_for_points([43.8, 43.9], [87.6])
    assert grids_for_points([], []).tolist() == []


def test_a_prebuilt_index_can_be_used_without_the_database() -> None:
    index = GridIndex.build(
        [
            (2, "650102001001002", shapely_box(1, 0, 2, 1)),
            (1, "650102001001001", shapely_box(0, 0, 1, 1)),
        ]
    )
    assert grids_for_points([0.5, 0.5, 0.5, 5.0], [0.5, 1.0, 1.5, 5.0], index=index).tolist() == [
        1,
        1,
        2,
        NO_GRID,
    ]


# ---- the cache never answers with stale grids -----------------------------------------------------


def test_the_index_is_cached_between_lookups(
    city: dict[str, Area], django_assert_num_queries: Any
) -> None:
    first = get_grid_index()
    with django_assert_num_queries(1):  # only the fingerprint
        assert get_grid_index() is first


def test_an_import_invalidates_the_index(city: dict[str, Area]) -> None:
    before = get_grid_index()
    with pytest.raises(CivicError):
        grid_for_point(lat=43.8035, lon=87.601)

    # A second community north of the first, with one grid.
    new_community = feature(
        box(87.600, 43.802, 87.604, 43.804),
        kind="community",
        code="650102001002",
        name="新社区",
        parent_code="650102001",
    )
    new_grid = feature(
        box(87.600, 43.802, 87.604, 43.804),
        kind="grid",
        code="650102001002001",
        name="新网格",
        parent_code="650102001002",
    )
    import_areas_from_geojson(collection([new_community, new_grid]))

    assert get_grid_index() is not before
    assert grid_for_point(lat=43.8035, lon=87.601).code == "650102001002001"


def test_an_edited_grid_is_seen_at_once(city: dict[str, Area]) -> None:
    get_grid_index()
    grid = city[SE]
    grid.set_geometry(shapely_box(87.602, 43.800, 87.6035, 43.801))
    grid.save()
    with pytest.raises(CivicError):
        grid_for_point(lat=43.8005, lon=87.6038)


def test_changes_made_by_another_process_are_seen(city: dict[str, Area]) -> None:
    index = get_grid_index()
    # bulk_create sends no signals: this process only learns of it from the database fingerprint.
    extra = Area(
        kind=AreaKind.GRID,
        code="650102001001005",
        name="外来网格",
        parent=Area.objects.get(code=COMMUNITY),
    )
    extra.set_geometry(shapely_box(87.604, 43.800, 87.605, 43.801))
    Area.objects.bulk_create([extra])

    assert get_grid_index() is not index
    assert grid_for_point(lat=43.8005, lon=87.6045).code == "650102001001005"

    # A grid moved elsewhere by a plain UPDATE changes the bounding boxes, hence the fingerprint.
    moved = shapely_box(87.61, 43.81, 87.62, 43.82)
    Area.objects.filter(code="650102001001005").update(
        geometry=json.dumps(moved.__geo_interface__),
        min_lon=87.61,
        min_lat=43.81,
        max_lon=87.62,
        max_lat=43.82,
    )
    with pytest.raises(CivicError):
        grid_for_point(lat=43.8005, lon=87.6045)
    assert grid_for_point(lat=43.815, lon=87.615).code == "650102001001005"


def test_a_deleted_grid_is_never_returned(city: dict[str, Area]) -> None:
    get_grid_index()
    city[SE].delete()
    with pytest.raises(CivicError):
        grid_for_point(lat=43.8005, lon=87.603)
