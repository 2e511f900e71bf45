"""Reading an OSM extract: tag rules, walkability, the graph, facilities and buildings."""

from __future__ import annotations

import collections
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import osmium
import pytest
import shapely
from osmium.osm import mutable
from pyproj import Geod

from civicloop.demo.geography import source_pbf_path
from civicloop.lifecircle.osm import (
    DEFAULT_TAG_RULES,
    KINDS,
    OsmExtract,
    OsmReadError,
    TagRule,
    is_walkable,
    match_kinds,
    read_osm,
)
from civicloop.places.households import building_households

GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def extract() -> OsmExtract:
    return read_osm(source_pbf_path())


# ---- tag rules -------------------------------------------------------------------------------

KIND_CASES: list[tuple[dict[str, str], list[str]]] = [
    ({"shop": "supermarket"}, ["supermarket"]),
    ({"amenity": "marketplace"}, ["fresh_market"]),
    ({"shop": "convenience"}, ["convenience"]),
    ({"amenity": "doctors"}, ["clinic"]),
    ({"healthcare": "clinic"}, ["clinic"]),
    ({"amenity": "hospital"}, ["health_centre"]),
    ({"healthcare": "centre"}, ["health_centre"]),
    ({"amenity": "pharmacy"}, ["pharmacy"]),
    ({"amenity": "kindergarten"}, ["kindergarten"]),
    ({"amenity": "childcare"}, ["kindergarten"]),
    ({"amenity": "school"}, ["primary_school", "middle_school"]),
    ({"amenity": "social_facility", "social_facility:for": "senior"}, ["elderly_care"]),
    ({"social_facility": "nursing_home"}, ["elderly_care"]),
    ({"amenity": "community_centre"}, ["community_service"]),
    ({"amenity": "library"}, ["culture"]),
    ({"amenity": "theatre"}, ["culture"]),
    ({"leisure": "park"}, ["park"]),
    ({"leisure": "playground"}, ["park"]),
    ({"leisure": "fitness_station"}, ["fitness"]),
    ({"leisure": "pitch"}, ["fitness"]),
    ({"highway": "bus_stop"}, ["bus_stop"]),
    ({"railway": "tram_stop"}, ["bus_stop"]),
    ({"railway": "subway_entrance"}, ["metro"]),
    ({"railway": "station", "station": "subway"}, ["metro"]),
    ({"amenity": "recycling"}, ["recycling"]),
    ({"amenity": "toilets"}, ["toilets"]),
    ({"amenity": "post_office"}, ["post_bank"]),
    ({"amenity": "bank"}, ["post_bank"]),
]


@pytest.mark.parametrize(("tags", "kinds"), KIND_CASES)
def test_default_rules_map_common_tags_to_kinds(tags: dict[str, str], kinds: list[str]) -> None:
    assert match_kinds(tags, DEFAULT_TAG_RULES) == kinds


def test_every_default_kind_is_covered_by_a_case() -> None:
    covered = {kind for _tags, kinds in KIND_CASES for kind in kinds}
    assert covered == set(KINDS)
    assert len(KINDS) == 19


@pytest.mark.parametrize(
    ("tags", "kinds"),
    [
        ({"shop": "bakery"}, []),
        ({"amenity": "parking", "name": "P"}, []),
        ({"disused:shop": "supermarket"}, []),
        ({"amenity": "social_facility", "social_facility:for": "child"}, []),
        ({}, []),
    ],
)
def test_tags_without_a_rule_match_no_kind(tags: dict[str, str], kinds: list[str]) -> None:
    assert match_kinds(tags, DEFAULT_TAG_RULES) == kinds


@pytest.mark.parametrize(
    ("level", "kinds"),
    [
        ("1", ["primary_school"]),
        ("2", ["middle_school"]),
        ("3", ["middle_school"]),
        ("2;3", ["middle_school"]),
        ("1;2", ["primary_school", "middle_school"]),
        ("1-3", ["primary_school", "middle_school"]),
        ("0", []),  # a pre-school tagged as school
        ("unknown", ["primary_school", "middle_school"]),  # unreadable: ignored
    ],
)
def test_isced_level_refines_a_school(level: str, kinds: list[str]) -> None:
    tags = {"amenity": "school", "isced:level": level}
    assert match_kinds(tags, DEFAULT_TAG_RULES) == kinds


