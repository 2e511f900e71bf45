"""Import the administrative areas, grids, compounds and back streets of a city from GeoJSON.

The input is a GeoJSON FeatureCollection in WGS-84 (or GCJ-02 with
``crs="gcj02"``). Each feature's ``properties``:

============== ============================================================
``kind``       ``city``, ``district``, ``street``, ``community``, ``grid``,
               ``compound`` or ``back_street``
``code``       areas: GB/T 2260 / GB/T 30428.1 code (see ``places.codes``);
               compounds and back streets: optional, only quoted in messages
``name``       required
``parent_code`` district → city, street → district, community → street,
               grid → community, compound → community, back_street → street
               office. Optional for street, community and grid, whose code
               already names the parent.
``households`` city … grid and compound, optional, ≥ 0
``population`` city … grid, optional, ≥ 0
``buildings``  compound, optional, ≥ 0
``built_year`` compound, optional
``street_class`` back_street: ``boutique``, ``strict``, ``demonstration``,
               ``routine`` (or 精品街, 严管街, 示范街, 常态管理); default routine
``width_m``    back_street given as a line: footprint width, default 6 m
``osm_id``     compound and back_street, optional
============== ============================================================

Areas and compounds are Polygon or MultiPolygon; a back street is a Polygon
footprint or a (Multi)LineString centre line, buffered here to a footprint in
metres in a local transverse Mercator projection.

Everything is validated before anything is written, and the writes happen in
one transaction: a file with one bad feature changes nothing. Problems are
collected for all features and raised together as ``AreaImportFailed`` (a
``ValidationFailed``). Importing the same file again changes nothing: areas are
matched by code, compounds and back streets (which have no code column) by OSM
id, else by name inside their parent. Optional properties that a feature leaves
out keep their stored values.
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import numpy as np
import shapely
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from pyproj import CRS, Transformer
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from civicloop.core.errors import ErrorCode, ValidationFailed

# grid_code_for & co. are re-exported: callers that build grids in code (the demo city) import them from here.
from .codes import code_problem, grid_code_for, grid_codes_for, grid_sequence_order
from .coords import gcj02_to_wgs84_array
from .models import AREA_LEVEL, AREA_PARENT_KIND, Area, AreaKind, BackStreet, Compound, StreetClass

__all__ = [
    "BACK_STREET_DEFAULT_WIDTH_M",
    "FEATURE_KINDS",
    "GRID_OVERLAP_TOLERANCE_M",
    "GRID_WITHIN_TOLERANCE_M",
    "AreaImportFailed",
    "FeatureError",
    "ImportResult",
    "grid_code_for",
    "grid_codes_for",
    "grid_sequence_order",
    "import_areas_from_file",
    "import_areas_from_geojson",
]

COMPOUND = "compound"
BACK_STREET = "back_street"
AREA_KINDS: tuple[str, ...] = tuple(AreaKind.values)
FEATURE_KINDS: tuple[str, ...] = (*AREA_KINDS, COMPOUND, BACK_STREET)

# Digitising noise allowed between a grid and its community and between neighbouring grids.
GRID_WITHIN_TOLERANCE_M = 0.5
GRID_OVERLAP_TOLERANCE_M = 0.5
BACK_STREET_DEFAULT_WIDTH_M = 6.0
BACK_STREET_MAX_WIDTH_M = 100.0
MAX_LISTED_ERRORS = 200

_ACCEPTED_CRS_NAMES = {
    "urn:ogc:def:crs:ogc:1.3:crs84",
    "urn:ogc:def:crs:ogc::crs84",
    "urn:ogc:def:crs:epsg::4326",
    "urn:ogc:def:crs:epsg:4326",
    "epsg:4326",
    "crs84",
    "ogc:crs84",
}
_STREET_CLASS_ALIASES: dict[str, str] = {
    "精品街": StreetClass.BOUTIQUE,
    "严管街": StreetClass.STRICT,
    "示范街": StreetClass.DEMONSTRATION,
    "常态管理": StreetClass.ROUTINE,
    "常态化管理": StreetClass.ROUTINE,
}
_PARENT_KIND: dict[str, str | None] = {
    **{str(k): (str(v) if v else None) for k, v in AREA_PARENT_KIND.items()},
    COMPOUND: AreaKind.COMMUNITY,
    BACK_STREET: AreaKind.STREET,
}
_NAME_MAX_LENGTH = {COMPOUND: 120, BACK_STREET: 120}
_AREA_NAME_MAX_LENGTH = 100


# ---- results and errors ------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureError:
    """One problem: ``index`` is the position in ``features`` (None for the file as a whole)."""

    index: int | None
    code: str
    message: str

    def __str__(self) -> str:
        if self.index is None:
            return self.message
        if self.code:
            return _("features[%(index)d] (code %(code)s): %(message)s") % {
                "index": self.index,
                "code": self.code,
                "message": self.message,
            }
        return _("features[%(index)d]: %(message)s") % {
            "index": self.index,
            "message": self.message,
        }


class AreaImportFailed(ValidationFailed):
    """The file was refused; ``errors`` lists every problem found. Nothing was written."""

    def __init__(self, errors: list[FeatureError], *, code: ErrorCode | None = None):
        self.errors = sorted(errors, key=lambda e: -1 if e.index is None else e.index)
        lines = [
            ngettext(
                "The area file has %(count)d problem; nothing was imported:",
                "The area file has %(count)d problems; nothing was imported:",
                len(self.errors),
            )
            % {"count": len(self.errors)}
        ]
        lines.extend(f"- {error}" for error in self.errors[:MAX_LISTED_ERRORS])
        if len(self.errors) > MAX_LISTED_ERRORS:
            lines.append(
                _("… and %(count)d more.") % {"count": len(self.errors) - MAX_LISTED_ERRORS}
            )
        super().__init__("\n".join(lines), code=code)


@dataclass
class ImportResult:
    """Features per kind that were created, updated or found unchanged (would be, on a dry run)."""

    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FEATURE_KINDS, 0))
    updated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FEATURE_KINDS, 0))
    unchanged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FEATURE_KINDS, 0))
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def counts(self) -> dict[str, int]:
        """Features imported per kind (created + updated + unchanged)."""
        return {k: self.created[k] + self.updated[k] + self.unchanged[k] for k in FEATURE_KINDS}

    @property
    def total(self) -> int:
        return sum(self.counts.values())


# ---- parsing one feature -----------------------------------------------------------------


@dataclass
class _Feature:
    index: int
    kind: str
    code: str
    name: str
    parent_code: str | None
    geometry: BaseGeometry | None = None  # None when the geometry itself was refused
    values: dict[str, Any] = field(default_factory=dict)
    length_m: float | None = None

    @property
    def is_area(self) -> bool:
        return self.kind in AREA_KINDS


class _Problems:
    def __init__(self) -> None:
        self.errors: list[FeatureError] = []
        self.warnings: list[str] = []

    def add(self, index: int | None, code: str, message: str) -> None:
        self.errors.append(FeatureError(index=index, code=code, message=message))


def _kind_label(kind: str) -> str:
    if kind == COMPOUND:
        return str(Compound._meta.verbose_name)
    if kind == BACK_STREET:
        return str(BackStreet._meta.verbose_name)
    return str(AreaKind(kind).label)


def _as_code(value: Any) -> str | None:
    """Codes are strings of digits; JSON numbers are accepted (GB/T 2260 codes never start with 0)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return None


