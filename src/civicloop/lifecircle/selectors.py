"""Reads of the life circle: the state of the jobs, coverage tables, gap lists, map layers,
and the two planning questions: what a candidate site would change (what-if) and the k best
sites among candidates.

Everything a reader sees of compounds, buildings and areas is scoped by
``policy.lifecircle_q``; facilities are public places and shown to every reader. The
what-if and best-site searches use the current analysis's arrays, loaded once per process
(``loaded()``), so a candidate costs one bounded search on the spliced network.
"""

from __future__ import annotations

import io
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from civicloop.core.errors import NotFoundOrForbidden, ValidationFailed
from civicloop.org import policy
from civicloop.places.models import Area, AreaKind, Compound

from . import analysis as calc
from . import engine
from .graph import WalkGraph
from .models import (
    Analysis,
    Building,
    Coverage,
    FacilityKind,
    JobStatus,
    Network,
    Reach,
)
from .snap import Snapper

FloatArray = npt.NDArray[np.float64]


def require_reader(user: Any) -> None:
    if not policy.may_read_lifecircle(user):
        raise NotFoundOrForbidden(
            _("The life-circle analysis is for the campaign office and leaders.")
        )


def active_kinds() -> list[FacilityKind]:
    return list(FacilityKind.objects.filter(active=True).order_by("sort_order", "code"))


def access_kind(code_or_id: Any) -> FacilityKind:
    """An active kind by code or id; a clear error otherwise."""
    q = Q(code=str(code_or_id))
    if str(code_or_id).isdigit():
        q |= Q(pk=int(code_or_id))
    kind = FacilityKind.objects.filter(q, active=True).first()
    if kind is None:
        raise ValidationFailed(_("Choose a kind of facility from the list."), field="kind")
    return kind


# ---- jobs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    network: Network | None  # the current network
    latest_import: Network | None  # the newest import, whatever its state
    analysis: Analysis | None  # the current results
    pending: Analysis | None  # a queued or running recomputation
    stale: bool  # the inputs changed since the current results were computed
    failed: Analysis | None  # the newest analysis, if it failed after the current one


def status() -> Status:
    from .actions import inputs_stamp

    network = Network.objects.filter(is_current=True).first()
    current = Analysis.objects.filter(is_current=True).first()
    pending = (
        Analysis.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        .order_by("-requested_at")
        .first()
    )
    newest = Analysis.objects.order_by("-requested_at", "-pk").first()
    failed = newest if newest is not None and newest.status == JobStatus.FAILED else None
    stale = network is not None and (
        current is None
        or current.network_id != network.pk
        or current.inputs_stamp != inputs_stamp(network)
    )
    return Status(
        network=network,
        latest_import=Network.objects.order_by("-requested_at", "-pk").first(),
        analysis=current,
        pending=pending,
        stale=stale,
        failed=failed,
    )


def current_analysis() -> Analysis | None:
    return Analysis.objects.filter(is_current=True).select_related("network").first()


def networks(user: Any) -> QuerySet[Network]:
    if not policy.may_manage_lifecircle(user):
        return Network.objects.none()
    return Network.objects.select_related("requested_by").order_by("-requested_at", "-pk")


def access_network(user: Any, network_id: int) -> Network:
    network = networks(user).filter(pk=network_id).first()
    if network is None:
        raise NotFoundOrForbidden(_("No such import, or it is not yours to see."))
    return network


# ---- coverage tables -----------------------------------------------------------------------

LEVEL_KINDS = {
    "community": AreaKind.COMMUNITY,
    "street": AreaKind.STREET,
    "district": AreaKind.DISTRICT,
}


@dataclass(frozen=True)
class CoverageRow:
    area: Area
    parent_name: str
    all_required: Coverage | None
    by_kind: dict[int, Coverage]

    @property
    def households(self) -> int:
        return self.all_required.households if self.all_required else 0


@dataclass(frozen=True)
class CoverageTable:
    analysis: Analysis | None
    kinds: list[FacilityKind]
    level: str
    rows: list[CoverageRow]