def test_star_value_matches_any_value_but_no() -> None:
    rules = [TagRule("dentist", "healthcare", "dentist"), TagRule("health", "healthcare", "*")]
    assert match_kinds({"healthcare": "dentist"}, rules) == ["dentist", "health"]
    assert match_kinds({"healthcare": "laboratory"}, rules) == ["health"]
    assert match_kinds({"healthcare": "no"}, rules) == []
    assert match_kinds({"amenity": "dentist"}, rules) == []


def test_kinds_come_once_each_in_rule_order() -> None:
    tags = {"amenity": "clinic", "healthcare": "clinic", "shop": "convenience"}
    assert match_kinds(tags, DEFAULT_TAG_RULES) == ["convenience", "clinic"]
    rules = [TagRule("b", "shop", "convenience"), TagRule("a", "amenity", "clinic")]
    assert match_kinds(tags, rules) == ["b", "a"]


def test_private_park_serves_nobody_but_a_private_school_is_a_school() -> None:
    assert match_kinds({"leisure": "garden", "access": "private"}, DEFAULT_TAG_RULES) == []
    assert match_kinds({"leisure": "garden"}, DEFAULT_TAG_RULES) == ["park"]
    school = {"amenity": "school", "access": "private", "isced:level": "1"}
    assert match_kinds(school, DEFAULT_TAG_RULES) == ["primary_school"]


# ---- walkability -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "walkable"),
    [
        ({"highway": "footway"}, True),
        ({"highway": "residential"}, True),
        ({"highway": "steps"}, True),
        ({"highway": "primary"}, True),
        ({"highway": "footway", "footway": "crossing"}, True),
        ({"footway": "crossing"}, True),
        ({"highway": "motorway"}, False),
        ({"highway": "trunk_link"}, False),
        ({"highway": "trunk", "foot": "yes"}, True),
        ({"highway": "footway", "foot": "no"}, False),
        ({"highway": "cycleway", "foot": "use_sidepath"}, False),
        ({"highway": "service", "access": "private"}, False),
        ({"highway": "service", "access": "no"}, False),
        ({"highway": "service", "access": "no", "foot": "yes"}, True),
        ({"highway": "service", "access": "private", "foot": "designated"}, True),
        ({"highway": "service", "access": "destination"}, True),
        ({"highway": "construction"}, False),
        ({"highway": "construction", "foot": "yes"}, False),
        ({"highway": "proposed"}, False),
        ({"highway": "raceway"}, False),
        ({"highway": "bus_guideway"}, False),
        ({"highway": "platform"}, False),
        ({"highway": "platform", "foot": "yes"}, True),
        ({"highway": "pedestrian", "area": "yes"}, True),  # its outline is walked
        ({"railway": "platform"}, False),
        ({"building": "yes"}, False),
    ],
)
def test_is_walkable(tags: dict[str, str], walkable: bool) -> None:
    assert is_walkable(tags) is walkable


# ---- a small file written here: every rule of the reader at once -----------------------------


def _write_pbf(
    path: Path, nodes: list[tuple[int, float, float, dict[str, str]]], ways: list[Any]
) -> Path:
    writer = osmium.SimpleWriter(str(path), overwrite=True)
    try:
        for nid, lon, lat, tags in nodes:
            writer.add_node(mutable.Node(id=nid, location=(lon, lat), tags=tags))
        for wid, refs, tags in ways:
            writer.add_way(mutable.Way(id=wid, nodes=refs, tags=tags))
    finally:
        writer.close()
    return path


def _square(first: int, lon: float, lat: float, d_lon: float, d_lat: float) -> list[Any]:
    corners = [(lon, lat), (lon + d_lon, lat), (lon + d_lon, lat + d_lat), (lon, lat + d_lat)]
    return [(first + i, x, y, {}) for i, (x, y) in enumerate(corners)]