def _as_count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _parse_counts(
    props: dict[str, Any], names: Iterable[str], problems: list[str]
) -> dict[str, int]:
    values: dict[str, int] = {}
    for name in names:
        raw = props.get(name)
        if raw is None or raw == "":
            continue
        number = _as_count(raw)
        if number is None or number < 0:
            problems.append(
                _("“%(field)s” must be a whole number ≥ 0; got %(value)s.")
                % {"field": name, "value": json.dumps(raw, ensure_ascii=False)}
            )
        else:
            values[name] = number
    return values


def _geometry_problem_in_degrees(geom: BaseGeometry) -> str | None:
    min_x, min_y, max_x, max_y = geom.bounds
    if not all(math.isfinite(v) for v in (min_x, min_y, max_x, max_y)):
        return _("The geometry has coordinates that are not numbers.")
    if min_x < -180 or max_x > 180 or min_y < -90 or max_y > 90:
        return _(
            "Coordinates must be longitude, latitude in degrees (WGS-84); this looks like a projected "
            "coordinate system. Export the file as EPSG:4326."
        )
    return None


def _polygonal(geom: BaseGeometry) -> BaseGeometry | None:
    """The polygonal part of a geometry (None if it has none)."""
    parts = shapely.get_parts(shapely.get_parts(np.array([geom], dtype=object)))
    polygons = [p for p in parts if p.geom_type == "Polygon" and not p.is_empty and p.area > 0]
    if not polygons:
        return None
    merged: BaseGeometry = shapely.union_all(polygons) if len(polygons) > 1 else polygons[0]
    return merged