def coverage_table(user: Any, *, level: str = "community") -> CoverageTable:
    """Share of households reaching each kind (and all required kinds) per community, street
    or district the user may see."""
    require_reader(user)
    if level not in LEVEL_KINDS:
        raise ValidationFailed(_("Choose community, street or district."), field="level")
    analysis = current_analysis()
    kinds = active_kinds()
    if analysis is None:
        return CoverageTable(None, kinds, level, [])
    areas = list(
        Area.objects.filter(policy.lifecircle_q(user, field="path"), kind=LEVEL_KINDS[level])
        .select_related("parent")
        .order_by("path")
    )
    by_area: dict[int, dict[int | None, Coverage]] = defaultdict(dict)
    for cov in Coverage.objects.filter(analysis=analysis, area__in=[a.pk for a in areas]):
        by_area[cov.area_id][cov.kind_id] = cov
    rows = [
        CoverageRow(
            area=a,
            parent_name=a.parent.name if a.parent else "",
            all_required=by_area[a.pk].get(None),
            by_kind={k: v for k, v in by_area[a.pk].items() if k is not None},
        )
        for a in areas
    ]
    return CoverageTable(analysis, kinds, level, rows)


# ---- gaps ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    kind: FacilityKind
    place: str  # "compound" | "building"
    place_id: int
    name: str
    community: str
    street: str
    households: int
    state: str  # ReachState
    distance_m: float | None
    minutes: float | None
    facility: str  # name of the nearest facility, when one was found


def _visible_reaches(user: Any, analysis: Analysis) -> QuerySet[Reach]:
    """Compound rows inside the user's areas, and rows of buildings outside every compound."""
    paths = policy.lifecircle_paths(user)
    compounds = Q(compound__isnull=False)
    buildings = Q(building__isnull=False, building__compound__isnull=True)
    if paths is not None:
        compounds &= policy.lifecircle_q(user, field="compound__community__path")
        buildings &= policy.lifecircle_q(user, field="building__area_path")
    return Reach.objects.filter(analysis=analysis).filter(compounds | buildings)


def _gap(r: Reach) -> Gap:
    place = r.compound if r.compound_id else r.building
    community = place.community if place is not None else None
    return Gap(
        kind=r.kind,
        place="compound" if r.compound_id else "building",
        place_id=r.compound_id or r.building_id,
        name=str(place),
        community=community.name if community else "",
        street=community.parent.name if community and community.parent else "",
        households=place.households if place is not None else 0,
        state=r.state,
        distance_m=r.distance_m,
        minutes=r.minutes,
        facility=str(r.facility) if r.facility_id else "",
    )


class GapList:
    """The gaps, ordered and paged in the database (a city has hundreds of thousands of
    rows): ``len`` counts, slicing reads one page, iterating streams them all."""

    def __init__(self, rows: QuerySet[Reach]) -> None:
        self._rows = rows

    def count(self) -> int:
        return self._rows.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [_gap(r) for r in self._rows[index]]
        return _gap(self._rows[index])

    def __iter__(self) -> Any:
        for r in self._rows.iterator(chunk_size=2000):
            yield _gap(r)


def gaps(user: Any, *, kind: FacilityKind | None = None) -> GapList:
    """Compounds (and buildings outside compounds) that do not reach a kind within its life
    circle: farther, beyond the search distance, or not connected at all. By kind, largest
    first."""
    require_reader(user)
    analysis = current_analysis()
    if analysis is None:
        return GapList(Reach.objects.none())
    rows = (
        _visible_reaches(user, analysis)
        .filter(covered=False, kind__active=True)
        .select_related(
            "kind", "facility__kind", "compound__community__parent", "building__community__parent"
        )
        .annotate(
            place_households=Coalesce(
                F("compound__households"), F("building__households"), Value(0)
            )
        )
        .order_by("kind__sort_order", "kind__code", "-place_households", "pk")
    )
    if kind is not None:
        rows = rows.filter(kind=kind)
    return GapList(rows)