@pytest.fixture
def small_pbf(tmp_path: Path) -> Path:
    nodes = [
        (1, 24.9400, 60.1700, {}),
        (2, 24.9405, 60.1700, {}),
        (3, 24.9410, 60.1700, {"shop": "supermarket", "name": "Alepa"}),
        (4, 24.9415, 60.1700, {}),
        (5, 24.9410, 60.1705, {}),
        (6, 24.9420, 60.1705, {}),
        (7, 24.9425, 60.1705, {}),
        (8, 24.9430, 60.1710, {}),
        (9, 24.9435, 60.1710, {}),
        *_square(20, 24.9450, 60.1720, 0.0004, 0.0002),
        *_square(30, 24.9460, 60.1720, 0.0004, 0.0002),
        *_square(40, 24.9470, 60.1720, 0.0004, 0.0002),
        (50, 24.9480, 60.1730, {"highway": "bus_stop", "name": "Stop"}),
        (60, 24.9490, 60.1730, {}),
        (61, 24.9495, 60.1731, {}),
    ]
    ways = [
        (101, [1, 2, 3], {"highway": "footway"}),
        (102, [3, 4], {"highway": "motorway"}),
        (103, [3, 5], {"highway": "footway", "footway": "crossing"}),
        (104, [5, 6], {"highway": "residential", "access": "private"}),
        (105, [6, 7], {"highway": "service", "access": "no", "foot": "yes"}),
        (106, [2, 99, 8, 9], {"highway": "footway"}),  # node 99 lies outside the extract
        (107, [20, 21, 22, 23, 20], {"building": "apartments", "building:levels": "4"}),
        (108, [30, 31, 32, 33, 30], {"amenity": "school", "isced:level": "1", "name": "Koulu"}),
        (109, [40, 41, 42, 43, 40], {"building": "yes", "amenity": "townhall"}),
        (110, [8, 1], {"highway": "construction"}),
        (111, [1, 5], {"highway": "footway", "foot": "no"}),
        (112, [60, 61], {"leisure": "pitch"}),  # an open way: its point is its nodes' mean
    ]
    return _write_pbf(tmp_path / "small.osm.pbf", nodes, ways)


def test_small_file_graph_has_exactly_the_walkable_edges(small_pbf: Path) -> None:
    ex = read_osm(small_pbf)
    g = ex.graph
    assert g.osm_ids.tolist() == [1, 2, 3, 5, 6, 7, 8, 9]
    pairs = {
        (int(g.osm_ids[u]), int(g.osm_ids[v])) for u, v in zip(g.edge_u, g.edge_v, strict=True)
    }
    assert pairs == {(1, 2), (2, 3), (3, 5), (6, 7), (8, 9)}
    main = set(g.osm_ids[g.component == g.main_component].tolist())
    assert main == {1, 2, 3, 5}
    assert ex.stats["ways"] == 4 and ex.stats["skipped_ways"] == 4
    assert ex.stats["refs_outside"] == 1
    i1, i2 = 0, 1
    expected = GEOD.inv(24.9400, 60.1700, 24.9405, 60.1700)[2]
    assert g.edge_len[0] == pytest.approx(expected, abs=1e-9)
    assert (g.lon[i1], g.lat[i1], g.lon[i2]) == (24.94, 60.17, 24.9405)


def test_small_file_facilities_from_nodes_areas_and_open_ways(small_pbf: Path) -> None:
    facilities = read_osm(small_pbf).facilities
    got = {(f.kind, f.osm_type, f.osm_id, f.node_id, f.name) for f in facilities}
    assert got == {
        ("supermarket", "node", 3, 3, "Alepa"),
        ("bus_stop", "node", 50, 50, "Stop"),
        ("primary_school", "way", 108, None, "Koulu"),
        ("fitness", "way", 112, None, ""),
    }
    school = next(f for f in facilities if f.kind == "primary_school")
    square = shapely.box(24.9460, 60.1720, 24.9464, 60.1722)
    assert square.contains(shapely.Point(school.lon, school.lat))
    pitch = next(f for f in facilities if f.kind == "fitness")
    assert (pitch.lon, pitch.lat) == pytest.approx((24.94925, 60.17305))


def test_small_file_buildings_count_households_from_the_true_footprint(small_pbf: Path) -> None:
    buildings = read_osm(small_pbf).buildings
    assert [(b.osm_type, b.osm_id) for b in buildings] == [("way", 107)]  # not the town hall
    b = buildings[0]
    ring = [(24.9450, 60.1720), (24.9454, 60.1720), (24.9454, 60.1722), (24.9450, 60.1722)]
    area, _ = GEOD.polygon_area_perimeter([p[0] for p in ring], [p[1] for p in ring])
    assert b.footprint_m2 == pytest.approx(abs(area), rel=1e-4)
    assert 400 < b.footprint_m2 < 600
    assert b.households == building_households(
        {"building": "apartments", "building:levels": "4"}, b.footprint_m2
    )
    assert b.households == int(b.footprint_m2 * 4 / 75)
    assert shapely.box(24.9450, 60.1720, 24.9454, 60.1722).contains(shapely.Point(b.lon, b.lat))