def _gcj02_to_wgs84_coords(coords: np.ndarray) -> np.ndarray:
    lat, lon = gcj02_to_wgs84_array(coords[:, 1], coords[:, 0])
    return np.column_stack([lon, lat])


@lru_cache(maxsize=256)
def _local_transformer(lat0: float, lon0: float) -> Transformer:
    """WGS-84 → metres in a transverse Mercator centred near (lat0, lon0): scale error < 1e-6 within 10 km."""
    local = CRS.from_proj4(
        f"+proj=tmerc +lat_0={lat0} +lon_0={lon0} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
    )
    return Transformer.from_crs("EPSG:4326", local, always_xy=True)


@dataclass(frozen=True)
class _Metric:
    """Converts geometries between WGS-84 degrees and local metres around one place."""

    transformer: Transformer

    @classmethod
    def around(cls, geom: BaseGeometry) -> _Metric:
        point = geom.representative_point()
        # Rounding lets neighbouring places share one cached transformer.
        return cls(_local_transformer(round(point.y, 1), round(point.x, 1)))

    def to_metres(self, geom: BaseGeometry) -> BaseGeometry:
        def forward(coords: np.ndarray) -> np.ndarray:
            x, y = self.transformer.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(geom, forward)

    def to_degrees(self, geom: BaseGeometry) -> BaseGeometry:
        def inverse(coords: np.ndarray) -> np.ndarray:
            x, y = self.transformer.transform(coords[:, 0], coords[:, 1], direction="INVERSE")
            return np.column_stack([x, y])

        return shapely.transform(geom, inverse)


def _footprint_length_m(footprint_m: BaseGeometry) -> float:
    """Length of a long thin footprint: the long side of the rectangle with its perimeter and area."""
    perimeter, area = footprint_m.length, footprint_m.area
    discriminant = perimeter * perimeter / 4.0 - 4.0 * area
    return (perimeter / 2.0 + math.sqrt(max(discriminant, 0.0))) / 2.0


def _parse_geometry(
    raw: Any,
    *,
    kind: str,
    props: dict[str, Any],
    crs: str,
    problems: list[str],
    warnings: list[str],
    label: str,
) -> tuple[BaseGeometry | None, float | None]:
    if not isinstance(raw, dict) or "type" not in raw:
        problems.append(_("The feature has no geometry."))
        return None, None
    try:
        geom = shape(raw)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        problems.append(_("The geometry cannot be read: %(error)s") % {"error": exc})
        return None, None
    if geom.is_empty:
        problems.append(_("The geometry is empty."))
        return None, None
    geom = shapely.force_2d(geom)
    allowed: tuple[str, ...] = ("Polygon", "MultiPolygon")
    if kind == BACK_STREET:
        allowed = ("Polygon", "MultiPolygon", "LineString", "MultiLineString")
    if geom.geom_type not in allowed:
        problems.append(
            _("A %(kind)s must be a %(allowed)s, not a %(type)s.")
            % {"kind": _kind_label(kind), "allowed": " / ".join(allowed), "type": geom.geom_type}
        )
        return None, None
    problem = _geometry_problem_in_degrees(geom)
    if problem:
        problems.append(problem)
        return None, None
    if crs == "gcj02":
        geom = shapely.transform(geom, _gcj02_to_wgs84_coords)

    length_m: float | None = None
    if geom.geom_type in ("LineString", "MultiLineString"):
        width = props.get("width_m", BACK_STREET_DEFAULT_WIDTH_M)
        if (
            isinstance(width, bool)
            or not isinstance(width, int | float)
            or not 0.5 <= width <= BACK_STREET_MAX_WIDTH_M
        ):
            problems.append(
                _("“width_m” must be a number of metres between 0.5 and %(max).0f; got %(value)s.")
                % {"max": BACK_STREET_MAX_WIDTH_M, "value": json.dumps(width, ensure_ascii=False)}
            )
            return None, None
        metric = _Metric.around(geom)
        line_m = metric.to_metres(geom)
        if line_m.length <= 0:
            problems.append(_("The centre line has no length."))
            return None, None
        length_m = float(line_m.length)
        geom = metric.to_degrees(
            line_m.buffer(float(width) / 2.0, cap_style="flat", join_style="round")
        )

    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        repaired = _polygonal(shapely.make_valid(geom))
        if repaired is None:
            problems.append(
                _("The polygon is invalid (%(reason)s) and cannot be repaired.")
                % {"reason": reason}
            )
            return None, None
        warnings.append(
            _("%(feature)s: invalid polygon (%(reason)s) repaired.")
            % {"feature": label, "reason": reason}
        )
        geom = repaired
    elif geom.area <= 0:
        problems.append(_("The polygon has no area."))
        return None, None
    if kind == BACK_STREET and length_m is None:
        length_m = _footprint_length_m(_Metric.around(geom).to_metres(geom))
    return geom, length_m


