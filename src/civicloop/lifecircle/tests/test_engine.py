"""The search engine against the references: networkx's Dijkstra (to within 0.01 m, on the
bundled real extract), scipy's multi-source pass, and brute force for the k best sites."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra

from civicloop.demo.geography import source_pbf_path
from civicloop.lifecircle import engine
from civicloop.lifecircle.engine import Sources, best_sites, nearest, reach_from, reach_sparse
from civicloop.lifecircle.graph import WalkGraph
from civicloop.lifecircle.osm import read_osm
from civicloop.lifecircle.snap import Snapper, augment

TOLERANCE_M = 0.01
CUTOFF_M = 1500.0


@pytest.fixture(scope="module")
def extract():  # noqa: ANN201
    return read_osm(source_pbf_path())


@pytest.fixture(scope="module")
def real(extract) -> WalkGraph:  # noqa: ANN001
    return extract.graph


def nx_graph(graph: WalkGraph) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(graph.n_nodes))
    for u, v, w in zip(
        graph.edge_u.tolist(), graph.edge_v.tolist(), graph.edge_len.tolist(), strict=True
    ):
        g.add_edge(u, v, weight=w)
    return g


def nx_nearest(
    g: nx.Graph, n: int, sources: Sources, cutoff: float
) -> tuple[np.ndarray, np.ndarray]:
    """networkx's answer: distances from a super source joined to each source node by an edge
    as long as its offset, and the source node each shortest path starts from."""
    best: dict[int, float] = {}
    for node, offset in zip(sources.nodes.tolist(), sources.offsets.tolist(), strict=True):
        best[node] = min(offset, best.get(node, math.inf))
    h = g.copy()
    for node, offset in best.items():
        h.add_edge("super", node, weight=offset)
    lengths, paths = nx.single_source_dijkstra(h, "super", cutoff=cutoff)
    dist = np.full(n, np.inf)
    first = np.full(n, -1, dtype=np.int64)
    for node, d in lengths.items():
        if node != "super":
            dist[node] = d
            first[node] = paths[node][1]
    return dist, first


def random_sources(rng: np.random.Generator, nodes: np.ndarray, count: int) -> Sources:
    picked = rng.choice(nodes, count, replace=False).astype(np.int64)
    return Sources(nodes=picked, offsets=rng.uniform(0, 80, count))


def assert_matches(got: np.ndarray, want: np.ndarray) -> None:
    assert np.array_equal(np.isinf(got), np.isinf(want))
    finite = np.isfinite(want)
    assert np.max(np.abs(got[finite] - want[finite]), initial=0.0) <= TOLERANCE_M


# ------------------------------------------------------------------------ nearest vs networkx


def test_nearest_equals_networkx_on_the_real_extract(real: WalkGraph) -> None:
    """Six kinds of random density with random snap offsets, 1,500 m cutoff: every node's
    distance equals networkx's, and the reported source is where networkx's path starts."""
    rng = np.random.default_rng(6)
    main = np.flatnonzero(real.component == real.main_component)
    kinds = [random_sources(rng, main, c) for c in (60, 25, 12, 6, 3, 1)]
    # Two entries on one node: the smaller offset is the one that counts.
    kinds[3] = Sources(
        nodes=np.append(kinds[3].nodes, kinds[3].nodes[0]),
        offsets=np.append(kinds[3].offsets, kinds[3].offsets[0] + 5.0),
    )
    result = nearest(real, kinds=kinds, cutoff_m=CUTOFF_M)
    assert result.distance.shape == result.source.shape == (6, real.n_nodes)
    g = nx_graph(real)
    for q, sources in enumerate(kinds):
        want, first = nx_nearest(g, real.n_nodes, sources, CUTOFF_M)
        assert_matches(result.distance[q], want)
        reached = np.isfinite(want)
        assert np.all(result.source[q][~reached] == -1)
        assert np.array_equal(sources.nodes[result.source[q][reached]], first[reached])
        # The distance is the chosen source's own offset plus the walk from its node.
        chosen = result.source[q][reached]
        walk = np.array(
            [
                nx.dijkstra_path_length(g, int(sources.nodes[c]), int(v), weight="weight")
                for c, v in zip(chosen[:200], np.flatnonzero(reached)[:200], strict=True)
            ]
        )
        assert np.allclose(
            sources.offsets[chosen[:200]] + walk, result.distance[q][reached][:200], atol=0.01
        )
    # The sparse kinds leave part of the network beyond the cutoff; the dense one none of it.
    assert np.isinf(result.distance[5]).sum() > np.isinf(result.distance[0]).sum()


def test_nearest_equals_networkx_for_the_real_facilities_snapped(extract) -> None:  # noqa: ANN001
    """The production path: the extract's own facilities snapped (OSM node, else nearest
    edge of the main component, spliced in), the snap distance as the offset."""
    graph = extract.graph
    facilities = extract.facilities
    snaps = Snapper(graph).snap(
        lon=np.array([f.lon for f in facilities]),
        lat=np.array([f.lat for f in facilities]),
        osm_node=np.array([f.node_id if f.node_id is not None else -1 for f in facilities]),
        max_snap_m=250.0,
    )
    aug = augment(graph, snaps)
    kind_of = np.array([f.kind for f in facilities])
    codes = sorted({"bus_stop", "metro", "park", "clinic", "supermarket", "toilets"})
    kinds = []
    for code in codes:
        members = np.flatnonzero((kind_of == code) & (aug.points >= 0))
        assert members.size, code
        kinds.append(Sources(nodes=aug.points[members], offsets=aug.snap_m[members]))
    assert any(np.any(s.offsets > 0) for s in kinds)  # some stand off the network
    result = nearest(aug.graph, kinds=kinds, cutoff_m=1000.0)
    g = nx_graph(aug.graph)
    for q, sources in enumerate(kinds):
        want, _first = nx_nearest(g, aug.graph.n_nodes, sources, 1000.0)
        assert_matches(result.distance[q], want)


def test_nearest_equals_scipy_min_only(real: WalkGraph) -> None:
    rng = np.random.default_rng(7)
    sources = random_sources(rng, np.arange(real.n_nodes), 40)
    sources = Sources(nodes=sources.nodes, offsets=np.zeros(40))
    got = nearest(real, kinds=[sources], cutoff_m=CUTOFF_M)
    want, _pred, origin = dijkstra(
        real.to_scipy(),
        directed=False,
        indices=sources.nodes,
        min_only=True,
        limit=CUTOFF_M,
        return_predecessors=True,
    )
    assert_matches(got.distance[0], want)
    reached = np.isfinite(want)
    assert np.array_equal(sources.nodes[got.source[0][reached]], origin[reached])


def test_the_cutoff_keeps_a_distance_exactly_at_it(real: WalkGraph) -> None:
    """With the cutoff set to one node's exact distance, that node is kept and every node
    farther is inf; nearer nodes are unchanged."""
    sources = Sources(
        nodes=np.array([int(np.argmax(real.component == real.main_component))]),
        offsets=np.array([3.25]),
    )
    unbounded = nearest(real, kinds=[sources], cutoff_m=1e6).distance[0]
    finite = np.sort(unbounded[np.isfinite(unbounded)])
    at = float(finite[len(finite) // 2])
    bounded = nearest(real, kinds=[sources], cutoff_m=at).distance[0]
    assert np.array_equal(bounded[unbounded <= at], unbounded[unbounded <= at])
    assert np.count_nonzero(bounded == at) >= 1
    assert np.all(np.isinf(bounded[unbounded > at]))


def test_distances_are_float64_at_the_cutoff() -> None:
    """Two walks whose verdict at the cutoff flips in float32: 0-1-2-3 sums to exactly
    1,500 m in float64 (float32: 1,500.0001, beyond), 0-4-5-6 to 1,500.0000000000002
    (float32: 1,500.0, within)."""
    within = [542.301, 616.247, 341.452]
    beyond = [689.166, 442.837, 367.997]
    cutoff = 1500.0

    def walk(lengths: list[float], dtype: type) -> float:
        total = dtype(0)
        for x in lengths:
            total = dtype(total + dtype(x))
        return total

    # The premise: float32 gets both wrong.
    assert walk(within, float) == cutoff and walk(within, np.float32) > cutoff
    assert walk(beyond, float) > cutoff and walk(beyond, np.float32) <= cutoff
    graph = WalkGraph.from_edges(
        lon=np.zeros(7),
        lat=np.arange(7) * 1e-3,
        osm_ids=np.arange(7),
        u=[0, 1, 2, 0, 4, 5],
        v=[1, 2, 3, 4, 5, 6],
        length=within + beyond,
    )
    result = nearest(
        graph, kinds=[Sources(nodes=np.array([0]), offsets=np.zeros(1))], cutoff_m=cutoff
    )
    assert result.distance[0, 3] == cutoff
    assert result.source[0, 3] == 0
    assert np.isinf(result.distance[0, 6])
    assert result.source[0, 6] == -1
    assert reach_from(graph, seeds=[(0, 0.0)], cutoff_m=cutoff)[[3, 6]].tolist() == [
        cutoff,
        math.inf,
    ]


def test_disconnected_nodes_and_empty_kinds() -> None:
    graph = WalkGraph.from_edges(
        lon=np.zeros(6),
        lat=np.arange(6) * 1e-4,
        osm_ids=np.arange(6),
        u=[0, 1, 3],
        v=[1, 2, 4],
        length=[10.0, 20.0, 5.0],
    )  # node 5 has no edge at all; 3 - 4 is an island
    result = nearest(
        graph,
        kinds=[
            Sources(nodes=np.array([0]), offsets=np.array([1.5])),
            Sources(nodes=np.zeros(0, np.int64), offsets=np.zeros(0)),
        ],
        cutoff_m=CUTOFF_M,
    )
    assert result.distance[0].tolist() == [1.5, 11.5, 31.5, math.inf, math.inf, math.inf]
    assert result.source[0].tolist() == [0, 0, 0, -1, -1, -1]
    assert np.all(np.isinf(result.distance[1])) and np.all(result.source[1] == -1)
    assert nearest(graph, kinds=[], cutoff_m=CUTOFF_M).distance.shape == (0, 6)
    # A source whose own offset is beyond the cutoff reaches nothing.
    far = nearest(
        graph, kinds=[Sources(nodes=np.array([0]), offsets=np.array([60.0]))], cutoff_m=50.0
    )
    assert np.all(np.isinf(far.distance))


@pytest.mark.parametrize(
    ("nodes", "offsets", "cutoff"),
    [
        ([0], [-1.0], 100.0),
        ([0], [math.nan], 100.0),
        ([9], [0.0], 100.0),
        ([0, 1], [0.0], 100.0),
        ([0], [0.0], math.inf),
        ([0], [0.0], -1.0),
    ],
)
def test_bad_input_is_refused(nodes: list[int], offsets: list[float], cutoff: float) -> None:
    graph = WalkGraph.from_edges(
        lon=np.zeros(3), lat=np.arange(3) * 1e-4, osm_ids=np.arange(3), u=[0], v=[1], length=[1.0]
    )
    with pytest.raises(ValueError):
        nearest(
            graph,
            kinds=[Sources(nodes=np.array(nodes, np.int64), offsets=np.array(offsets))],
            cutoff_m=cutoff,
        )


def test_a_pool_too_small_is_grown_and_the_search_retried(
    real: WalkGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chunk pool starts at one chunk: every search overflows, grows and starts again."""
    rng = np.random.default_rng(8)
    sources = random_sources(rng, np.arange(real.n_nodes), 30)
    # The references first, with the normal pool, so a fault in the retry cannot hide in both.
    want = nearest(real, kinds=[sources], cutoff_m=CUTOFF_M).distance[0]
    want_nodes, want_dists = reach_sparse(
        real, seeds=[(int(sources.nodes[0]), 0.0)], cutoff_m=CUTOFF_M
    )
    g = nx_graph(real)
    assert_matches(want, nx_nearest(g, real.n_nodes, sources, CUTOFF_M)[0])
    monkeypatch.setattr(engine, "_pool_chunks", lambda *args: 1)
    graph = WalkGraph(**{f: getattr(real, f) for f in real.__dataclass_fields__})
    got = nearest(graph, kinds=[sources], cutoff_m=CUTOFF_M).distance[0]
    assert np.array_equal(got, want)
    fresh = WalkGraph(**{f: getattr(real, f) for f in real.__dataclass_fields__})
    nodes, dists = reach_sparse(fresh, seeds=[(int(sources.nodes[0]), 0.0)], cutoff_m=CUTOFF_M)
    assert np.array_equal(nodes, want_nodes) and np.array_equal(dists, want_dists)


