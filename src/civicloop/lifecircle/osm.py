"""Read an OSM extract: the walking network, facilities by tag rules, residential buildings.

One streaming pass of pyosmium with C++-side filters, so Python only sees the objects it
keeps (walkable ways, tagged nodes, building and facility areas); node references and
coordinates are gathered into flat arrays and every length is computed in one vectorised
call of pyproj's ellipsoidal ``Geod``. Facilities come from nodes *and* areas because
schools, clinics and parks are mostly mapped as areas.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import osmium
import shapely
from django.utils.translation import gettext as _
from osmium.filter import EntityFilter, KeyFilter, TagFilter
from pyproj import Geod, Transformer

from civicloop.lifecircle.graph import WalkGraph
from civicloop.places.households import LANDMARK_KEYS, building_households

__all__ = [
    "DEFAULT_TAG_RULES",
    "KINDS",
    "OsmBuilding",
    "OsmExtract",
    "OsmFacility",
    "OsmReadError",
    "Progress",
    "TagRule",
    "is_walkable",
    "match_kinds",
    "read_osm",
]

GEOD = Geod(ellps="WGS84")

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class OsmReadError(ValueError):
    """The file cannot be used: missing, unreadable, not OSM, or without a walkable way."""


@dataclass(frozen=True)
class TagRule:
    """A facility kind recognised by one OSM tag; value "*" takes any value except "no"."""

    kind: str  # facility kind code, e.g. "supermarket"
    key: str  # OSM key, e.g. "shop"
    value: str  # OSM value, or "*" for any value


def _rules(kind: str, *tags: str) -> tuple[TagRule, ...]:
    return tuple(TagRule(kind, *tag.split("=", 1)) for tag in tags)


# The GB 50180-2018 life-circle facilities, in the order the pages list them.
DEFAULT_TAG_RULES: tuple[TagRule, ...] = (
    *_rules("supermarket", "shop=supermarket"),
    *_rules("fresh_market", "amenity=marketplace"),
    *_rules("convenience", "shop=convenience"),
    *_rules(
        "clinic", "amenity=clinic", "amenity=doctors", "healthcare=clinic", "healthcare=doctor"
    ),
    *_rules("health_centre", "amenity=hospital", "healthcare=centre", "healthcare=hospital"),
    *_rules("pharmacy", "amenity=pharmacy", "healthcare=pharmacy"),
    *_rules("kindergarten", "amenity=kindergarten", "amenity=childcare"),
    # amenity=school is both school kinds unless isced:level says which (see match_kinds).
    *_rules("primary_school", "amenity=school"),
    *_rules("middle_school", "amenity=school"),
    *_rules(
        "elderly_care",
        "social_facility:for=senior",
        "social_facility=nursing_home",
        "social_facility=assisted_living",
        "amenity=nursing_home",
    ),
    *_rules("community_service", "amenity=community_centre", "amenity=social_centre"),
    *_rules("culture", "amenity=library", "amenity=arts_centre", "amenity=theatre"),
    *_rules("park", "leisure=park", "leisure=garden", "leisure=playground"),
    *_rules(
        "fitness",
        "leisure=fitness_station",
        "leisure=fitness_centre",
        "leisure=sports_centre",
        "leisure=pitch",
    ),
    *_rules("bus_stop", "highway=bus_stop", "railway=tram_stop"),
    *_rules(
        "metro", "railway=station", "railway=halt", "railway=subway_entrance", "station=subway"
    ),
    *_rules("recycling", "amenity=recycling", "amenity=waste_disposal"),
    *_rules("toilets", "amenity=toilets"),
    *_rules("post_bank", "amenity=post_office", "amenity=bank"),
)
KINDS: tuple[str, ...] = tuple(dict.fromkeys(rule.kind for rule in DEFAULT_TAG_RULES))

# isced:level (UNESCO) of each school kind: 1 primary (小学), 2 lower and 3 upper secondary.
_ISCED_LEVELS = {"primary_school": frozenset({1}), "middle_school": frozenset({2, 3})}
# Kinds that serve nobody when fenced off (a private garden, a club's pitch).
_PUBLIC_ONLY = frozenset({"park", "fitness", "toilets"})
_CLOSED_ACCESS = frozenset({"private", "no"})

WALKABLE_HIGHWAYS = frozenset(
    {
        "footway",
        "path",
        "steps",
        "pedestrian",
        "living_street",
        "residential",
        "service",
        "unclassified",
        "road",
        "tertiary",
        "tertiary_link",
        "secondary",
        "secondary_link",
        "primary",
        "primary_link",
        "track",
        "cycleway",
        "corridor",
        "crossing",
        "bridleway",
    }
)
# Walkable only when foot access is signed: fast roads.
_MOTOR_HIGHWAYS = frozenset({"motorway", "motorway_link", "trunk", "trunk_link"})
# Not (or not yet, or no longer) a way anyone walks, whatever else is tagged.
_NEVER_HIGHWAYS = frozenset(
    {
        "construction",
        "proposed",
        "planned",
        "abandoned",
        "razed",
        "disused",
        "raceway",
        "bus_guideway",
    }
)
_FOOT_ALLOWED = frozenset({"yes", "designated", "permissive", "official"})
_FOOT_FORBIDDEN = frozenset({"no", "use_sidepath"})

_UNDEFINED_COORDINATE = 2**31 - 1  # osmium's x/y of a node missing from the extract
_COORDINATE_PRECISION = 10_000_000.0
_WAY_KEYS = ("highway", "footway")
_PROGRESS_STEPS = 50  # a report every 2 % of the ways
_AREA_KEYS = tuple(sorted({"building", "building:levels", "name", *LANDMARK_KEYS}))


@dataclass(frozen=True)
class OsmFacility:
    kind: str
    name: str
    osm_type: str  # "node" | "way" | "relation"
    osm_id: int
    lon: float
    lat: float
    node_id: int | None  # the OSM node id when the facility is a node (it may stand on the network)


@dataclass(frozen=True)
class OsmBuilding:
    osm_type: str
    osm_id: int
    name: str
    lon: float  # representative point (point_on_surface) of the footprint
    lat: float
    households: int  # building_households(tags, footprint m²), > 0
    footprint_m2: float


@dataclass(frozen=True)
class OsmExtract:
    graph: WalkGraph
    facilities: list[OsmFacility]
    buildings: list[OsmBuilding]
    stats: dict[str, int] = field(default_factory=dict)


def is_walkable(tags: Mapping[str, str]) -> bool:
    """Whether a way with these tags is part of the pedestrian network.

    Signed foot access (foot=yes/designated/…) admits any highway, motorways and platforms
    included, and overrides access=private/no; foot=no shuts any.
    """
    highway = tags.get("highway")
    if highway in _NEVER_HIGHWAYS:
        return False
    foot = tags.get("foot", "")
    if foot in _FOOT_FORBIDDEN:
        return False
    if foot in _FOOT_ALLOWED and highway is not None:
        return True
    if highway not in WALKABLE_HIGHWAYS and not (
        tags.get("footway") == "crossing" and highway not in _MOTOR_HIGHWAYS
    ):
        return False
    return tags.get("access", "") not in _CLOSED_ACCESS


def _isced_levels(value: str) -> frozenset[int] | None:
    """The levels in "1", "2;3", "1-3"; None when nothing readable (then the tag is ignored)."""
    levels: set[int] = set()
    for part in re.split(r"[;,]", value):
        bounds = [int(x) for x in re.findall(r"\d+", part)]
        if len(bounds) == 1:
            levels.add(bounds[0])
        elif len(bounds) == 2 and "-" in part:
            levels.update(range(bounds[0], bounds[1] + 1))
    return frozenset(levels) or None


def match_kinds(tags: Mapping[str, str], rules: Sequence[TagRule]) -> list[str]:
    """Every kind whose rule matches these tags, once each, in rule order.

    Two refinements the single-tag rules cannot say: a school's isced:level picks primary
    or middle school, and a park, pitch or toilet with access=private/no serves nobody.
    """
    return _Matcher(rules).match(tags)


class _Matcher:
    """The rules indexed by key, so a tagged node costs one lookup per distinct key."""

    def __init__(self, rules: Sequence[TagRule]) -> None:
        by_key: dict[str, tuple[dict[str, list[tuple[int, str]]], list[tuple[int, str]]]] = {}
        for i, rule in enumerate(rules):
            exact, star = by_key.setdefault(rule.key, ({}, []))
            if rule.value == "*":
                star.append((i, rule.kind))
            else:
                exact.setdefault(rule.value, []).append((i, rule.kind))
        self._keys = [(key, exact, star) for key, (exact, star) in by_key.items()]
        self.keys = sorted(by_key)
        self.exact_tags = sorted((r.key, r.value) for r in rules if r.value != "*")
        self.has_star = any(r.value == "*" for r in rules)

    def match(self, tags: Mapping[str, str]) -> list[str]:
        hits: list[tuple[int, str]] = []
        for key, exact, star in self._keys:
            value = tags.get(key)
            if value is None:
                continue
            hits.extend(exact.get(value, ()))
            if star and value != "no":
                hits.extend(star)
        if not hits:
            return []
        hits.sort()
        levels: frozenset[int] | None = None
        if "isced:level" in tags:
            levels = _isced_levels(tags["isced:level"])
        closed = tags.get("access", "") in _CLOSED_ACCESS
        kinds: list[str] = []
        for _i, kind in hits:
            if kind in kinds:
                continue
            if levels is not None and kind in _ISCED_LEVELS and not levels & _ISCED_LEVELS[kind]:
                continue
            if closed and kind in _PUBLIC_ONLY:
                continue
            kinds.append(kind)
        return kinds


def read_osm(
    path: Path, *, rules: Sequence[TagRule] = DEFAULT_TAG_RULES, progress: Progress | None = None
) -> OsmExtract:
    """The walking graph, the facilities matching ``rules`` and the residential buildings."""
    path = Path(path)
    if not path.is_file():
        raise OsmReadError(_("The OSM file %(path)s does not exist.") % {"path": path})
    report: Progress = progress or (lambda stage, done, total: None)
    try:
        way_keys = _way_keys(rules)
        total_ways = _count_ways(path, way_keys)
        reader = _Reader(rules=rules, way_keys=way_keys, total_ways=total_ways, report=report)
        reader.run(path)
    except (RuntimeError, OSError) as exc:
        raise OsmReadError(
            _("%(path)s is not a readable OSM file (%(error)s).")
            % {"path": path.name, "error": exc}
        ) from exc
    if not reader.refs:
        raise OsmReadError(_("%(path)s has no walkable way.") % {"path": path.name})

    graph, graph_stats = _build_graph(reader, report)
    if graph.n_edges == 0:
        raise OsmReadError(_("%(path)s has no walkable way.") % {"path": path.name})
    facilities, buildings, area_stats = _finish_areas(reader, report)
    facilities.sort(key=lambda f: (_TYPE_ORDER[f.osm_type], f.osm_id, f.kind))
    stats = {
        "ways_read": total_ways,
        "ways": reader.walkable_ways,
        "skipped_ways": reader.skipped_ways,
        **graph_stats,
        "facility_nodes": reader.facility_nodes,
        "facility_ways": reader.facility_ways,
        **area_stats,
        "facilities": len(facilities),
        "buildings": len(buildings),
        "households": sum(b.households for b in buildings),
    }
    return OsmExtract(graph=graph, facilities=facilities, buildings=buildings, stats=stats)


_TYPE_ORDER = {"node": 0, "way": 1, "relation": 2}


def _way_keys(rules: Sequence[TagRule]) -> list[str]:
    """The keys of the ways Python sees: the network's and the facilities'."""
    return sorted({*_WAY_KEYS, *(rule.key for rule in rules)})


def _count_ways(path: Path, keys: Sequence[str]) -> int:
    """The ways the main pass will see, so its progress has a total (a C++-filtered pass)."""
    processor = osmium.FileProcessor(str(path), osmium.osm.WAY).with_filter(KeyFilter(*keys))
    return sum(1 for _ in processor)


class _Reader:
    """The one streaming pass; keeps flat lists, turned into arrays afterwards.

    Tags are read through osmium's TagList (``get``/``in``), never copied to a dict: the copy
    costs about 20 µs an object, most of the reading time of a city.
    """

    def __init__(
        self,
        *,
        rules: Sequence[TagRule],
        way_keys: Sequence[str],
        total_ways: int,
        report: Progress,
    ) -> None:
        self.matcher = _Matcher(rules)
        self.way_keys = list(way_keys)
        self.total_ways = total_ways
        self.report = report
        self.refs: list[int] = []
        self.xs: list[int] = []
        self.ys: list[int] = []
        self.way_starts: list[int] = []
        self.walkable_ways = 0
        self.skipped_ways = 0
        self.facility_ways = 0
        self.facilities: list[OsmFacility] = []
        self.facility_nodes = 0
        # Areas kept for the vectorised geometry step: (wkb, osm_type, id, tags, kinds).
        self.areas: list[tuple[bytes, str, int, dict[str, str], list[str]]] = []
        self.broken_areas = 0

    def _processor(self, path: Path) -> osmium.FileProcessor:
        matcher = self.matcher
        area_keys = sorted({"building", *matcher.keys})
        node_filter: Any
        if matcher.has_star or not matcher.exact_tags:
            node_filter = KeyFilter(*(matcher.keys or ["-"]))
        else:  # only the tagged nodes that can match: not every crossing and street lamp
            node_filter = TagFilter(*matcher.exact_tags)
        way_filter = KeyFilter(*self.way_keys)
        area_filter = KeyFilter(*area_keys)
        for filt, entities in (
            (way_filter, osmium.osm.WAY),
            (node_filter, osmium.osm.NODE),
            (area_filter, osmium.osm.AREA),
        ):
            filt.enable_for(entities)  # each filter applies to its own type, others pass
        return (
            osmium.FileProcessor(str(path))
            .with_areas(KeyFilter(*area_keys))
            .with_filter(EntityFilter(osmium.osm.NODE | osmium.osm.WAY | osmium.osm.AREA))
            .with_filter(way_filter)
            .with_filter(node_filter)
            .with_filter(area_filter)
        )

    def run(self, path: Path) -> None:
        factory = osmium.geom.WKBFactory()
        step = max(1, self.total_ways // _PROGRESS_STEPS)
        seen = 0
        self.report("ways", 0, self.total_ways)
        for obj in self._processor(path):
            if isinstance(obj, osmium.osm.Way):
                seen += 1
                if seen % step == 0:
                    self.report("ways", seen, self.total_ways)
                self._way(obj)
            elif isinstance(obj, osmium.osm.Node):
                self._node(obj)
            elif isinstance(obj, osmium.osm.Area):
                self._area(obj, factory)
        self.report("ways", self.total_ways, self.total_ways)

    def _way(self, way: Any) -> None:
        tags = cast(Mapping[str, str], way.tags)
        if is_walkable(tags):
            self.walkable_ways += 1
            self.way_starts.append(len(self.refs))
            refs, xs, ys = self.refs.append, self.xs.append, self.ys.append
            for node in way.nodes:
                refs(node.ref)
                xs(node.x)
                ys(node.y)
        elif "highway" in tags or "footway" in tags:
            self.skipped_ways += 1
        kinds = self.matcher.match(tags)
        if kinds:
            self._way_facility(way, tags, kinds)

    def _way_facility(self, way: Any, tags: Mapping[str, str], kinds: list[str]) -> None:
        """A facility way the area step cannot see: open, or cut by the extract's edge (its
        point is the mean of the nodes inside). A whole closed way is left to the area."""
        nodes = way.nodes
        inside = [(n.lon, n.lat) for n in nodes if n.location.valid()]
        if not inside or (len(inside) == len(nodes) >= 4 and nodes.is_closed()):
            return
        self.facility_ways += 1
        lon = sum(p[0] for p in inside) / len(inside)
        lat = sum(p[1] for p in inside) / len(inside)
        for kind in kinds:
            self.facilities.append(
                OsmFacility(
                    kind=kind,
                    name=tags.get("name", ""),
                    osm_type="way",
                    osm_id=way.id,
                    lon=lon,
                    lat=lat,
                    node_id=None,
                )
            )

    def _node(self, node: Any) -> None:
        tags = cast(Mapping[str, str], node.tags)
        kinds = self.matcher.match(tags)
        if not kinds:
            return
        self.facility_nodes += 1
        location = node.location
        name = tags.get("name", "")
        for kind in kinds:
            self.facilities.append(
                OsmFacility(
                    kind=kind,
                    name=name,
                    osm_type="node",
                    osm_id=node.id,
                    lon=location.lon,
                    lat=location.lat,
                    node_id=node.id,
                )
            )

    def _area(self, area: Any, factory: Any) -> None:
        tags = cast(Mapping[str, str], area.tags)
        kinds = self.matcher.match(tags)
        if not kinds and tags.get("building", "no") == "no":
            return
        try:
            wkb = factory.create_multipolygon(area)
        except RuntimeError:
            self.broken_areas += 1  # cut by the extract's edge: no closed ring
            return
        osm_type = "way" if area.from_way() else "relation"
        # Only the tags building_households and the name read.
        kept = {key: tags[key] for key in _AREA_KEYS if key in tags}
        self.areas.append((wkb, osm_type, area.orig_id(), kept, kinds))


def _build_graph(reader: _Reader, report: Progress) -> tuple[WalkGraph, dict[str, int]]:
    report("graph", 0, 3)
    refs = np.asarray(reader.refs, dtype=np.int64)
    xs = np.asarray(reader.xs, dtype=np.int64)
    ys = np.asarray(reader.ys, dtype=np.int64)
    valid = (xs != _UNDEFINED_COORDINATE) & (ys != _UNDEFINED_COORDINATE)
    # Consecutive nodes of one way, both inside the extract, make an edge.
    link = valid[:-1] & valid[1:]
    starts = np.asarray(reader.way_starts[1:], dtype=np.int64)
    link[starts - 1] = False
    a = np.flatnonzero(link)
    b = a + 1
    lon = xs / _COORDINATE_PRECISION
    lat = ys / _COORDINATE_PRECISION
    ends = np.concatenate([a, b])
    node_ids, first, inverse = np.unique(refs[ends], return_index=True, return_inverse=True)
    report("graph", 1, 3)
    _, _, length = GEOD.inv(lon[a], lat[a], lon[b], lat[b])
    report("graph", 2, 3)
    m = a.shape[0]
    graph = WalkGraph.from_edges(
        lon=lon[ends][first],
        lat=lat[ends][first],
        osm_ids=node_ids,
        u=inverse[:m],
        v=inverse[m:],
        length=np.asarray(length, dtype=np.float64),
    )
    report("graph", 3, 3)
    counts = np.bincount(graph.component)
    return graph, {
        "node_refs": int(refs.shape[0]),
        "refs_outside": int((~valid).sum()),
        "nodes": graph.n_nodes,
        "edges": graph.n_edges,
        "components": int(counts.shape[0]),
        "main_component_nodes": int(counts.max()) if counts.size else 0,
    }


def _finish_areas(
    reader: _Reader, report: Progress
) -> tuple[list[OsmFacility], list[OsmBuilding], dict[str, int]]:
    """Areas in bulk: parse, measure (equal-area projection), pick a point on each."""
    facilities = list(reader.facilities)
    buildings: list[OsmBuilding] = []
    areas = reader.areas
    total = len(areas)
    if total:
        geoms = shapely.from_wkb([wkb for wkb, *_rest in areas])
        bad = ~shapely.is_valid(geoms)
        if bad.any():
            geoms[bad] = shapely.make_valid(geoms[bad])
        points = shapely.point_on_surface(geoms)
        px, py = shapely.get_x(points), shapely.get_y(points)
        m2 = shapely.area(shapely.transform(geoms, _equal_area(geoms)))
    n_facility_areas = 0
    chunk = max(1, total // 20)
    for i, (_wkb, osm_type, osm_id, tags, kinds) in enumerate(areas):
        if i % chunk == 0:
            report("buildings", i, total)
        lon, lat = float(px[i]), float(py[i])
        if not (np.isfinite(lon) and np.isfinite(lat)):
            continue  # an empty geometry after repair
        name = tags.get("name", "")
        if kinds:
            n_facility_areas += 1
        for kind in kinds:
            facilities.append(
                OsmFacility(
                    kind=kind,
                    name=name,
                    osm_type=osm_type,
                    osm_id=osm_id,
                    lon=lon,
                    lat=lat,
                    node_id=None,
                )
            )
        if tags.get("building", "no") != "no":
            footprint = float(m2[i])
            households = building_households(tags, footprint)
            if households > 0:
                buildings.append(
                    OsmBuilding(
                        osm_type=osm_type,
                        osm_id=osm_id,
                        name=name,
                        lon=lon,
                        lat=lat,
                        households=households,
                        footprint_m2=footprint,
                    )
                )
    report("buildings", total, total)
    report("facilities", len(facilities), len(facilities))
    buildings.sort(key=lambda b: (_TYPE_ORDER[b.osm_type], b.osm_id))
    building_areas = sum(1 for *_rest, tags, _kinds in areas if tags.get("building", "no") != "no")
    return (
        facilities,
        buildings,
        {
            "facility_areas": n_facility_areas,
            "building_areas": building_areas,
            "broken_areas": reader.broken_areas,
        },
    )


def _equal_area(geoms: Any) -> Callable[[np.ndarray], np.ndarray]:
    """Lambert azimuthal equal-area at the data's centre: footprints in true m² anywhere."""
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    transformer = Transformer.from_crs(
        "EPSG:4326",
        f"+proj=laea +lat_0={(ymin + ymax) / 2} +lon_0={(xmin + xmax) / 2} +ellps=WGS84 +units=m",
        always_xy=True,
    )

    def forward(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return forward
