"""Walking distances on the network: the nearest facility of every kind for every node, the
reach of one candidate site, and the k best sites.

Every search is a shortest-path search bounded by a cutoff, on float64 metres (float32 flips
results that sit at the cutoff: DOMAIN.md §7), compiled by numba.

Why not a binary heap (scipy's ``dijkstra(min_only=True)`` uses a Fibonacci heap): with one
source per few dozen nodes, the frontier holds hundreds of thousands of entries and every
push and pop pays a logarithm of cache misses. We run delta-stepping (Meyer & Sanders,
"Δ-stepping: a parallelizable shortest path algorithm", 2003) in one thread instead: entries
go into buckets of ``width`` metres (chunks of a reused pool, so the live part stays in
cache), buckets are emptied in order, and inside a bucket a node is simply rescanned if a
later entry improves it. That is label-correcting, so the result is the exact minimum over
the same path sums Dijkstra takes (equal bit for bit, not merely within a tolerance), and on
the ~1M-node benchmark network it is 3-4x faster per kind than a heap. The kinds run in
parallel threads (the kernels release the GIL), and the whole-network search runs on a copy
of the graph renumbered along a Hilbert curve (built once per graph object) so that nodes
near each other on the ground are near each other in memory. Measurements: bench/lifecircle.py.
"""

from __future__ import annotations

import heapq
import math
import os
import threading
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

from .graph import FloatArray, IntArray, WalkGraph

__all__ = [
    "Nearest",
    "Sources",
    "best_sites",
    "nearest",
    "prepare",
    "reach_from",
    "reach_sparse",
]

BoolArray = npt.NDArray[np.bool_]

_CHUNK = 128  # entries per pool chunk: one bucket is a linked list of chunks
_MAX_BUCKETS = 1 << 16


@dataclass(frozen=True)
class Sources:
    """The facilities of one kind as search sources: the node each stands on (or was spliced
    in as) and the distance already walked to reach it (its snap distance)."""

    nodes: IntArray  # source node indices
    offsets: FloatArray  # initial distance at each, >= 0


@dataclass(frozen=True, eq=False)
class Nearest:
    """Per kind and node, the walking distance to the nearest source and which one it is.
    Between sources at exactly the same distance the one reached first wins: deterministic
    for a graph and its sources, but not necessarily the lowest index."""

    distance: FloatArray  # (k, n) metres; inf beyond the cutoff or unreachable
    source: IntArray  # (k, n) index into that kind's Sources.nodes, -1 if none


# ---------------------------------------------------------------------------- numba kernels


