"""The computation: walking distance from every compound and building to the nearest
facility of every kind, on the current network.

``compute`` is pure (arrays in, arrays out) so that the tests, the benchmark and the job
share it. Facilities and origins are snapped (``snap.Snapper``: a facility's own OSM node,
otherwise the nearest edge of the main component) and spliced into the network
(``snap.augment``), so two points on one street are their true distance apart; then one
bounded multi-source search per kind (``engine.nearest``) gives every node its nearest
facility. An origin's distance adds its own snap distance; a facility's snap distance is
its source's initial distance.

An origin is *unreachable* for a kind when it could not be snapped (farther than
``MAX_SNAP_M`` from every walkable way) or when no facility of the kind stands on its part
of the network; it is *beyond* when the nearest is farther than the search cutoff. Neither
is ever reported as 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from . import engine
from .graph import WalkGraph
from .snap import Augmented, Snapper, augment

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Reach states as small integers in arrays (ReachState in models).
REACHED, BEYOND, UNREACHABLE = 0, 1, 2


@dataclass(frozen=True)
class Settings:
    speed_m_per_min: float
    levels: tuple[int, ...]
    cutoff_m: float
    max_snap_m: float

    @classmethod
    def from_config(cls, config: dict, *, kind_minutes: Sequence[int] = ()) -> Settings:
        speed = float(config["WALK_SPEED_M_PER_MIN"])
        levels = tuple(sorted(int(m) for m in config["LEVELS_MINUTES"]))
        if speed <= 0 or not levels or levels[0] <= 0:
            raise ValueError("LIFECIRCLE: the walking speed and the levels must be positive")
        # The search must reach the largest level, and every kind's own life circle, at the
        # walking speed: a kind is never "beyond" inside its own circle.
        cutoff = max(float(config["CUTOFF_M"]), limit_m(max([*levels, *kind_minutes]), speed))
        return cls(speed, levels, cutoff, float(config["MAX_SNAP_M"]))


@dataclass(frozen=True)
class Points:
    """Points to place on the network (facilities or origins)."""

    lon: FloatArray
    lat: FloatArray
    osm_node: IntArray  # the OSM node a point stands on, or -1

    def __len__(self) -> int:
        return len(self.lon)

    @classmethod
    def of(
        cls, lon: Sequence[float], lat: Sequence[float], osm_node: Sequence[int] | None = None
    ) -> Points:
        n = len(lon)
        nodes = (
            np.full(n, -1, dtype=np.int64)
            if osm_node is None
            else np.asarray(osm_node, dtype=np.int64)
        )
        return cls(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64), nodes)


@dataclass(frozen=True, eq=False)
class Result:
    """Distances of every origin to the nearest facility of every kind."""

    augmented: Augmented  # the network with facilities and origins spliced in
    facility_nodes: IntArray  # (f,) node of each facility in the augmented graph, -1 off-network
    origin_nodes: IntArray  # (p,) node of each origin, -1 off-network
    origin_snap: FloatArray  # (p,) snap distance of each origin (nan off-network)
    distance: FloatArray  # (k, p) metres, inf when not reached
    state: npt.NDArray[np.int8]  # (k, p) REACHED / BEYOND / UNREACHABLE
    nearest: IntArray  # (k, p) index into the facilities of the nearest one, -1 if none
    node_distance: npt.NDArray[
        np.float32
    ]  # (k, n) of every node of the spliced network, for shading


def compute(
    *,
    graph: WalkGraph,
    facilities: Points,
    facility_kind: IntArray,
    origins: Points,
    n_kinds: int,
    settings: Settings,
) -> Result:
    """Nearest facility of each of ``n_kinds`` kinds (``facility_kind`` gives each facility's
    kind index) for every origin."""
    snapper = Snapper(graph)
    snaps = snapper.snap(
        lon=np.concatenate([facilities.lon, origins.lon]),
        lat=np.concatenate([facilities.lat, origins.lat]),
        osm_node=np.concatenate([facilities.osm_node, origins.osm_node]),
        max_snap_m=settings.max_snap_m,
    )
    aug = augment(graph, snaps)
    n_fac = len(facilities)
    fac_nodes = aug.points[:n_fac]
    fac_snap = aug.snap_m[:n_fac]
    origin_nodes = aug.points[n_fac:]
    origin_snap = aug.snap_m[n_fac:]

    facility_kind = np.asarray(facility_kind, dtype=np.int64)
    on_network = fac_nodes >= 0
    members = [np.flatnonzero((facility_kind == k) & on_network) for k in range(n_kinds)]
    sources = [engine.Sources(nodes=fac_nodes[m], offsets=fac_snap[m]) for m in members]
    near = engine.nearest(aug.graph, kinds=sources, cutoff_m=settings.cutoff_m)

    p = len(origins)
    distance = np.full((n_kinds, p), np.inf)
    state = np.full((n_kinds, p), UNREACHABLE, dtype=np.int8)
    nearest = np.full((n_kinds, p), -1, dtype=np.int64)
    placed = origin_nodes >= 0
    nodes = origin_nodes[placed]
    component = aug.graph.component
    for k in range(n_kinds):
        if not len(members[k]):
            continue
        d = near.distance[k, nodes] + origin_snap[placed]
        d[d > settings.cutoff_m] = np.inf
        src = near.source[k, nodes]
        # A kind is unreachable from a part of the network that has none of its facilities.
        connected = np.isin(component[nodes], component[fac_nodes[members[k]]])
        row_state = np.where(
            np.isfinite(d), REACHED, np.where(connected, BEYOND, UNREACHABLE)
        ).astype(np.int8)
        distance[k, placed] = d
        state[k, placed] = row_state
        nearest[k, placed] = np.where(
            np.isfinite(d) & (src >= 0), members[k][np.maximum(src, 0)], -1
        )
    return Result(
        augmented=aug,
        facility_nodes=fac_nodes,
        origin_nodes=origin_nodes,
        origin_snap=origin_snap,
        distance=distance,
        state=state,
        nearest=nearest,
        node_distance=near.distance.astype(np.float32),
    )


def limit_m(minutes: float, speed_m_per_min: float) -> float:
    """The walking distance of a life circle. Every "within N minutes" test compares a
    distance with this (never a time with N): one formula, so the stored results, the
    coverage, the what-if and the best sites agree even at the boundary."""
    return float(minutes) * float(speed_m_per_min)


def level_of(
    distance: FloatArray, levels: Sequence[int], speed_m_per_min: float
) -> npt.NDArray[np.int64]:
    """The smallest life-circle level (minutes) each distance falls within; 0 for none."""
    result = np.zeros(distance.shape, dtype=np.int64)
    for level in sorted(levels, reverse=True):
        result[distance <= limit_m(level, speed_m_per_min)] = level
    return result