def _parse_feature(index: int, raw: Any, *, crs: str, found: _Problems) -> _Feature | None:
    if not isinstance(raw, dict) or raw.get("type") != "Feature":
        found.add(index, "", _("Each entry of “features” must be a GeoJSON Feature object."))
        return None
    props = raw.get("properties")
    if not isinstance(props, dict):
        found.add(index, "", _("The feature has no “properties” object."))
        return None

    problems: list[str] = []
    kind = props.get("kind")
    code = _as_code(props.get("code")) or ""
    if kind not in FEATURE_KINDS:
        found.add(
            index,
            code,
            _("Unknown kind %(kind)s; expected one of: %(kinds)s.")
            % {"kind": json.dumps(kind, ensure_ascii=False), "kinds": ", ".join(FEATURE_KINDS)},
        )
        return None
    is_area = kind in AREA_KINDS
    if is_area and not code:
        problems.append(_("“code” is required for a %(kind)s.") % {"kind": _kind_label(kind)})
    elif props.get("code") not in (None, "") and _as_code(props.get("code")) is None:
        problems.append(_("“code” must be a string of digits."))

    name = props.get("name")
    max_name = _NAME_MAX_LENGTH.get(kind, _AREA_NAME_MAX_LENGTH)
    if not isinstance(name, str) or not name.strip():
        problems.append(_("“name” is required."))
        name = ""
    elif len(name.strip()) > max_name:
        problems.append(_("“name” is longer than %(max)d characters.") % {"max": max_name})
    name = name.strip()

    raw_parent = props.get("parent_code")
    parent_code = _as_code(raw_parent) if raw_parent not in (None, "") else None
    if raw_parent not in (None, "") and parent_code is None:
        problems.append(_("“parent_code” must be a string of digits."))
    if kind == AreaKind.CITY and parent_code:
        problems.append(_("A city has no parent; remove “parent_code”."))
    if (
        parent_code is None
        and kind in (AreaKind.STREET, AreaKind.COMMUNITY, AreaKind.GRID)
        and len(code) > 3
    ):
        parent_code = code[:-3]  # the code names its parent
    if parent_code is None and kind in (AreaKind.DISTRICT, COMPOUND, BACK_STREET):
        problems.append(
            _("“parent_code” is required: the code of the %(parent)s this %(kind)s belongs to.")
            % {"parent": _kind_label(_PARENT_KIND[kind] or ""), "kind": _kind_label(kind)}
        )

    values: dict[str, Any] = {}
    if is_area:
        values.update(_parse_counts(props, ("households", "population"), problems))
    elif kind == COMPOUND:
        values.update(_parse_counts(props, ("households", "buildings"), problems))
        year = props.get("built_year")
        if year not in (None, ""):
            year_value = _as_count(year)
            if year_value is None or not 1000 <= year_value <= date.today().year + 1:
                problems.append(
                    _("“built_year” must be a year no later than %(max)d; got %(value)s.")
                    % {"max": date.today().year + 1, "value": json.dumps(year, ensure_ascii=False)}
                )
            else:
                values["built_year"] = year_value
    else:
        street_class = props.get("street_class")
        if street_class not in (None, ""):
            normalized = _STREET_CLASS_ALIASES.get(
                str(street_class).strip(), str(street_class).strip().lower()
            )
            if normalized not in StreetClass.values:
                problems.append(
                    _("Unknown street class %(value)s; expected one of: %(classes)s.")
                    % {
                        "value": json.dumps(street_class, ensure_ascii=False),
                        "classes": ", ".join(StreetClass.values),
                    }
                )
            else:
                values["street_class"] = normalized
    if not is_area:
        osm_id = props.get("osm_id")
        if osm_id not in (None, ""):
            if (
                isinstance(osm_id, bool)
                or not isinstance(osm_id, int | str)
                or len(str(osm_id)) > 32
            ):
                problems.append(_("“osm_id” must be a string or number of at most 32 characters."))
            else:
                values["osm_id"] = str(osm_id).strip()

    label = _("features[%(index)d]") % {"index": index}
    geometry, length_m = _parse_geometry(
        raw.get("geometry"),
        kind=kind,
        props=props,
        crs=crs,
        problems=problems,
        warnings=found.warnings,
        label=label,
    )
    for problem in problems:
        found.add(index, code, problem)
    if is_area and not code:
        return None
    return _Feature(
        index=index,
        kind=kind,
        code=code,
        name=name,
        parent_code=parent_code,
        geometry=geometry,
        values=values,
        length_m=length_m,
    )