def gap_summary(user: Any) -> list[tuple[FacilityKind, int, int]]:
    """(kind, places, households) not covered, per kind: one aggregate query per origin type."""
    require_reader(user)
    analysis = current_analysis()
    kinds = active_kinds()
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    if analysis is not None:
        rows = _visible_reaches(user, analysis).filter(covered=False)
        for field_ in ("compound__households", "building__households"):
            origin = field_.split("__")[0]
            agg = (
                rows.filter(**{f"{origin}__isnull": False})
                .values("kind_id")
                .annotate(places=Count("pk"), households=Sum(field_))
            )
            for row in agg:
                counts[row["kind_id"]][0] += row["places"]
                counts[row["kind_id"]][1] += row["households"] or 0
    return [(k, counts[k.pk][0], counts[k.pk][1]) for k in kinds]


# ---- map layers ----------------------------------------------------------------------------


def _feature(geometry: dict, **props: Any) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def _reach_props(r: Reach | None) -> dict[str, Any]:
    if r is None:
        return {"state": "", "covered": False}
    return {
        "state": r.state,
        "covered": r.covered,
        "distance_m": round(r.distance_m, 1) if r.distance_m is not None else None,
        "minutes": round(r.minutes, 1) if r.minutes is not None else None,
        "level": r.level,
        "facility": str(r.facility) if r.facility_id else "",
    }


def compounds_layer(user: Any, *, kind: FacilityKind) -> dict:
    """Compound outlines with their reach of ``kind`` (covered / not covered / unreachable)."""
    import json

    require_reader(user)
    analysis = current_analysis()
    reaches: dict[int, Reach] = {}
    if analysis is not None:
        rows = Reach.objects.filter(
            analysis=analysis, kind=kind, compound__isnull=False
        ).select_related("facility")
        reaches = {r.compound_id: r for r in rows}
    compounds = Compound.objects.filter(
        policy.lifecircle_q(user, field="community__path")
    ).select_related("community")
    return {
        "type": "FeatureCollection",
        "features": [
            _feature(
                json.loads(c.geometry),
                id=c.pk,
                name=c.name,
                community=c.community.name,
                households=c.households,
                **_reach_props(reaches.get(c.pk)),
            )
            for c in compounds
        ],
    }


def buildings_layer(user: Any, *, kind: FacilityKind) -> dict:
    """Residential buildings as points with their reach of ``kind``."""
    require_reader(user)
    analysis = current_analysis()
    if analysis is None:
        return {"type": "FeatureCollection", "features": []}
    rows = (
        Reach.objects.filter(analysis=analysis, kind=kind, building__isnull=False)
        .filter(policy.lifecircle_q(user, field="building__area_path"))
        .select_related("building", "facility")
    )
    return {
        "type": "FeatureCollection",
        "features": [
            _feature(
                {"type": "Point", "coordinates": [r.building.lon, r.building.lat]},
                id=r.building_id,
                name=str(r.building),
                households=r.building.households,
                **_reach_props(r),
            )
            for r in rows
        ],
    }


def facilities_layer(user: Any, *, kind: FacilityKind | None = None) -> dict:
    from .actions import network_facilities

    require_reader(user)
    network = Network.objects.filter(is_current=True).first()
    rows = network_facilities(network).select_related("kind")
    if kind is not None:
        rows = rows.filter(kind=kind)
    return {
        "type": "FeatureCollection",
        "features": [
            _feature(
                {"type": "Point", "coordinates": [f.lon, f.lat]},
                id=f.pk,
                name=str(f),
                kind=f.kind.code,
                kind_name=f.kind.name,
                source=f.source,
            )
            for f in rows
        ],
    }


# Distance bands of the street shading, metres (5-, 10- and 15-minute walks at 80 m/min).
BANDS = (400.0, 800.0, 1200.0)


