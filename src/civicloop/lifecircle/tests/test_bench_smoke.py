"""bench/lifecircle.py runs end to end at a tiny scale: every method on the real extract and
on a one-tile "(b)", each result checked against civicloop's (the bench exits otherwise)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from civicloop.lifecircle.engine import nearest

BENCH = Path(__file__).resolve().parents[4] / "bench" / "lifecircle.py"


@pytest.fixture(scope="module")
def bench():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("bench_lifecircle", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def test_the_bench_runs_every_method_and_agrees(
    bench, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # noqa: ANN001
    monkeypatch.setattr(
        sys,
        "argv",
        ["lifecircle.py", "--tiles", "1", "--repeats", "1", "--whatif", "5", "--no-compile-timing"],
    )
    bench.main()
    out = capsys.readouterr().out
    assert out.startswith("machine: ")
    assert "(a) the bundled real extract" in out and "(b) the extract stitched into 1 x 1" in out
    for method in bench.METHODS:
        rows = [line.split() for line in out.splitlines() if line.startswith(f"  {method} ")]
        assert len(rows) == 2, method  # one per case
        if method != "pandana":  # float32 inside: it may differ at the cutoff, reported only
            assert all(row[-1] == "0" for row in rows), method  # same nodes within the cutoff
    assert "goal on (b):" in out and "what-if reach_from" in out


def test_the_tiles_are_joined_into_one_network(bench) -> None:  # noqa: ANN001
    from civicloop.demo.geography import source_pbf_path
    from civicloop.lifecircle.osm import read_osm

    graph = read_osm(source_pbf_path()).graph
    big = bench.tiled(graph, 2)
    assert big.n_nodes == 4 * graph.n_nodes
    main = np.sum(big.component == big.main_component)
    assert main == 4 * np.sum(graph.component == graph.main_component)
    assert big.n_edges > 4 * graph.n_edges
    # Tile 0 keeps the original lengths (geodesics of the same ends); the joins are short walks.
    tile0 = big.edge_v < graph.n_nodes
    assert np.allclose(np.sort(big.edge_len[tile0]), np.sort(graph.edge_len), rtol=1e-9)
    joins = (big.edge_u < graph.n_nodes) & ~tile0
    assert joins.any() and big.edge_len[joins].max() < 300.0
    kinds = bench.facilities(big, 6, seed=1)
    assert [s.nodes.size for s in kinds][0] == big.n_nodes // 60
    far = nearest(big, kinds=kinds[:1], cutoff_m=1500.0).distance[0]
    assert np.isfinite(far).mean() > 0.9