def _check_collection(data: Any, crs: str) -> list[FeatureError]:
    if crs not in ("wgs84", "gcj02"):
        return [
            FeatureError(
                None,
                "",
                _("Unknown coordinate system “%(crs)s”; use “wgs84” or “gcj02”.") % {"crs": crs},
            )
        ]
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        return [FeatureError(None, "", _("The file must be a GeoJSON FeatureCollection."))]
    if not isinstance(data.get("features"), list):
        return [FeatureError(None, "", _("The FeatureCollection has no “features” list."))]
    declared = data.get("crs")
    if declared is not None:
        name = declared.get("properties", {}).get("name") if isinstance(declared, dict) else None
        if not isinstance(name, str) or name.strip().lower() not in _ACCEPTED_CRS_NAMES:
            return [
                FeatureError(
                    None,
                    "",
                    _(
                        "The file declares the coordinate system %(crs)s; export it as WGS-84 (EPSG:4326)."
                    )
                    % {"crs": json.dumps(name if name else declared, ensure_ascii=False)},
                )
            ]
    return []


# ---- checks across features --------------------------------------------------------------


class _Plan:
    """The parsed file, the rows it touches, and what the database would hold afterwards."""

    def __init__(self, features: list[_Feature], found: _Problems, refused_codes: set[str]) -> None:
        self.found = found
        # Codes of features refused before they could be understood (e.g. an unknown kind):
        # their children are not reported again as orphans.
        self.refused_codes = refused_codes
        self.areas: dict[str, _Feature] = {}
        self.places: list[_Feature] = []
        for feature in features:
            if not feature.is_area:
                self.places.append(feature)
            elif feature.code in self.areas:
                found.add(
                    feature.index,
                    feature.code,
                    _("Code %(code)s appears twice in the file (first at features[%(first)d]).")
                    % {"code": feature.code, "first": self.areas[feature.code].index},
                )
            else:
                self.areas[feature.code] = feature
        parent_codes = {f.parent_code for f in features if f.parent_code}
        wanted = set(self.areas) | parent_codes
        self.db_areas: dict[str, Area] = {}
        ordered = sorted(wanted)
        for start in range(0, len(ordered), 500):  # keep under the database's parameter limit
            chunk = ordered[start : start + 500]
            self.db_areas.update(
                (a.code, a) for a in Area.objects.filter(code__in=chunk).select_related("parent")
            )

    def parent_kind_and_geometry(self, code: str) -> tuple[str, BaseGeometry | None] | None:
        if code in self.areas:
            return self.areas[code].kind, self.areas[code].geometry
        if code in self.db_areas:
            area = self.db_areas[code]
            return area.kind, area.shape
        return None

    def check_identity_and_parents(self) -> None:
        for feature in [*self.areas.values(), *self.places]:
            if feature.is_area:
                existing = self.db_areas.get(feature.code)
                if existing is not None and existing.kind != feature.kind:
                    self.found.add(
                        feature.index,
                        feature.code,
                        _("Code %(code)s already belongs to a %(existing)s, not a %(kind)s.")
                        % {
                            "code": feature.code,
                            "existing": _kind_label(existing.kind),
                            "kind": _kind_label(feature.kind),
                        },
                    )
                    continue
            expected = _PARENT_KIND[feature.kind]
            if expected is None or feature.parent_code is None:
                if feature.is_area:
                    self._check_code(feature)
                continue
            parent = self.parent_kind_and_geometry(feature.parent_code)
            if parent is None and feature.parent_code in self.refused_codes:
                continue
            if parent is None:
                self.found.add(
                    feature.index,
                    feature.code,
                    _("Parent %(parent)s (a %(kind)s) is neither in the file nor in the database.")
                    % {"parent": feature.parent_code, "kind": _kind_label(expected)},
                )
            elif parent[0] != expected:
                self.found.add(
                    feature.index,
                    feature.code,
                    _(
                        "Parent %(parent)s is a %(parent_kind)s; a %(kind)s must belong to a %(expected)s."
                    )
                    % {
                        "parent": feature.parent_code,
                        "parent_kind": _kind_label(parent[0]),
                        "kind": _kind_label(feature.kind),
                        "expected": _kind_label(expected),
                    },
                )
            elif feature.is_area:
                self._check_code(feature)

    def _check_code(self, feature: _Feature) -> None:
        problem = code_problem(
            kind=feature.kind, code=feature.code, parent_code=feature.parent_code
        )
        if problem:
            self.found.add(feature.index, feature.code, problem)

    def check_places_inside_parents(self) -> None:
        for feature in self.places:
            parent = self.parent_kind_and_geometry(feature.parent_code or "")
            if parent is None or parent[1] is None or feature.geometry is None:
                continue
            if not parent[1].intersects(feature.geometry) or parent[1].touches(feature.geometry):
                self.found.add(
                    feature.index,
                    feature.code,
                    _("%(kind)s “%(name)s” lies entirely outside its %(parent_kind)s %(parent)s.")
                    % {
                        "kind": _kind_label(feature.kind),
                        "name": feature.name,
                        "parent_kind": _kind_label(_PARENT_KIND[feature.kind] or ""),
                        "parent": feature.parent_code,
                    },
                )

    def check_duplicate_places(self) -> None:
        seen: dict[tuple[str, str, str, str], int] = {}
        for feature in self.places:
            osm_id = feature.values.get("osm_id", "")
            key = (
                feature.kind,
                feature.parent_code or "",
                "osm" if osm_id else "name",
                osm_id or feature.name,
            )
            if key in seen:
                self.found.add(
                    feature.index,
                    feature.code,
                    _(
                        "Same %(kind)s as features[%(first)d] (same OSM id, or same name without one, "
                        "in the same parent); give each its own “osm_id” or name."
                    )
                    % {"kind": _kind_label(feature.kind), "first": seen[key]},
                )
            else:
                seen[key] = feature.index

    def check_grids(self) -> None:
        """Within their community and not overlapping, judged on the state after the import."""
        file_grids: dict[str, list[_Feature]] = defaultdict(list)
        for feature in self.areas.values():
            if feature.kind == AreaKind.GRID and feature.parent_code:
                file_grids[feature.parent_code].append(feature)
        changed_communities = {c for c, f in self.areas.items() if f.kind == AreaKind.COMMUNITY}
        for community_code in sorted(set(file_grids) | changed_communities):
            parent = self.parent_kind_and_geometry(community_code)
            if parent is None or parent[0] != AreaKind.COMMUNITY or parent[1] is None:
                continue  # reported as a parent problem, or the community's geometry was refused
            self._check_community_grids(
                community_code, parent[1], file_grids.get(community_code, [])
            )

    def _check_community_grids(
        self, community_code: str, community: BaseGeometry, from_file: list[_Feature]
    ) -> None:
        community_feature = self.areas.get(community_code)
        in_file = {f.code for f in from_file}
        grids: list[tuple[str, BaseGeometry, _Feature | None]] = [
            (f.code, f.geometry, f) for f in from_file if f.geometry is not None
        ]
        db_grids = Area.objects.filter(kind=AreaKind.GRID, parent__code=community_code).exclude(
            code__in=in_file
        )
        grids.extend((g.code, g.shape, None) for g in db_grids)
        if not grids:
            return
        metric = _Metric.around(community)
        community_m = metric.to_metres(community)
        allowed = community_m.buffer(GRID_WITHIN_TOLERANCE_M)
        shapely.prepare(allowed)
        grids_m = [metric.to_metres(g[1]) for g in grids]

        def blame(feature: _Feature | None, message: str) -> None:
            if feature is not None:
                self.found.add(feature.index, feature.code, message)
            elif community_feature is not None:
                self.found.add(community_feature.index, community_feature.code, message)

        if community_feature is not None or from_file:
            for (code, _geom, feature), grid_m in zip(grids, grids_m, strict=True):
                if feature is None and community_feature is None:
                    continue
                if allowed.covers(grid_m):
                    continue
                outside = grid_m.difference(community_m)
                distance = float(
                    shapely.distance(
                        shapely.points(shapely.get_coordinates(outside)), community_m
                    ).max()
                )
                message = _(
                    "Grid %(grid)s extends up to %(distance).1f m outside its community %(community)s "
                    "(tolerance %(tolerance).1f m)."
                ) % {
                    "grid": code,
                    "distance": distance,
                    "community": community_code,
                    "tolerance": GRID_WITHIN_TOLERANCE_M,
                }
                if feature is None:
                    message = _(
                        "Grid %(grid)s, already in the database, would no longer fit: %(message)s"
                    ) % {
                        "grid": code,
                        "message": message,
                    }
                blame(feature, message)

        geoms = np.empty(len(grids_m), dtype=object)
        geoms[:] = grids_m
        left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
        pairs = left < right
        left, right = left[pairs], right[pairs]
        if left.size == 0:
            return
        interiors_meet = shapely.relate_pattern(geoms[left], geoms[right], "2********")
        for i, j in zip(left[interiors_meet], right[interiors_meet], strict=True):
            first, second = grids[i], grids[j]
            if first[2] is None and second[2] is None:
                continue  # both untouched by this file: not this import's problem
            overlap = geoms[i].intersection(geoms[j])
            if overlap.buffer(-GRID_OVERLAP_TOLERANCE_M / 2.0).is_empty:
                continue  # a sliver narrower than the tolerance: digitising noise
            culprit, other = (second, first) if second[2] is not None else (first, second)
            blame(
                culprit[2],
                _(
                    "Grid %(grid)s overlaps grid %(other)s by %(area).1f m² (grids of one community must not overlap)."
                )
                % {"grid": culprit[0], "other": other[0], "area": overlap.area},
            )