def segments_layer(user: Any, *, kind: FacilityKind) -> dict:
    """The walkable streets shaded by walking distance to the nearest ``kind``: one
    MultiLineString per band (≤ 5, ≤ 10, ≤ 15 minutes, farther, unreached), clipped to the
    bounding box of the areas the user may see."""
    require_reader(user)
    data = loaded()
    if data is None or kind.pk not in data.kind_pos:
        return {"type": "FeatureCollection", "features": []}
    k = data.kind_pos[kind.pk]
    speed = data.analysis.speed_m_per_min
    bands = [m * speed for m in sorted(data.analysis.levels)]
    u, v = data.orig_edge_u, data.orig_edge_v
    lon, lat = data.graph.lon, data.graph.lat
    keep = np.ones(len(u), dtype=bool)
    box = _visible_box(user)
    if box is not None:
        x0, y0, x1, y1 = box
        keep = (lon[u] >= x0) & (lon[u] <= x1) & (lat[u] >= y0) & (lat[u] <= y1)
    d = np.minimum(data.node_distance[k, u], data.node_distance[k, v]).astype(np.float64)
    band = np.searchsorted(np.asarray(bands), d, side="left")  # 0..len(bands); inf → last
    band[~np.isfinite(d)] = len(bands) + 1
    features = []
    labels = [*(f"≤ {m}" for m in sorted(data.analysis.levels)), ">", "∞"]
    for b in range(len(bands) + 2):
        sel = np.flatnonzero(keep & (band == b))
        if not len(sel):
            continue
        coords = np.stack(
            [
                np.stack([lon[u[sel]], lat[u[sel]]], axis=1),
                np.stack([lon[v[sel]], lat[v[sel]]], axis=1),
            ],
            axis=1,
        )
        features.append(
            _feature(
                {"type": "MultiLineString", "coordinates": np.round(coords, 6).tolist()},
                band=b,
                label=labels[b],
                segments=int(len(sel)),
            )
        )
    return {"type": "FeatureCollection", "features": features}


def _visible_box(user: Any) -> tuple[float, float, float, float] | None:
    paths = policy.lifecircle_paths(user)
    if paths is None:
        return None
    areas = list(Area.objects.filter(policy.lifecircle_q(user, field="path"), path__in=paths))
    if not areas:
        return (0.0, 0.0, -1.0, -1.0)
    return (
        min(a.min_lon for a in areas),
        min(a.min_lat for a in areas),
        max(a.max_lon for a in areas),
        max(a.max_lat for a in areas),
    )


# ---- the loaded analysis (what-if, best sites, shading) ------------------------------------


@dataclass(eq=False)
class Loaded:
    analysis: Analysis
    graph: WalkGraph  # the spliced network
    snapper: Snapper
    kind_pos: dict[int, int]  # kind id → row
    origin_nodes: npt.NDArray[np.int64]
    origin_snap: FloatArray
    distance: FloatArray  # (k, p)
    node_distance: npt.NDArray[np.float32]  # (k, n) every node of the spliced network
    orig_edge_u: npt.NDArray[np.int64]  # edges of the spliced network, for shading
    orig_edge_v: npt.NDArray[np.int64]
    households: npt.NDArray[np.int64]  # (p,) 0 for buildings inside compounds (counted once)
    origin_path: npt.NDArray[
        np.object_
    ]  # (p,) area path (community of a compound, grid of a building)
    origin_name: list[str]
    origin_area: npt.NDArray[np.int64]  # (p,) community id, 0 if none
    order: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.zeros(0, dtype=np.int64)
    )  # origins sorted by node
    sorted_nodes: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


_lock = threading.Lock()
_loaded: Loaded | None = None


def loaded() -> Loaded | None:
    """The current analysis's arrays, read once per process and per analysis."""
    global _loaded
    analysis = current_analysis()
    if analysis is None or not analysis.data:
        return None
    cached = _loaded
    if cached is not None and _key(cached.analysis) == _key(analysis):
        return cached
    with _lock:
        if _loaded is None or _key(_loaded.analysis) != _key(analysis):
            _loaded = _load(analysis)
        return _loaded


def _key(analysis: Analysis) -> tuple[int, str, Any]:
    """Ids can come back (a rolled-back test database): the file and time make it unique."""
    return (analysis.pk, analysis.data.name, analysis.finished_at)