def test_file_without_a_walkable_way_is_refused(tmp_path: Path) -> None:
    path = _write_pbf(
        tmp_path / "motorway.osm.pbf",
        [(1, 24.94, 60.17, {"shop": "supermarket"}), (2, 24.95, 60.17, {})],
        [(10, [1, 2], {"highway": "motorway"})],
    )
    with pytest.raises(OsmReadError, match="no walkable way"):
        read_osm(path)


def test_text_file_named_pbf_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.osm.pbf"
    path.write_text("this is not OpenStreetMap data\n")
    with pytest.raises(OsmReadError, match="not a readable OSM file"):
        read_osm(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OsmReadError, match="does not exist"):
        read_osm(tmp_path / "missing.osm.pbf")
    assert issubclass(OsmReadError, ValueError)


# ---- the bundled real extract ----------------------------------------------------------------


def test_real_extract_counts_are_in_the_expected_ranges(extract: OsmExtract) -> None:
    s = extract.stats
    g = extract.graph
    assert 6_000 <= g.n_nodes <= 6_400 and s["nodes"] == g.n_nodes
    assert 7_100 <= g.n_edges <= 7_600
    assert 2_300 <= s["ways"] <= 2_450
    main = int((g.component == g.main_component).sum())
    assert main >= 0.95 * g.n_nodes
    kinds = collections.Counter(f.kind for f in extract.facilities)
    assert 100 <= kinds["bus_stop"] <= 160  # 92 bus stops and the tram stops
    assert kinds["supermarket"] == 6
    assert kinds["primary_school"] >= 2 and kinds["middle_school"] >= 2
    assert 250 <= len(extract.buildings) <= 400
    assert 20_000 <= s["households"] <= 35_000
    assert s["households"] == sum(b.households for b in extract.buildings)
    assert all(b.households > 0 for b in extract.buildings)


def test_real_extract_edges_are_exactly_the_consecutive_nodes_of_walkable_ways(
    extract: OsmExtract,
) -> None:
    """An independent, naive reading of the same file gives the same edge set."""
    expected: set[tuple[int, int]] = set()
    for way in osmium.FileProcessor(str(source_pbf_path())).with_locations():
        if not isinstance(way, osmium.osm.Way) or not is_walkable(dict(way.tags)):
            continue
        nodes = [(n.ref, n.location.valid()) for n in way.nodes]
        for (a, a_ok), (b, b_ok) in itertools.pairwise(nodes):
            if a_ok and b_ok and a != b:
                expected.add((min(a, b), max(a, b)))
    g = extract.graph
    got = {
        (int(min(g.osm_ids[u], g.osm_ids[v])), int(max(g.osm_ids[u], g.osm_ids[v])))
        for u, v in zip(g.edge_u, g.edge_v, strict=True)
    }
    assert got == expected
    assert np.all(np.diff(g.osm_ids) > 0)


def test_real_extract_weights_are_positive_geodesic_metres(extract: OsmExtract) -> None:
    g = extract.graph
    assert g.weights.dtype == np.float64
    assert np.all(g.edge_len > 0)
    _, _, geodesic = GEOD.inv(g.lon[g.edge_u], g.lat[g.edge_u], g.lon[g.edge_v], g.lat[g.edge_v])
    assert np.abs(g.edge_len - geodesic).max() < 1e-9
    m = g.to_scipy()
    assert (m != m.T).nnz == 0


def test_real_extract_facilities_stand_where_osm_puts_them(extract: OsmExtract) -> None:
    for f in extract.facilities:
        if f.osm_type == "node":
            assert f.node_id == f.osm_id
        else:
            assert f.node_id is None
    g = extract.graph
    box = shapely.box(
        g.lon.min() - 0.01, g.lat.min() - 0.01, g.lon.max() + 0.01, g.lat.max() + 0.01
    )
    assert all(box.contains(shapely.Point(f.lon, f.lat)) for f in extract.facilities)
    assert all(box.contains(shapely.Point(b.lon, b.lat)) for b in extract.buildings)


def test_progress_reports_every_few_percent_of_the_ways() -> None:
    calls: list[tuple[str, int, int]] = []
    read_osm(
        source_pbf_path(), progress=lambda stage, done, total: calls.append((stage, done, total))
    )
    ways = [(done, total) for stage, done, total in calls if stage == "ways"]
    total = ways[-1][1]
    assert ways[0] == (0, total) and ways[-1] == (total, total)
    done = [d for d, _t in ways]
    assert done == sorted(done)
    assert max(np.diff(done)) <= 0.05 * total
    assert {stage for stage, *_ in calls} == {"ways", "graph", "buildings", "facilities"}
    assert calls[-1][0] == "facilities"