# ---- writing -----------------------------------------------------------------------------


def _geometry_json(geom: BaseGeometry) -> str:
    probe = Area()
    probe.set_geometry(geom)
    return probe.geometry


def _apply_fields(obj: Any, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _write_areas(plan: _Plan, result: ImportResult, *, dry_run: bool) -> dict[str, Area]:
    by_code: dict[str, Area] = dict(plan.db_areas)
    for feature in sorted(
        plan.areas.values(), key=lambda f: (AREA_LEVEL[AreaKind(f.kind)], f.code)
    ):
        assert feature.geometry is not None
        parent = by_code.get(feature.parent_code) if feature.parent_code else None
        area = plan.db_areas.get(feature.code)
        geometry = _geometry_json(feature.geometry)
        if area is None:
            result.created[feature.kind] += 1
            if dry_run:
                continue
            area = Area(
                kind=feature.kind,
                code=feature.code,
                name=feature.name,
                parent=parent,
                **feature.values,
            )
            area.set_geometry(feature.geometry)
            area.save()
            by_code[feature.code] = area
            continue
        old_path = area.path
        parent_changed = area.parent_id != (parent.pk if parent is not None else None)
        changed = _apply_fields(area, {"name": feature.name, **feature.values})
        if area.geometry != geometry:
            area.set_geometry(feature.geometry)
            changed = True
        if parent_changed:
            area.parent = parent
            changed = True
        if not changed:
            result.unchanged[feature.kind] += 1
            continue
        result.updated[feature.kind] += 1
        if dry_run:
            continue
        area.save()
        if parent_changed and old_path and area.path != old_path:
            # Move the whole subtree: rewrite the path prefix of every descendant.
            Area.objects.filter(path__startswith=old_path).exclude(pk=area.pk).update(
                path=Concat(Value(area.path), Substr("path", len(old_path) + 1))
            )
    return by_code


def _write_places(
    plan: _Plan, areas: dict[str, Area], result: ImportResult, *, dry_run: bool
) -> None:
    for feature in plan.places:
        assert feature.geometry is not None and feature.parent_code is not None
        parent = areas.get(feature.parent_code)
        model: type[Compound] | type[BackStreet] = (
            Compound if feature.kind == COMPOUND else BackStreet
        )
        parent_field = "community" if feature.kind == COMPOUND else "street"
        obj: Compound | BackStreet | None = None
        if parent is not None:
            osm_id = feature.values.get("osm_id")
            if osm_id:
                obj = model.objects.filter(osm_id=osm_id).first()
            if obj is None:
                obj = model.objects.filter(**{parent_field: parent, "name": feature.name}).first()
        values: dict[str, Any] = {"name": feature.name, **feature.values}
        if feature.kind == BACK_STREET:
            values["length_m"] = round(float(feature.length_m or 0.0), 2)
        if obj is None:
            result.created[feature.kind] += 1
            if dry_run:
                continue
            obj = model(**{parent_field: parent}, **values)
            obj.set_geometry(feature.geometry)
            obj.save()
            continue
        changed = _apply_fields(obj, values)
        if getattr(obj, f"{parent_field}_id") != parent.pk:  # type: ignore[union-attr]
            setattr(obj, parent_field, parent)
            changed = True
        geometry = _geometry_json(feature.geometry)
        if obj.geometry != geometry:
            obj.set_geometry(feature.geometry)
            changed = True
        if not changed:
            result.unchanged[feature.kind] += 1
            continue
        result.updated[feature.kind] += 1
        if not dry_run:
            obj.save()


# ---- entry points ------------------------------------------------------------------------


def import_areas_from_geojson(
    data: dict[str, Any], *, crs: str = "wgs84", dry_run: bool = False
) -> ImportResult:
    """Validate a GeoJSON FeatureCollection and write it in one transaction.

    ``crs`` is the coordinate system of the file ("wgs84" or "gcj02"; stored
    geometry is always WGS-84). With ``dry_run`` nothing is written and the
    result says what would change. Raises ``AreaImportFailed`` listing every
    problem; then nothing was written.
    """
    problems = _check_collection(data, crs)
    if problems:
        raise AreaImportFailed(problems, code=ErrorCode.BAD_FILE)
    found = _Problems()
    features: list[_Feature] = []
    refused_codes: set[str] = set()
    for index, raw in enumerate(data["features"]):
        parsed = _parse_feature(index, raw, crs=crs, found=found)
        if parsed is not None:
            features.append(parsed)
        elif isinstance(raw, dict) and isinstance(raw.get("properties"), dict):
            refused_codes.add(_as_code(raw["properties"].get("code")) or "")
    result = ImportResult(dry_run=dry_run)
    with transaction.atomic():
        plan = _Plan(features, found, refused_codes)
        plan.check_identity_and_parents()
        plan.check_duplicate_places()
        plan.check_places_inside_parents()
        plan.check_grids()
        if found.errors:
            raise AreaImportFailed(found.errors)
        result.warnings.extend(found.warnings)
        areas = _write_areas(plan, result, dry_run=dry_run)
        _write_places(plan, areas, result, dry_run=dry_run)
    return result


def import_areas_from_file(
    source: str | Path | IO[str], *, crs: str = "wgs84", dry_run: bool = False
) -> ImportResult:
    """Read a GeoJSON file (a path, "-" for standard input, or an open text file) and import it."""
    try:
        if isinstance(source, str | Path):
            if str(source) == "-":
                data = json.load(sys.stdin)
            else:
                with open(source, encoding="utf-8-sig") as handle:
                    data = json.load(handle)
        else:
            data = json.load(source)
    except OSError as exc:
        raise ValidationFailed(
            _("Cannot read %(file)s: %(error)s") % {"file": source, "error": exc.strerror or exc},
            code=ErrorCode.BAD_FILE,
        ) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            _("%(file)s is not valid JSON: %(error)s") % {"file": source, "error": exc},
            code=ErrorCode.BAD_FILE,
        ) from exc
    return import_areas_from_geojson(data, crs=crs, dry_run=dry_run)