def test_searches_from_several_threads_at_once_equal_one_at_a_time(real: WalkGraph) -> None:
    """The web server may ask from several threads: scratch arrays are borrowed, never shared."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(12)
    starts = rng.choice(np.flatnonzero(real.component == real.main_component), 24, replace=False)
    alone = [reach_sparse(real, seeds=[(int(s), 0.0)], cutoff_m=CUTOFF_M) for s in starts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(
            pool.map(lambda s: reach_sparse(real, seeds=[(int(s), 0.0)], cutoff_m=CUTOFF_M), starts)
        )
    for (n1, d1), (n2, d2) in zip(alone, together, strict=True):
        assert np.array_equal(n1, n2) and np.array_equal(d1, d2)


def test_a_graph_s_layout_goes_with_it(real: WalkGraph) -> None:
    import gc

    graph = WalkGraph(**{f: getattr(real, f) for f in real.__dataclass_fields__})
    reach_sparse(graph, seeds=[(0, 0.0)], cutoff_m=100.0)
    before = len(engine._LAYOUTS)
    del graph
    gc.collect()
    assert len(engine._LAYOUTS) == before - 1


# --------------------------------------------------------------------------------- what-if


def test_reach_from_a_point_on_an_edge_equals_networkx(real: WalkGraph) -> None:
    """A candidate on an edge is two seeds; the bounded search equals networkx's
    single-source Dijkstra from a node spliced into that edge, with the same cutoff."""
    g = nx_graph(real)
    rng = np.random.default_rng(9)
    main_edges = np.flatnonzero(real.component[real.edge_u] == real.main_component)
    for e in rng.choice(main_edges, 5, replace=False).tolist():
        u, v, length = int(real.edge_u[e]), int(real.edge_v[e]), float(real.edge_len[e])
        offset = length * 0.3
        seeds = [(u, offset), (v, length - offset)]
        h = g.copy()
        h.add_edge("p", u, weight=offset)
        h.add_edge("p", v, weight=length - offset)
        lengths = nx.single_source_dijkstra_path_length(h, "p", cutoff=1000.0)
        want = np.full(real.n_nodes, np.inf)
        for node, d in lengths.items():
            if node != "p":
                want[node] = d
        assert_matches(reach_from(real, seeds=seeds, cutoff_m=1000.0), want)
        nodes, dists = reach_sparse(real, seeds=seeds, cutoff_m=1000.0)
        assert np.array_equal(nodes, np.flatnonzero(np.isfinite(want)))
        assert np.all(np.diff(nodes) > 0)
        assert_matches(dists, want[nodes])


def test_reach_is_the_same_after_a_whole_network_search(real: WalkGraph) -> None:
    """The working arrays are shared between searches: a nearest() in between (which leaves
    them dirty) and repeated calls do not change a what-if's answer."""
    seeds = [(int(np.argmax(real.component == real.main_component)), 12.5)]
    first = reach_sparse(real, seeds=seeds, cutoff_m=800.0)
    nearest(real, kinds=[Sources(nodes=np.array([1, 2]), offsets=np.zeros(2))], cutoff_m=800.0)
    for _ in range(3):
        again = reach_sparse(real, seeds=seeds, cutoff_m=800.0)
        assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert np.all(first[1] <= 800.0) and first[1].min() == 12.5
    assert reach_sparse(real, seeds=[], cutoff_m=800.0)[0].size == 0