@njit(cache=True, nogil=True)
def _search(
    indptr,
    indices,
    weights,
    seed_nodes,
    seed_dist,
    cutoff,
    width,
    dist,
    label,
    touched,
    key,
    node,
    chunk_next,
    chunk_count,
):
    """Delta-stepping from the seeds; ``dist`` must be inf (``label`` -1) on entry.

    Seed i labels the nodes it is nearest to with i (when ``label`` is non-empty). Every node
    whose distance becomes finite is appended to ``touched`` (when non-empty); returns how
    many were, or -1 - that number when the chunk pool (``key``/``node`` entries, chunk
    links and fill counts) ran out: the caller resets, grows it and retries. (A pool grown in
    place costs 2x in speed: LLVM then reloads the arrays in the inner loop.) Only nodes
    within ``cutoff`` are ever touched.
    """
    with_label = label.shape[0] > 0
    record = touched.shape[0] > 0
    max_chunks = chunk_next.shape[0]
    inv = 1.0 / width
    n_buckets = int(cutoff * inv) + 1
    head = np.full(n_buckets, -1, np.int64)  # the newest chunk of each bucket
    free = -1  # freed chunks are reused first, so the pool's live part stays small
    n_chunks = 0
    n_touched = 0

    for i in range(seed_nodes.shape[0]):
        s = seed_nodes[i]
        d = seed_dist[i]
        if d <= cutoff and d < dist[s]:
            if record and dist[s] == np.inf:
                touched[n_touched] = s
                n_touched += 1
            dist[s] = d
            if with_label:
                label[s] = i
            b = int(d * inv)
            h = head[b]
            if h < 0 or chunk_count[h] == _CHUNK:
                if free >= 0:
                    c = free
                    free = chunk_next[c]
                else:
                    c = n_chunks
                    n_chunks += 1
                    if c == max_chunks:
                        return -1 - n_touched
                chunk_next[c] = h
                chunk_count[c] = 0
                head[b] = c
                h = c
            j = h * _CHUNK + chunk_count[h]
            key[j] = d
            node[j] = s
            chunk_count[h] += 1

    for b in range(n_buckets):
        while head[b] >= 0:
            c = head[b]
            head[b] = chunk_next[c]
            count = chunk_count[c]
            chunk_count[c] = _CHUNK  # closed: entries for bucket b go to another chunk
            for j in range(c * _CHUNK, c * _CHUNK + count):
                d = key[j]
                u = node[j]
                if d > dist[u]:
                    continue  # improved since this entry was made
                lu = label[u] if with_label else -1
                for e in range(indptr[u], indptr[u + 1]):
                    v = indices[e]
                    nd = d + weights[e]
                    if nd < dist[v] and nd <= cutoff:
                        if record and dist[v] == np.inf:
                            touched[n_touched] = v
                            n_touched += 1
                        dist[v] = nd
                        if with_label:
                            label[v] = lu
                        bb = int(nd * inv)
                        h = head[bb]
                        if h < 0 or chunk_count[h] == _CHUNK:
                            if free >= 0:
                                c2 = free
                                free = chunk_next[c2]
                            else:
                                c2 = n_chunks
                                n_chunks += 1
                                if c2 == max_chunks:
                                    return -1 - n_touched
                            chunk_next[c2] = h
                            chunk_count[c2] = 0
                            head[bb] = c2
                            h = c2
                        jj = h * _CHUNK + chunk_count[h]
                        key[jj] = nd
                        node[jj] = v
                        chunk_count[h] += 1
            chunk_next[c] = free
            free = c
    return n_touched


@njit(cache=True, nogil=True)
def _nearest_kind(
    indptr,
    indices,
    weights,
    seed_nodes,
    seed_dist,
    cutoff,
    width,
    rank,
    dist,
    label,
    key,
    node,
    chunk_next,
    chunk_count,
    out_dist,
    out_label,
):
    """One kind on the renumbered graph, written back in the caller's node order; False
    when the chunk pool was too small (nothing written)."""
    n = rank.shape[0]
    for i in range(n):
        dist[i] = np.inf
        label[i] = -1
    done = _search(
        indptr,
        indices,
        weights,
        seed_nodes,
        seed_dist,
        cutoff,
        width,
        dist,
        label,
        np.empty(0, np.int32),
        key,
        node,
        chunk_next,
        chunk_count,
    )
    if done < 0:
        return False
    for i in range(n):
        r = rank[i]
        out_dist[i] = dist[r]
        out_label[i] = label[r]
    return True


@njit(cache=True)
def _hilbert_keys(x, y):
    """Position of each point along a Hilbert curve over its bounding box (2^16 x 2^16)."""
    n = x.shape[0]
    keys = np.zeros(n, np.int64)
    if n == 0:
        return keys
    x0, x1, y0, y1 = x.min(), x.max(), y.min(), y.max()
    side = 65535
    sx = side / (x1 - x0) if x1 > x0 else 0.0
    sy = side / (y1 - y0) if y1 > y0 else 0.0
    for i in range(n):
        if not (np.isfinite(x[i]) and np.isfinite(y[i])):
            continue
        px = int((x[i] - x0) * sx)
        py = int((y[i] - y0) * sy)
        d = 0
        s = 32768
        while s > 0:
            rx = 1 if (px & s) > 0 else 0
            ry = 1 if (py & s) > 0 else 0
            d += s * s * ((3 * rx) ^ ry)
            if ry == 0:
                if rx == 1:
                    px = side - px
                    py = side - py
                px, py = py, px
            s >>= 1
        keys[i] = d
    return keys


