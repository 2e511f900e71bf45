"""Snapping points to the walking network and splicing them in (DOMAIN.md §7)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from scipy.sparse.csgraph import dijkstra

from civicloop.demo.geography import source_pbf_path
from civicloop.lifecircle.graph import WalkGraph
from civicloop.lifecircle.osm import OsmExtract, read_osm
from civicloop.lifecircle.snap import Snap, Snapper, augment

GEOD = Geod(ellps="WGS84")
LAT = 60.1700
# Main component: A—B (≈ 222 m), B—C, C—D along one parallel. Island: I1—I2, just north of
# A—B's middle, so the nearest *node* to a point there is on the island.
NODES = {
    "A": (24.9400, LAT),
    "B": (24.9440, LAT),
    "C": (24.9450, LAT),
    "D": (24.9460, LAT),
    "I1": (24.9420, LAT + 0.00035),
    "I2": (24.9421, LAT + 0.0004),
}
NAMES = list(NODES)


def _graph(edges: list[tuple[str, str]]) -> WalkGraph:
    lon = np.array([NODES[k][0] for k in NAMES])
    lat = np.array([NODES[k][1] for k in NAMES])
    u = np.array([NAMES.index(a) for a, _ in edges])
    v = np.array([NAMES.index(b) for _, b in edges])
    _, _, length = GEOD.inv(lon[u], lat[u], lon[v], lat[v])
    return WalkGraph.from_edges(
        lon=lon, lat=lat, osm_ids=np.arange(1, len(NAMES) + 1) * 10, u=u, v=v, length=length
    )


@pytest.fixture
def island_graph() -> WalkGraph:
    return _graph([("A", "B"), ("B", "C"), ("C", "D"), ("I1", "I2")])


def _edge(g: WalkGraph, a: str, b: str) -> int:
    i, j = sorted((NAMES.index(a), NAMES.index(b)))
    return int(np.flatnonzero((g.edge_u == i) & (g.edge_v == j))[0])


def _dist(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


# ---- the small hand-made network ------------------------------------------------------------


def test_point_by_an_island_node_snaps_to_the_main_components_edge(
    island_graph: WalkGraph,
) -> None:
    p = (24.9420, LAT + 0.00027)  # 9 m from island node I1, 30 m from the street A—B
    assert _dist(*p, *NODES["I1"]) < 10
    [snap] = Snapper(island_graph).snap(lon=[p[0]], lat=[p[1]], max_snap_m=100.0)
    assert snap.ok and snap.node == -1
    assert snap.edge == _edge(island_graph, "A", "B")
    assert snap.snap_m == pytest.approx(_dist(*p, 24.9420, LAT), abs=0.05)
    assert snap.offset_m == pytest.approx(_dist(*NODES["A"], 24.9420, LAT), abs=0.05)


def test_point_on_its_own_osm_node_takes_it_even_on_an_island(island_graph: WalkGraph) -> None:
    i1 = NAMES.index("I1")
    lon, lat = NODES["I1"][0] + 0.00001, NODES["I1"][1]  # mapped a metre off: still that node
    [snap] = Snapper(island_graph).snap(
        lon=[lon], lat=[lat], osm_node=[int(island_graph.osm_ids[i1])], max_snap_m=5.0
    )
    assert snap == Snap(node=i1, edge=-1, offset_m=0.0, snap_m=0.0, ok=True)


def test_unknown_osm_node_falls_back_to_the_nearest_edge(island_graph: WalkGraph) -> None:
    snaps = Snapper(island_graph).snap(
        lon=[24.9420, 24.9420], lat=[LAT + 0.0001, LAT + 0.0001], osm_node=[999, -1],
        max_snap_m=50.0,
    )  # fmt: skip
    assert snaps[0] == snaps[1]
    assert snaps[0].edge == _edge(island_graph, "A", "B")


def test_point_beyond_max_snap_is_off_the_network(island_graph: WalkGraph) -> None:
    p = (24.9420, LAT + 0.00027)  # 30 m from A—B; the island at 9 m does not count
    [snap] = Snapper(island_graph).snap(lon=[p[0]], lat=[p[1]], max_snap_m=20.0)
    assert not snap.ok and snap.node == -1 and snap.edge == -1
    aug = augment(island_graph, [snap])
    assert aug.points.tolist() == [-1] and np.isnan(aug.snap_m[0])
    assert aug.graph is island_graph


def test_point_past_an_edge_end_is_reported_as_that_node(island_graph: WalkGraph) -> None:
    west = (24.9398, LAT)  # 11 m west of A, the end of the street
    on_b = NODES["B"]
    snaps = Snapper(island_graph).snap(
        lon=[west[0], on_b[0]], lat=[west[1], on_b[1]], max_snap_m=50.0
    )
    a, b = NAMES.index("A"), NAMES.index("B")
    assert (snaps[0].node, snaps[0].edge) == (a, -1)
    assert snaps[0].snap_m == pytest.approx(_dist(*west, *NODES["A"]), abs=0.02)
    assert (snaps[1].node, snaps[1].edge, snaps[1].snap_m) == (b, -1, pytest.approx(0, abs=1e-6))


def test_two_points_on_one_edge_are_their_offset_difference_apart(
    island_graph: WalkGraph,
) -> None:
    g = island_graph
    ab = _edge(g, "A", "B")
    length = float(g.edge_len[ab])
    far = Snap(node=-1, edge=ab, offset_m=150.25, snap_m=3.0, ok=True)
    near = Snap(node=-1, edge=ab, offset_m=50.5, snap_m=7.0, ok=True)
    on_c = Snap(node=NAMES.index("C"), edge=-1, offset_m=0.0, snap_m=1.0, ok=True)
    aug = augment(g, [far, near, far, on_c])  # out of order, one point twice
    p_far, p_near, p_far2, p_c = aug.points.tolist()
    assert p_far == p_far2 and p_c == NAMES.index("C")
    assert {p_far, p_near} == {g.n_nodes, g.n_nodes + 1}
    assert aug.snap_m.tolist() == [3.0, 7.0, 3.0, 1.0]
    d = dijkstra(aug.graph.to_scipy(), indices=[NAMES.index("A"), p_near])
    a = NAMES.index("A")
    assert d[0, p_near] == pytest.approx(50.5, abs=1e-9)
    assert d[1, p_far] == pytest.approx(150.25 - 50.5, abs=1e-9)  # |Δoffset|, exact
    assert d[0, NAMES.index("B")] == pytest.approx(length, abs=1e-9)
    assert d[1, NAMES.index("B")] == pytest.approx(length - 50.5, abs=1e-9)
    # u—p_near—p_far—v replaced u—v: A's only neighbour is now p_near.
    h = aug.graph
    assert h.indices[h.indptr[a] : h.indptr[a + 1]].tolist() == [p_near]
    assert h.n_edges == g.n_edges + 2
    assert h.edge_len.sum() == pytest.approx(g.edge_len.sum(), abs=1e-9)
    assert h.osm_ids[g.n_nodes :].tolist() == [-1, -1]
    assert h.lat[p_near] == pytest.approx(LAT) and 24.9400 < h.lon[p_near] < h.lon[p_far] < 24.944
    assert h.component[p_near] == h.main_component


def test_augment_refuses_a_snap_that_is_not_on_the_graph(island_graph: WalkGraph) -> None:
    with pytest.raises(ValueError):
        augment(island_graph, [Snap(node=-1, edge=99, offset_m=1.0, snap_m=0.0, ok=True)])
    with pytest.raises(ValueError):
        augment(island_graph, [Snap(node=-1, edge=0, offset_m=1e6, snap_m=0.0, ok=True)])


# ---- the bundled real extract ----------------------------------------------------------------


@pytest.fixture(scope="module")
def extract() -> OsmExtract:
    return read_osm(source_pbf_path())


def _random_points(g: WalkGraph, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.uniform(g.lon.min(), g.lon.max(), count),
        rng.uniform(g.lat.min(), g.lat.max(), count),
    )


def test_real_snaps_equal_a_brute_force_nearest_main_edge(extract: OsmExtract) -> None:
    g = extract.graph
    lon, lat = _random_points(g, 300, seed=7)
    snaps = Snapper(g).snap(lon=lon, lat=lat, max_snap_m=60.0)
    # Brute force: every main-component edge, in the same kind of local metric projection.
    lon0 = float(g.lon.min() + g.lon.max()) / 2
    lat0 = float(g.lat.min() + g.lat.max()) / 2
    proj = Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lat_0={lat0!r} +lon_0={lon0!r} +datum=WGS84", always_xy=True
    )
    nx, ny = proj.transform(g.lon, g.lat)
    main = np.flatnonzero(g.component[g.edge_u] == g.main_component)
    lines = shapely.linestrings(
        np.stack(
            [
                np.column_stack([nx[g.edge_u[main]], ny[g.edge_u[main]]]),
                np.column_stack([nx[g.edge_v[main]], ny[g.edge_v[main]]]),
            ],
            axis=1,
        )
    )
    px, py = proj.transform(lon, lat)
    n_ok = 0
    for i, snap in enumerate(snaps):
        d = shapely.distance(lines, shapely.Point(px[i], py[i]))
        best = float(d.min())
        if best > 60.0:
            assert not snap.ok
            continue
        n_ok += 1
        assert snap.ok and snap.snap_m == pytest.approx(best, abs=1e-6)
        if snap.node >= 0:
            assert g.component[snap.node] == g.main_component
            node_d = float(np.hypot(nx[snap.node] - px[i], ny[snap.node] - py[i]))
            assert node_d == pytest.approx(best, abs=1e-6)
        else:
            assert g.component[g.edge_u[snap.edge]] == g.main_component
            assert d[np.searchsorted(main, snap.edge)] == pytest.approx(best, abs=1e-6)
            assert 0 < snap.offset_m < g.edge_len[snap.edge]
    assert n_ok > 200


def test_real_snap_distance_is_the_geodesic_to_the_spliced_point(extract: OsmExtract) -> None:
    g = extract.graph
    lon, lat = _random_points(g, 500, seed=11)
    snaps = Snapper(g).snap(lon=lon, lat=lat, max_snap_m=100.0)
    aug = augment(g, snaps)
    ok = aug.points >= 0
    h = aug.graph
    _, _, geodesic = GEOD.inv(lon[ok], lat[ok], h.lon[aug.points[ok]], h.lat[aug.points[ok]])
    assert np.abs(geodesic - aug.snap_m[ok]).max() < 0.05 + 0.002 * aug.snap_m[ok].max()


def test_real_facility_on_a_network_node_takes_that_node(extract: OsmExtract) -> None:
    g = extract.graph
    on_network = [
        f for f in extract.facilities if f.node_id is not None and f.node_id in set(g.osm_ids)
    ]
    assert len(on_network) >= 5  # bus stops and crossings mapped on the street
    snaps = Snapper(g).snap(
        lon=[f.lon for f in on_network],
        lat=[f.lat for f in on_network],
        osm_node=[f.node_id or -1 for f in on_network],
        max_snap_m=1.0,
    )
    for f, snap in zip(on_network, snaps, strict=True):
        assert snap.ok and snap.snap_m == 0.0 and snap.edge == -1
        assert g.osm_ids[snap.node] == f.node_id


def test_real_augmented_distances_equal_the_formula_on_the_original_graph(
    extract: OsmExtract,
) -> None:
    """d(p, q) = min over the ends of each point's edge of offset + d(end, end') + offset'."""
    g = extract.graph
    lon, lat = _random_points(g, 400, seed=3)
    snaps = Snapper(g).snap(lon=lon, lat=lat, max_snap_m=80.0)
    # Add points sharing edges with the first ones, so the same-edge case is exercised.
    extra = [
        Snap(node=-1, edge=s.edge, offset_m=s.offset_m * 0.37, snap_m=1.0, ok=True)
        for s in snaps[:60]
        if s.ok and s.node < 0
    ]
    snaps = snaps + extra
    aug = augment(g, snaps)
    ok = [i for i, s in enumerate(snaps) if s.ok]
    pick = ok[:15] + list(range(len(snaps) - 15, len(snaps)))

    def ends(s: Snap) -> list[tuple[int, float]]:
        if s.node >= 0:
            return [(s.node, 0.0)]
        u, v = int(g.edge_u[s.edge]), int(g.edge_v[s.edge])
        return [(u, s.offset_m), (v, float(g.edge_len[s.edge]) - s.offset_m)]

    sources = sorted({n for i in pick for n, _ in ends(snaps[i])})
    base = dijkstra(g.to_scipy(), indices=sources)
    row = {n: k for k, n in enumerate(sources)}
    spliced = dijkstra(aug.graph.to_scipy(), indices=aug.points[pick])
    for a, i in enumerate(pick):
        for j in pick:
            p, q = snaps[i], snaps[j]
            want = min(dp + base[row[x], y] + dq for x, dp in ends(p) for y, dq in ends(q))
            if p.node < 0 and p.edge == q.edge and q.node < 0:
                want = min(want, abs(p.offset_m - q.offset_m))
            assert spliced[a, aug.points[j]] == pytest.approx(want, abs=1e-6)
    # The original nodes keep their distances.
    keep = dijkstra(aug.graph.to_scipy(), indices=sources)[:, : g.n_nodes]
    finite = np.isfinite(base)
    assert np.array_equal(np.isfinite(keep), finite)
    assert np.abs(keep[finite] - base[finite]).max() < 1e-6