# ------------------------------------------------------------------------------ best sites


def plain_greedy(
    members: list[set[int]], weights: list[int], covered: set[int], k: int
) -> list[tuple[int, float]]:
    covered = set(covered)
    picks: list[tuple[int, float]] = []
    for _ in range(k):
        gains = [sum(weights[o] for o in m - covered) for m in members]
        if not gains or max(gains) <= 0:
            break
        best = gains.index(max(gains))  # lowest index on a tie
        picks.append((best, float(gains[best])))
        covered |= members[best]
    return picks


@st.composite
def instances(draw: st.DrawFn) -> tuple:
    n_origins = draw(st.integers(1, 9))
    n_candidates = draw(st.integers(0, 6))
    weights = draw(st.lists(st.integers(0, 20), min_size=n_origins, max_size=n_origins))
    covered = draw(st.lists(st.booleans(), min_size=n_origins, max_size=n_origins))
    reach = []
    for _ in range(n_candidates):
        origins = draw(st.lists(st.integers(0, n_origins - 1), max_size=n_origins))
        dists = draw(
            st.lists(
                st.sampled_from([0.0, 100.0, 299.0, 300.0, 301.0]),
                min_size=len(origins),
                max_size=len(origins),
            )
        )
        reach.append((origins, dists))
    k = draw(st.integers(1, 4))
    return weights, covered, reach, k