@njit(cache=True)
def _renumber(indptr, indices, weights, order, rank):
    """The CSR arrays with node ``order[i]`` renamed ``i``."""
    n = order.shape[0]
    new_indptr = np.empty(n + 1, np.int32)
    new_indices = np.empty(indices.shape[0], np.int32)
    new_weights = np.empty(weights.shape[0], np.float64)
    new_indptr[0] = 0
    k = 0
    for i in range(n):
        u = order[i]
        for e in range(indptr[u], indptr[u + 1]):
            new_indices[k] = rank[indices[e]]
            new_weights[k] = weights[e]
            k += 1
        new_indptr[i + 1] = k
    return new_indptr, new_indices, new_weights


# ------------------------------------------------------------------- per-graph search layout


class _Scratch:
    """The working arrays of one search, reused from search to search: fresh pages cost a
    fault each, and two threads faulting at once ran at half speed."""

    def __init__(self, n: int, chunks: int) -> None:
        self.dist = np.full(n, np.inf)  # all inf between reach searches (``clean``)
        self.label = np.full(n, -1, np.int64)
        self.touched = np.empty(max(n, 1), np.int32)
        self.clean = True
        self.grow(chunks)

    def grow(self, chunks: int) -> None:
        self.key = np.empty(chunks * _CHUNK, np.float64)
        self.node = np.empty(chunks * _CHUNK, np.int32)
        self.chunk_next = np.empty(chunks, np.int64)
        self.chunk_count = np.empty(chunks, np.int64)

    @property
    def pool(self) -> tuple[FloatArray, npt.NDArray[np.int32], IntArray, IntArray]:
        return self.key, self.node, self.chunk_next, self.chunk_count


@dataclass(frozen=True, eq=False)
class _Layout:
    """The graph renumbered for locality, and the scratch sets its searches borrow."""

    order: IntArray  # order[i] = the graph's node renamed i
    rank: IntArray  # rank[node] = its new name
    indptr: npt.NDArray[np.int32]
    indices: npt.NDArray[np.int32]
    weights: FloatArray
    median_weight: float
    idle: list[_Scratch]
    lock: threading.Lock

    def borrow(self, chunks: int) -> _Scratch:
        with self.lock:
            scratch = self.idle.pop() if self.idle else None
        if scratch is None:
            return _Scratch(self.rank.shape[0], chunks)
        if scratch.chunk_next.shape[0] < chunks:
            scratch.grow(chunks)
        return scratch

    def give_back(self, scratch: _Scratch) -> None:
        with self.lock:
            # Kept for reuse up to one per CPU; more would only hold memory.
            if len(self.idle) < _cpus():
                self.idle.append(scratch)


_LAYOUTS: weakref.WeakKeyDictionary[WalkGraph, _Layout] = weakref.WeakKeyDictionary()
_LAYOUTS_LOCK = threading.Lock()


def prepare(graph: WalkGraph) -> None:
    """Build the renumbered copy of ``graph`` the searches run on (the first search does it
    otherwise; it is kept as long as the graph object lives)."""
    _layout(graph)


def _layout(graph: WalkGraph) -> _Layout:
    with _LAYOUTS_LOCK:
        layout = _LAYOUTS.get(graph)
    if layout is not None:
        return layout
    n = graph.n_nodes
    if graph.indices.shape[0] >= 2**31:
        raise ValueError("graph too large for 32-bit edge offsets")
    keys = _hilbert_keys(
        np.ascontiguousarray(graph.lon, np.float64), np.ascontiguousarray(graph.lat, np.float64)
    )
    order = np.argsort(keys, kind="stable").astype(np.int64)
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n, dtype=np.int64)
    weights = np.ascontiguousarray(graph.weights, np.float64)
    indptr, indices, new_weights = _renumber(
        np.ascontiguousarray(graph.indptr, np.int64),
        np.ascontiguousarray(graph.indices, np.int32),
        weights,
        order,
        rank,
    )
    positive = weights[weights > 0]
    layout = _Layout(
        order=order,
        rank=rank,
        indptr=indptr,
        indices=indices,
        weights=new_weights,
        median_weight=float(np.median(positive)) if positive.size else 0.0,
        idle=[],
        lock=threading.Lock(),
    )
    with _LAYOUTS_LOCK:
        return _LAYOUTS.setdefault(graph, layout)


