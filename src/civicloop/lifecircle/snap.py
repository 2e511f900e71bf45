"""Where a facility or a home joins the walking network, and the network with it joined.

DOMAIN.md §7: a point takes the OSM node it stands on; otherwise the nearest point on an
*edge* of the largest connected component, never the nearest node (which can be an island
hundreds of metres off, or the far end of a long block). `augment` splices the snapped points
into the graph as virtual nodes, so two homes on one street are exactly their distance
along it apart, and the shortest-path kernels need no special case for "mid-edge".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer

from civicloop.lifecircle.graph import FloatArray, IntArray, WalkGraph

__all__ = ["NODE_TOLERANCE_M", "Augmented", "Snap", "Snapper", "augment"]

# A foot point this close to an edge's end is that end: no virtual node a hair from a junction.
NODE_TOLERANCE_M = 0.001


@dataclass(frozen=True)
class Snap:
    """Where a point joins the network."""

    node: int  # a graph node it stands on, or -1 when it lies on an edge
    edge: int  # index into graph.edge_u/edge_v, or -1 when on a node
    offset_m: float  # distance along the edge from edge_u[edge]
    snap_m: float  # straight distance from the point to where it joins (0 on its own node)
    ok: bool  # False when nothing within max_snap_m: off the network, unreachable


_OFF = Snap(node=-1, edge=-1, offset_m=0.0, snap_m=float("nan"), ok=False)


class Snapper:
    """STRtree of the edges of the main component, in a local metric projection (azimuthal
    equidistant at the graph's centre), built once per graph."""

    def __init__(self, graph: WalkGraph) -> None:
        self.graph = graph
        if graph.n_nodes:
            lon0 = (float(graph.lon.min()) + float(graph.lon.max())) / 2
            lat0 = (float(graph.lat.min()) + float(graph.lat.max())) / 2
        else:
            lon0 = lat0 = 0.0
        self._to_xy = Transformer.from_crs(
            "EPSG:4326",
            f"+proj=aeqd +lat_0={lat0!r} +lon_0={lon0!r} +datum=WGS84 +units=m",
            always_xy=True,
        )
        x, y = self._project(graph.lon, graph.lat)
        main = graph.component[graph.edge_u] == graph.main_component
        self._edges: IntArray = np.flatnonzero(main).astype(np.int64)
        eu, ev = graph.edge_u[self._edges], graph.edge_v[self._edges]
        coords = np.stack([np.column_stack([x[eu], y[eu]]), np.column_stack([x[ev], y[ev]])], 1)
        self._lines = shapely.linestrings(coords) if len(eu) else np.empty(0, dtype=object)
        self._line_len: FloatArray = shapely.length(self._lines)
        self._tree = shapely.STRtree(self._lines)
        real = np.flatnonzero(graph.osm_ids >= 0)
        order = np.argsort(graph.osm_ids[real], kind="stable")
        self._osm_sorted: IntArray = graph.osm_ids[real][order]
        self._osm_node: IntArray = real[order].astype(np.int64)

    def _project(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        x, y = self._to_xy.transform(
            np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
        )
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def snap(
        self,
        *,
        lon: npt.ArrayLike,
        lat: npt.ArrayLike,
        osm_node: npt.ArrayLike | None = None,
        max_snap_m: float,
    ) -> list[Snap]:
        """Snap each point: its own OSM node when that is a graph node (any component, snap 0);
        else the nearest point on an edge of the main component within ``max_snap_m``."""
        lon_a = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        p = lon_a.shape[0]
        if lat_a.shape != (p,):
            raise ValueError("lon and lat must have the same length")
        on_node = self._osm_nodes(osm_node, p)
        rest = np.flatnonzero((on_node < 0) & np.isfinite(lon_a) & np.isfinite(lat_a))
        result = [_OFF] * p
        for i in np.flatnonzero(on_node >= 0).tolist():
            result[i] = Snap(node=int(on_node[i]), edge=-1, offset_m=0.0, snap_m=0.0, ok=True)
        if not rest.size or not len(self._lines) or not max_snap_m > 0:
            return result

        x, y = self._project(lon_a[rest], lat_a[rest])
        points = shapely.points(x, y)
        (hit, tree_i), dist = self._tree.query_nearest(
            points, max_distance=max_snap_m, return_distance=True, all_matches=False
        )
        graph = self.graph
        edges = self._edges[tree_i]
        along = shapely.line_locate_point(self._lines[tree_i], points[hit])
        plen = self._line_len[tree_i]
        # The projection's scale differs from the geodesic by < 0.1 % over a city: take the
        # fraction along the projected segment and apply it to the edge's true length.
        frac = np.clip(np.divide(along, plen, out=np.zeros_like(along), where=plen > 0), 0, 1)
        length = graph.edge_len[edges]
        offset = frac * length
        at_u = offset <= NODE_TOLERANCE_M
        at_v = ~at_u & (offset >= length - NODE_TOLERANCE_M)
        node = np.where(at_u, graph.edge_u[edges], np.where(at_v, graph.edge_v[edges], -1))
        for j, i in enumerate(rest[hit].tolist()):
            if node[j] >= 0:
                result[i] = Snap(
                    node=int(node[j]), edge=-1, offset_m=0.0, snap_m=float(dist[j]), ok=True
                )
            else:
                result[i] = Snap(
                    node=-1,
                    edge=int(edges[j]),
                    offset_m=float(offset[j]),
                    snap_m=float(dist[j]),
                    ok=True,
                )
        return result

    def _osm_nodes(self, osm_node: npt.ArrayLike | None, p: int) -> IntArray:
        """The graph node of each point's OSM node, -1 when none or not in the graph."""
        found = np.full(p, -1, dtype=np.int64)
        if osm_node is None or not self._osm_sorted.size:
            return found
        ids = np.atleast_1d(np.asarray(osm_node, dtype=np.int64))
        if ids.shape != (p,):
            raise ValueError("osm_node must have one entry per point")
        pos = np.minimum(np.searchsorted(self._osm_sorted, ids), self._osm_sorted.size - 1)
        hit = (ids >= 0) & (self._osm_sorted[pos] == ids)
        found[hit] = self._osm_node[pos[hit]]
        return found


@dataclass(frozen=True, eq=False)
class Augmented:
    graph: WalkGraph  # the original graph with every snapped point spliced in
    points: IntArray  # (p,) the augmented node of each input snap, -1 if not ok
    snap_m: FloatArray  # (p,) snap distance of each input (nan if not ok)


def augment(graph: WalkGraph, snaps: Sequence[Snap]) -> Augmented:
    """The graph with each on-edge snap spliced in as a virtual node.

    Points on one edge are spliced in offset order (u—p1—p2—v replaces u—v), so two points of
    one edge are |Δoffset| apart; equal (edge, offset) share one node; a snap on a node is that
    node. Virtual nodes have osm_id -1 and lon/lat on the edge.
    """
    p = len(snaps)
    ok = np.fromiter((s.ok for s in snaps), dtype=bool, count=p)
    node = np.fromiter((s.node for s in snaps), dtype=np.int64, count=p)
    edge = np.fromiter((s.edge for s in snaps), dtype=np.int64, count=p)
    offset = np.fromiter((s.offset_m for s in snaps), dtype=np.float64, count=p)
    snap_m = np.where(ok, np.fromiter((s.snap_m for s in snaps), np.float64, count=p), np.nan)

    n, m = graph.n_nodes, graph.n_edges
    points = np.full(p, -1, dtype=np.int64)
    on_node = ok & (node >= 0)
    if on_node.any() and node[on_node].max() >= n:
        raise ValueError("snap node out of range")
    points[on_node] = node[on_node]
    on_edge = np.flatnonzero(ok & (node < 0))
    if not on_edge.size:
        return Augmented(graph=graph, points=points, snap_m=snap_m)

    e, o = edge[on_edge], offset[on_edge]
    if e.min() < 0 or e.max() >= m:
        raise ValueError("snap edge out of range")
    length = graph.edge_len[e]
    if not (np.all(o >= 0) and np.all(o <= length)):
        raise ValueError("snap offset outside its edge")

    # One virtual node per distinct (edge, offset), numbered in (edge, offset) order.
    order = np.lexsort((o, e))
    es, os_ = e[order], o[order]
    distinct = np.ones(es.shape[0], dtype=bool)
    distinct[1:] = (es[1:] != es[:-1]) | (os_[1:] != os_[:-1])
    vid = np.cumsum(distinct) - 1
    points[on_edge[order]] = n + vid
    ve, vo = es[distinct], os_[distinct]
    k = ve.shape[0]
    virtual = n + np.arange(k, dtype=np.int64)

    eu = graph.edge_u[ve].astype(np.int64)
    ev = graph.edge_v[ve].astype(np.int64)
    first = np.ones(k, dtype=bool)
    first[1:] = ve[1:] != ve[:-1]
    last = np.ones(k, dtype=bool)
    last[:-1] = ve[:-1] != ve[1:]
    prev_node = np.where(first, eu, np.roll(virtual, 1))
    prev_off = np.where(first, 0.0, np.roll(vo, 1))

    elen = graph.edge_len[ve]
    frac = vo / np.where(elen > 0, elen, 1.0)
    lon = graph.lon[eu] + frac * (graph.lon[ev] - graph.lon[eu])
    lat = graph.lat[eu] + frac * (graph.lat[ev] - graph.lat[eu])

    keep = np.ones(m, dtype=bool)
    keep[ve] = False
    new_u = np.concatenate([graph.edge_u[keep], prev_node, virtual[last]])
    new_v = np.concatenate([graph.edge_v[keep], virtual, ev[last]])
    new_len = np.concatenate([graph.edge_len[keep], vo - prev_off, elen[last] - vo[last]])
    spliced = WalkGraph.from_edges(
        lon=np.concatenate([graph.lon, lon]),
        lat=np.concatenate([graph.lat, lat]),
        osm_ids=np.concatenate([graph.osm_ids, np.full(k, -1, dtype=np.int64)]),
        u=new_u,
        v=new_v,
        length=new_len,
    )
    return Augmented(graph=spliced, points=points, snap_m=snap_m)