def _load(analysis: Analysis) -> Loaded:
    with analysis.data.open("rb") as fh:
        arrays = dict(np.load(io.BytesIO(fh.read()), allow_pickle=False))
    graph = WalkGraph.from_edges(
        lon=arrays["g_lon"],
        lat=arrays["g_lat"],
        osm_ids=arrays["g_osm_ids"],
        u=arrays["g_edge_u"].astype(np.int64),
        v=arrays["g_edge_v"].astype(np.int64),
        length=arrays["g_edge_len"],
    )
    eu, ev = graph.edge_u.astype(np.int64), graph.edge_v.astype(np.int64)
    compounds = arrays["origin_compound"]
    buildings = arrays["origin_building"]
    p = len(compounds)
    # The weights the analysis counted (coverage): the same households, whatever changed since.
    households = arrays["origin_households"].astype(np.int64)
    paths = np.empty(p, dtype=object)
    names = [""] * p
    areas = np.zeros(p, dtype=np.int64)
    info_c = {
        c.pk: c
        for c in Compound.objects.filter(pk__in=compounds[compounds > 0].tolist()).select_related(
            "community"
        )
    }
    info_b = {b.pk: b for b in Building.objects.filter(pk__in=buildings[buildings > 0].tolist())}
    for i in range(p):
        if compounds[i]:
            c = info_c.get(int(compounds[i]))
            if c is not None:
                paths[i], names[i], areas[i] = c.community.path, c.name, c.community_id
        else:
            b = info_b.get(int(buildings[i]))
            if b is not None:
                paths[i], names[i], areas[i] = b.area_path, str(b), b.community_id or 0
        if paths[i] is None:
            paths[i] = ""
    origin_nodes = arrays["origin_nodes"].astype(np.int64)
    distance = arrays["distance"]
    order = np.argsort(origin_nodes, kind="stable")
    # The search layout and numba's compiled kernels now, not in the first what-if.
    if graph.n_nodes:
        engine.prepare(graph)
        engine.reach_sparse(graph, seeds=[(0, 0.0)], cutoff_m=0.0)
    return Loaded(
        analysis=analysis,
        graph=graph,
        snapper=Snapper(graph),
        kind_pos={int(pk): i for i, pk in enumerate(arrays["kind_ids"].tolist())},
        origin_nodes=origin_nodes,
        origin_snap=arrays["origin_snap"],
        distance=distance,
        node_distance=arrays["node_distance"],
        orig_edge_u=eu,
        orig_edge_v=ev,
        households=households,
        origin_path=paths,
        origin_name=names,
        origin_area=areas,
        order=order,
        sorted_nodes=origin_nodes[order],
    )


def _visible_origins(user: Any, data: Loaded) -> npt.NDArray[np.bool_]:
    paths = policy.lifecircle_paths(user)
    if paths is None:
        return np.ones(len(data.origin_nodes), dtype=bool)
    result = np.zeros(len(data.origin_nodes), dtype=bool)
    for i, path in enumerate(data.origin_path.tolist()):
        result[i] = bool(path) and any(path.startswith(p) for p in paths)
    return result