def _width(layout: _Layout, cutoff: float) -> float:
    """Bucket width: a few typical edges (speed is flat from 1 to 14 median edges on the
    bench network), never more buckets than ``_MAX_BUCKETS``."""
    if cutoff <= 0:
        return 1.0
    width = 4.0 * layout.median_weight if layout.median_weight > 0 else cutoff / 64
    return max(width, cutoff / _MAX_BUCKETS)


def _pool_chunks(layout: _Layout, n_seeds: int, cutoff: float, width: float) -> int:
    """Chunks for one entry per seed and half-edge (rescans rarely add 2 %) plus a partly
    filled chunk per bucket; pages never written are never committed."""
    return (n_seeds + layout.indices.shape[0]) // _CHUNK + int(cutoff * (1.0 / width)) + 3


def _check_cutoff(cutoff_m: float) -> float:
    cutoff = float(cutoff_m)
    if not (math.isfinite(cutoff) and cutoff >= 0):
        raise ValueError(f"cutoff_m must be finite and >= 0, not {cutoff_m!r}")
    return cutoff


def _cpus() -> int:
    """The CPUs this process may use (affinity and cgroup sets, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _threads(jobs: int) -> int:
    return max(1, min(jobs, _cpus()))


# --------------------------------------------------------------------------------- searches


def nearest(graph: WalkGraph, *, kinds: Sequence[Sources], cutoff_m: float) -> Nearest:
    """Multi-source search for every kind, bounded by ``cutoff_m``: each node's distance to
    the nearest source of the kind (a source's offset included), inf beyond the cutoff (a
    distance exactly at the cutoff is kept) or when unreachable. The kinds run in parallel."""
    cutoff = _check_cutoff(cutoff_m)
    n = graph.n_nodes
    k = len(kinds)
    distance = np.empty((k, n), np.float64)
    source = np.empty((k, n), np.int64)
    if k == 0:
        return Nearest(distance=distance, source=source)
    layout = _layout(graph)
    width = _width(layout, cutoff)
    seeds = []
    for sources in kinds:
        nodes = np.asarray(sources.nodes, dtype=np.int64).ravel()
        offsets = np.asarray(sources.offsets, dtype=np.float64).ravel()
        if nodes.shape != offsets.shape:
            raise ValueError("Sources.nodes and Sources.offsets must have the same length")
        if nodes.size and (nodes.min() < 0 or nodes.max() >= n):
            raise ValueError("source node out of range")
        if not np.all(offsets >= 0):  # also refuses NaN
            raise ValueError("source offsets must be >= 0")
        seeds.append((np.ascontiguousarray(layout.rank[nodes]), np.ascontiguousarray(offsets)))

    def run(q: int) -> None:
        chunks = _pool_chunks(layout, seeds[q][0].shape[0], cutoff, width)
        scratch = layout.borrow(chunks)
        try:
            scratch.clean = False
            while not _nearest_kind(
                layout.indptr,
                layout.indices,
                layout.weights,
                seeds[q][0],
                seeds[q][1],
                cutoff,
                width,
                layout.rank,
                scratch.dist,
                scratch.label,
                *scratch.pool,
                distance[q],
                source[q],
            ):
                scratch.grow(2 * scratch.chunk_next.shape[0])
        finally:
            layout.give_back(scratch)

    threads = _threads(k)
    if threads == 1:
        for q in range(k):
            run(q)
    else:
        # Most sources first: those kinds end soonest, so the others keep both threads busy.
        by_size = sorted(range(k), key=lambda q: seeds[q][0].shape[0], reverse=True)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(run, by_size))
    return Nearest(distance=distance, source=source)


def reach_sparse(
    graph: WalkGraph, *, seeds: Sequence[tuple[int, float]], cutoff_m: float
) -> tuple[IntArray, FloatArray]:
    """The nodes within ``cutoff_m`` of a point given as seeds (node, distance already
    walked; a point on an edge is two seeds) and their distances, sorted by node.

    Touches only those nodes: the working arrays are kept with the graph and reset after
    each search, so a what-if on a city-sized network costs milliseconds."""
    cutoff = _check_cutoff(cutoff_m)
    layout = _layout(graph)
    n = graph.n_nodes
    seed_nodes = np.array([int(s[0]) for s in seeds], dtype=np.int64)
    seed_dist = np.array([float(s[1]) for s in seeds], dtype=np.float64)
    if seed_nodes.size and (seed_nodes.min() < 0 or seed_nodes.max() >= n):
        raise ValueError("seed node out of range")
    if not np.all(seed_dist >= 0):
        raise ValueError("seed distances must be >= 0")
    width = _width(layout, cutoff)
    renamed_seeds = np.ascontiguousarray(layout.rank[seed_nodes])
    scratch = layout.borrow(_pool_chunks(layout, seed_nodes.shape[0], cutoff, width))
    try:
        if not scratch.clean:
            scratch.dist.fill(np.inf)
            scratch.clean = True
        dist = scratch.dist
        while True:
            count = _search(
                layout.indptr,
                layout.indices,
                layout.weights,
                renamed_seeds,
                seed_dist,
                cutoff,
                width,
                dist,
                np.empty(0, np.int64),
                scratch.touched,
                *scratch.pool,
            )
            if count >= 0:
                break
            dist[scratch.touched[: -1 - count]] = np.inf
            scratch.grow(2 * scratch.chunk_next.shape[0])
        renamed = scratch.touched[:count].copy()
        found = dist[renamed]
        dist[renamed] = np.inf
    finally:
        layout.give_back(scratch)
    nodes = layout.order[renamed]
    by_node = np.argsort(nodes, kind="stable")
    return nodes[by_node], found[by_node]


def reach_from(
    graph: WalkGraph, *, seeds: Sequence[tuple[int, float]], cutoff_m: float
) -> FloatArray:
    """`reach_sparse` as a dense (n,) array: the distance to every node, inf beyond."""
    nodes, dists = reach_sparse(graph, seeds=seeds, cutoff_m=cutoff_m)
    out = np.full(graph.n_nodes, np.inf)
    out[nodes] = dists
    return out


# ------------------------------------------------------------------------------ k best sites


def best_sites(
    *,
    reach: Sequence[tuple[IntArray, FloatArray]],
    weights: FloatArray,
    covered: BoolArray,
    radius_m: float,
    k: int,
) -> list[tuple[int, float]]:
    """Greedy maximum coverage with lazy re-evaluation (CELF, Leskovec et al. 2007).

    ``reach[i]`` holds the origins candidate i reaches and their distances; an origin counts
    when its distance is <= ``radius_m``, it is not ``covered`` yet, and it weighs
    ``weights[origin]`` households. Returns [(candidate, households newly covered)] in pick
    order, the same picks as plain greedy (ties to the lowest candidate index), stopping at
    ``k`` picks or when no candidate adds anyone. Coverage is submodular, so a gain computed
    in an earlier round bounds the gain now: most candidates are never re-evaluated.
    """
    weights = np.asarray(weights, dtype=np.float64)
    taken = np.array(covered, dtype=bool, copy=True)
    if taken.shape != weights.shape:
        raise ValueError("weights and covered must have the same shape")
    members: list[IntArray] = []
    for origins, dists in reach:
        origins = np.asarray(origins, dtype=np.int64)
        dists = np.asarray(dists, dtype=np.float64)
        members.append(np.unique(origins[dists <= radius_m]))

    def gain(i: int) -> float:
        m = members[i]
        m = m[~taken[m]]
        return float(weights[m].sum())

    # Max-heap on (gain bound, lowest index): entries stamped with the round they were computed.
    heap = [(-gain(i), i, 0) for i in range(len(members))]
    heapq.heapify(heap)
    picks: list[tuple[int, float]] = []
    while heap and len(picks) < k:
        neg, i, stamp = heapq.heappop(heap)
        if stamp == len(picks):
            if -neg <= 0:
                break
            picks.append((i, -neg))
            taken[members[i]] = True
        else:
            heapq.heappush(heap, (-gain(i), i, len(picks)))
    return picks
