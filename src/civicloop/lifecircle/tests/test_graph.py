"""WalkGraph: the CSR layout every kernel reads, its cache file and its fingerprint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from civicloop.demo.geography import source_pbf_path
from civicloop.lifecircle.graph import WalkGraph
from civicloop.lifecircle.osm import read_osm


@pytest.fixture(scope="module")
def real_graph() -> WalkGraph:
    return read_osm(source_pbf_path()).graph


def small_graph() -> WalkGraph:
    # 0-1-2-3 a path, 1-3 a shortcut, 4-5 an island, 6 alone; a loop, a duplicate, a reversed
    # duplicate with a shorter length.
    return WalkGraph.from_edges(
        lon=np.arange(7, dtype=float),
        lat=np.zeros(7),
        osm_ids=np.arange(100, 107),
        u=[0, 1, 2, 1, 2, 4, 3, 1],
        v=[1, 2, 3, 3, 2, 5, 1, 0],
        length=[10.0, 5.0, 5.0, 12.0, 3.0, 7.0, 9.0, 11.0],
    )


def test_from_edges_drops_loops_and_keeps_the_shortest_parallel_edge() -> None:
    g = small_graph()
    pairs = {
        (int(u), int(v)): float(w) for u, v, w in zip(g.edge_u, g.edge_v, g.edge_len, strict=True)
    }
    assert pairs == {(0, 1): 10.0, (1, 2): 5.0, (2, 3): 5.0, (1, 3): 9.0, (4, 5): 7.0}
    assert np.all(g.edge_u < g.edge_v)
    assert (g.n_nodes, g.n_edges) == (7, 5)
    assert g.indices.dtype == np.int32 and g.weights.dtype == np.float64


def test_csr_holds_every_edge_both_ways_sorted_by_source_then_target() -> None:
    g = small_graph()
    assert g.indptr.tolist() == [0, 1, 4, 6, 8, 9, 10, 10]
    rows = [g.indices[g.indptr[i] : g.indptr[i + 1]].tolist() for i in range(g.n_nodes)]
    assert rows == [[1], [0, 2, 3], [1, 3], [1, 2], [5], [4], []]
    m = g.to_scipy()
    assert (m != m.T).nnz == 0
    assert m[1, 3] == 9.0 and m[3, 1] == 9.0


def test_components_label_the_largest_as_main() -> None:
    g = small_graph()
    main = g.component == g.main_component
    assert main.tolist() == [True, True, True, True, False, False, False]
    assert len(set(g.component.tolist())) == 3


def test_to_scipy_gives_shortest_paths_over_the_shortcut() -> None:
    d = dijkstra(small_graph().to_scipy(), indices=0)
    assert d[:4].tolist() == [0.0, 10.0, 15.0, 19.0]  # 0→3 by the 1–3 shortcut
    assert np.isinf(d[4:]).all()


def test_zero_length_edge_between_two_nodes_at_one_spot_is_still_an_edge() -> None:
    g = WalkGraph.from_edges(
        lon=[0.0, 0.0, 1.0], lat=[0.0, 0.0, 0.0], osm_ids=[1, 2, 3], u=[0, 1], v=[1, 2],
        length=[0.0, 4.0],
    )  # fmt: skip
    assert g.n_edges == 2 and g.main_component == g.component[2] == g.component[0]
    assert dijkstra(g.to_scipy(), indices=0)[2] == 4.0


def test_from_edges_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        WalkGraph.from_edges(lon=[0.0], lat=[0.0], osm_ids=[1], u=[0], v=[1], length=[1.0])
    with pytest.raises(ValueError):
        WalkGraph.from_edges(
            lon=[0.0, 1.0], lat=[0.0, 0.0], osm_ids=[1, 2], u=[0], v=[1], length=[-1.0]
        )
    with pytest.raises(ValueError):
        WalkGraph.from_edges(lon=[0.0, 1.0], lat=[0.0], osm_ids=[1, 2], u=[], v=[], length=[])


def test_empty_graph_has_no_main_component() -> None:
    g = WalkGraph.from_edges(lon=[], lat=[], osm_ids=[], u=[], v=[], length=[])
    assert (g.n_nodes, g.n_edges, g.main_component) == (0, 0, -1)


def test_save_load_round_trip_keeps_arrays_and_fingerprint(
    real_graph: WalkGraph, tmp_path: Path
) -> None:
    path = tmp_path / "network.cache"  # any name: save must not append ".npz"
    real_graph.save(path)
    assert path.is_file()
    loaded = WalkGraph.load(path)
    assert loaded.fingerprint() == real_graph.fingerprint()
    assert loaded.main_component == real_graph.main_component
    for name in ("lon", "lat", "osm_ids", "indptr", "indices", "weights", "edge_len"):
        a, b = getattr(loaded, name), getattr(real_graph, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name


def test_fingerprint_changes_with_any_weight(real_graph: WalkGraph) -> None:
    lengths = real_graph.edge_len.copy()
    same = WalkGraph.from_edges(
        lon=real_graph.lon,
        lat=real_graph.lat,
        osm_ids=real_graph.osm_ids,
        u=real_graph.edge_u,
        v=real_graph.edge_v,
        length=lengths,
    )
    assert same.fingerprint() == real_graph.fingerprint()
    lengths[123] += 0.001
    changed = WalkGraph.from_edges(
        lon=real_graph.lon,
        lat=real_graph.lat,
        osm_ids=real_graph.osm_ids,
        u=real_graph.edge_u,
        v=real_graph.edge_v,
        length=lengths,
    )
    assert changed.fingerprint() != real_graph.fingerprint()


def test_load_refuses_a_file_that_is_not_a_saved_graph(tmp_path: Path) -> None:
    path = tmp_path / "other.npz"
    np.savez_compressed(path, x=np.arange(3))
    with pytest.raises(ValueError):
        WalkGraph.load(path)


def test_real_graph_is_symmetric_with_sorted_rows(real_graph: WalkGraph) -> None:
    m = real_graph.to_scipy()
    assert (m != m.T).nnz == 0
    assert m.nnz == 2 * real_graph.n_edges
    rows = np.repeat(np.arange(real_graph.n_nodes), np.diff(real_graph.indptr))
    key = rows * real_graph.n_nodes + real_graph.indices
    assert np.all(np.diff(key) > 0)  # sorted by source then target, no duplicates