def _reached_origins(
    data: Loaded, nodes: npt.NDArray[np.int64], dists: FloatArray
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Origins standing on the reached nodes, with their distance (plus their own snap)."""
    if not len(nodes):
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    lo = np.searchsorted(data.sorted_nodes, nodes, side="left")
    hi = np.searchsorted(data.sorted_nodes, nodes, side="right")
    counts = hi - lo
    if not counts.sum():
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    starts = np.repeat(lo, counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    origins = data.order[starts + offsets]
    return origins, np.repeat(dists, counts) + data.origin_snap[origins]


def _seeds(data: Loaded, lon: float, lat: float) -> tuple[list[tuple[int, float]], float]:
    snap = data.snapper.snap(
        lon=np.array([lon], dtype=np.float64),
        lat=np.array([lat], dtype=np.float64),
        osm_node=None,
        max_snap_m=data.analysis.max_snap_m,
    )[0]
    if not snap.ok:
        raise ValidationFailed(
            _("This point is more than %(m)d m from every walkable way.")
            % {"m": round(data.analysis.max_snap_m)},
            field="lon",
        )
    if snap.node >= 0:
        return [(snap.node, snap.snap_m)], snap.snap_m
    u, v = int(data.graph.edge_u[snap.edge]), int(data.graph.edge_v[snap.edge])
    length = float(data.graph.edge_len[snap.edge])
    return [
        (u, snap.offset_m + snap.snap_m),
        (v, length - snap.offset_m + snap.snap_m),
    ], snap.snap_m


@dataclass(frozen=True)
class AreaChange:
    area_id: int
    name: str
    households: int
    before: int  # covered households
    after: int

    @property
    def before_share(self) -> float | None:
        return round(100.0 * self.before / self.households, 1) if self.households else None

    @property
    def after_share(self) -> float | None:
        return round(100.0 * self.after / self.households, 1) if self.households else None


@dataclass(frozen=True)
class WhatIf:
    kind: FacilityKind
    lon: float
    lat: float
    snap_m: float
    households_gained: int
    places: list[tuple[str, int, float]]  # (name, households, walking metres) newly covered
    areas: list[AreaChange]
    total_households: int
    covered_before: int
    covered_after: int
    elapsed_ms: float

    @property
    def share_before(self) -> float | None:
        return (
            round(100.0 * self.covered_before / self.total_households, 1)
            if self.total_households
            else None
        )

    @property
    def share_after(self) -> float | None:
        return (
            round(100.0 * self.covered_after / self.total_households, 1)
            if self.total_households
            else None
        )


def _require_loaded() -> Loaded:
    data = loaded()
    if data is None:
        raise ValidationFailed(_("There are no life-circle results yet: import a network first."))
    return data


def whatif(user: Any, *, kind: FacilityKind, lon: Any, lat: Any) -> WhatIf:
    """What a new facility of ``kind`` at (lon, lat) would change: the compounds and
    buildings it brings within the kind's life circle, and each community's share before and
    after. One bounded search from the candidate; the stored distances do the rest."""
    require_reader(user)
    from .actions import check_point

    x, y = check_point(lon, lat)
    started = time.perf_counter()
    data = _require_loaded()
    if kind.pk not in data.kind_pos:
        raise ValidationFailed(
            _("This kind was added after the last computation; recompute first."), field="kind"
        )
    k = data.kind_pos[kind.pk]
    seeds, snap_m = _seeds(data, x, y)
    limit = calc.limit_m(kind.level_minutes, data.analysis.speed_m_per_min)
    nodes, dists = engine.reach_sparse(data.graph, seeds=seeds, cutoff_m=limit)
    origins, new_d = _reached_origins(data, nodes, dists)
    visible = _visible_origins(user, data)
    old = data.distance[k]
    covered_before = (old <= limit) & visible
    gained_mask = np.zeros(len(old), dtype=bool)
    hit = new_d <= limit
    gained_mask[origins[hit]] = True
    gained_mask &= ~covered_before & visible
    covered_after = covered_before | gained_mask
    weights = data.households
    per_area_total: dict[int, int] = defaultdict(int)
    per_area_before: dict[int, int] = defaultdict(int)
    per_area_after: dict[int, int] = defaultdict(int)
    touched = set(data.origin_area[gained_mask].tolist())
    for i in np.flatnonzero(visible & np.isin(data.origin_area, list(touched))).tolist():
        a = int(data.origin_area[i])
        per_area_total[a] += int(weights[i])
        per_area_before[a] += int(weights[i]) if covered_before[i] else 0
        per_area_after[a] += int(weights[i]) if covered_after[i] else 0
    names = dict(Area.objects.filter(pk__in=list(per_area_total)).values_list("pk", "name"))
    best = dict(zip(origins[hit].tolist(), new_d[hit].tolist(), strict=True))
    places = sorted(
        (
            (data.origin_name[i], int(weights[i]), round(best.get(i, 0.0), 1))
            for i in np.flatnonzero(gained_mask).tolist()
            if weights[i] > 0
        ),
        key=lambda t: -t[1],
    )
    return WhatIf(
        kind=kind,
        lon=x,
        lat=y,
        snap_m=round(snap_m, 1),
        households_gained=int(weights[gained_mask].sum()),
        places=places,
        areas=sorted(
            (
                AreaChange(
                    a, names.get(a, ""), per_area_total[a], per_area_before[a], per_area_after[a]
                )
                for a in per_area_total
                if a
            ),
            key=lambda c: c.name,
        ),
        total_households=int(weights[visible].sum()),
        covered_before=int(weights[covered_before].sum()),
        covered_after=int(weights[covered_after].sum()),
        elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
    )


@dataclass(frozen=True)
class Pick:
    lon: float
    lat: float
    households_gained: int
    covered_after: int


@dataclass(frozen=True)
class BestSites:
    kind: FacilityKind
    picks: list[Pick]
    candidates: int
    total_households: int
    covered_before: int
    elapsed_ms: float


def best_sites(
    user: Any,
    *,
    kind: FacilityKind,
    k: Any,
    candidates: Sequence[tuple[float, float]] | None = None,
) -> BestSites:
    """The ``k`` sites, among candidate points (the given ones, or the street junctions of the
    user's areas), that bring the most uncovered households within the kind's life circle:
    greedy maximum coverage with lazy re-evaluation (``engine.best_sites``)."""
    require_reader(user)
    cfg = settings.CIVICLOOP["LIFECIRCLE"]
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise ValidationFailed(_("Ask for a whole number of sites."), field="k") from None
    if not 1 <= k <= cfg["MAX_BEST_SITES"]:
        raise ValidationFailed(
            _("Ask for between 1 and %(n)d sites.") % {"n": cfg["MAX_BEST_SITES"]}, field="k"
        )
    started = time.perf_counter()
    data = _require_loaded()
    if kind.pk not in data.kind_pos:
        raise ValidationFailed(
            _("This kind was added after the last computation; recompute first."), field="kind"
        )
    row = data.kind_pos[kind.pk]
    limit = calc.limit_m(kind.level_minutes, data.analysis.speed_m_per_min)
    visible = _visible_origins(user, data)
    covered = (data.distance[row] <= limit) | ~visible
    weights = np.where(visible, data.households, 0).astype(np.float64)
    if candidates:
        if len(candidates) > cfg["MAX_CANDIDATES"]:
            raise ValidationFailed(
                _("Give at most %(n)d candidate points.") % {"n": cfg["MAX_CANDIDATES"]},
                field="candidates",
            )
        from .actions import check_point

        points = [check_point(x, y) for x, y in candidates]
        seeds = [_seeds(data, x, y)[0] for x, y in points]
    else:
        points, seeds = _junctions(user, data, covered, limit, cfg["MAX_CANDIDATES"])
    reach = []
    for s in seeds:
        nodes, dists = engine.reach_sparse(data.graph, seeds=s, cutoff_m=limit)
        reach.append(_reached_origins(data, nodes, dists))
    picks_raw = engine.best_sites(
        reach=reach, weights=weights, covered=covered, radius_m=limit, k=k
    )
    before = int(weights[(data.distance[row] <= limit) & visible].sum())
    running = before
    picks = []
    for index, gain in picks_raw:
        running += int(round(gain))
        picks.append(
            Pick(
                lon=points[index][0],
                lat=points[index][1],
                households_gained=int(round(gain)),
                covered_after=running,
            )
        )
    return BestSites(
        kind=kind,
        picks=picks,
        candidates=len(seeds),
        total_households=int(weights.sum()),
        covered_before=before,
        elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def _junctions(
    user: Any, data: Loaded, covered: npt.NDArray[np.bool_], limit: float, most: int
) -> tuple[list[tuple[float, float]], list[list[tuple[int, float]]]]:
    """Street junctions (degree ≥ 3) of the main network within reach of an uncovered
    household, thinned evenly to at most ``most``."""
    g = data.graph
    degree = np.diff(g.indptr)
    junction = (degree >= 3) & (g.component == g.main_component) & (g.osm_ids >= 0)
    uncovered = np.flatnonzero(~covered & (data.households > 0) & (data.origin_nodes >= 0))
    if not len(uncovered):
        return [], []
    ux, uy = g.lon[data.origin_nodes[uncovered]], g.lat[data.origin_nodes[uncovered]]
    # The walk's reach in degrees (a degree of latitude is ≈ 111 km; of longitude, that × cos).
    pad_lat = limit / 110_000.0
    pad_lon = pad_lat / max(np.cos(np.radians(np.abs(uy).max())), 0.05)
    near = (
        junction
        & (g.lon >= ux.min() - pad_lon)
        & (g.lon <= ux.max() + pad_lon)
        & (g.lat >= uy.min() - pad_lat)
        & (g.lat <= uy.max() + pad_lat)
    )
    nodes = np.flatnonzero(near)
    if len(nodes) > most:
        nodes = nodes[np.linspace(0, len(nodes) - 1, most).astype(np.int64)]
    return [(float(g.lon[n]), float(g.lat[n])) for n in nodes], [[(int(n), 0.0)] for n in nodes]