@settings(max_examples=150, deadline=None)
@given(instances())
def test_best_sites_equals_greedy_and_approximates_brute_force(instance: tuple) -> None:
    weights, covered, reach, k = instance
    radius = 300.0
    picks = best_sites(
        reach=[(np.array(o, np.int64), np.array(d, np.float64)) for o, d in reach],
        weights=np.array(weights, np.float64),
        covered=np.array(covered, bool),
        radius_m=radius,
        k=k,
    )
    members = [
        {o for o, d in zip(origins, dists, strict=True) if d <= radius} for origins, dists in reach
    ]
    already = {i for i, c in enumerate(covered) if c}
    assert picks == plain_greedy(members, weights, already, k)

    def value(chosen: tuple[int, ...]) -> int:
        return sum(weights[o] for o in set().union(*(members[i] for i in chosen)) - already)

    got = sum(g for _i, g in picks)
    assert got == value(tuple(i for i, _g in picks))
    best = max(
        (
            value(c)
            for r in range(min(k, len(members)) + 1)
            for c in itertools.combinations(range(len(members)), r)
        ),
        default=0,
    )
    if k == 1:
        assert got == best
    assert got >= (1 - 1 / math.e) * best - 1e-9
    assert all(g > 0 for _i, g in picks)


def test_best_sites_stops_when_nobody_is_left() -> None:
    reach = [(np.array([0, 1]), np.array([10.0, 10.0])), (np.array([1]), np.array([5.0]))]
    picks = best_sites(
        reach=reach,
        weights=np.array([3.0, 4.0]),
        covered=np.array([False, False]),
        radius_m=100.0,
        k=5,
    )
    assert picks == [(0, 7.0)]
