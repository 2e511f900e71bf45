"""Point → grid: which unit grid (网格) a reported location belongs to.

Every case, inspection finding and patrol record is placed in exactly one grid,
so this lookup runs on every report and in bulk over historical data. The
grids are held in memory in a shapely 2 ``STRtree``; a bulk lookup is a
handful of vectorised calls whatever the number of points.

**Boundary rule.** A point belongs to a grid when the grid *covers* it
(interior or boundary). A point covered by several grids (on a shared edge or
vertex, or where digitising noise makes neighbours overlap slightly) belongs to
the one with the **lowest code**. The rule depends on the codes only, so every
process and every run gives the same answer.

**Caching.** The index is built once per process and rebuilt when an ``Area``
is saved or deleted in this process (signals, again on commit), or when the
grids table changed under another process: each lookup first reads a cheap
fingerprint of the grid rows (count, largest id, sum of the bounding boxes), so
a grid added, removed or moved elsewhere is seen on the next lookup.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from django.db import transaction
from django.db.models import Count, F, Max, Sum
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext as _
from shapely.geometry.base import BaseGeometry

from civicloop.core.errors import CivicError, ErrorCode, ValidationFailed

from .coords import gcj02_to_wgs84_array
from .models import Area, AreaKind

__all__ = [
    "CRS_CHOICES",
    "NO_GRID",
    "GridIndex",
    "get_grid_index",
    "grid_for_point",
    "grids_for_points",
    "invalidate_grid_index",
]

NO_GRID = -1
CRS_CHOICES = ("wgs84", "gcj02")

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Fingerprint = tuple[int, int, float]


@dataclass(frozen=True, eq=False)
class GridIndex:
    """An immutable snapshot of the grids, sorted by code, with their STRtree."""

    ids: IntArray
    codes: tuple[str, ...]
    geometries: npt.NDArray[np.object_]
    tree: shapely.STRtree
    fingerprint: Fingerprint | None = None

    @classmethod
    def build(
        cls,
        grids: Iterable[tuple[int, str, BaseGeometry]],
        *,
        fingerprint: Fingerprint | None = None,
    ) -> GridIndex:
        """Index ``(id, code, WGS-84 polygon)`` triples; they need not be sorted."""
        rows = sorted(grids, key=lambda row: row[1])
        ids = np.array([row[0] for row in rows], dtype=np.int64)
        geometries = np.empty(len(rows), dtype=object)
        geometries[:] = [row[2] for row in rows]
        # Prepared polygons make the point-in-polygon tests of lookup() several times faster.
        shapely.prepare(geometries)
        return cls(
            ids=ids,
            codes=tuple(row[1] for row in rows),
            geometries=geometries,
            tree=shapely.STRtree(geometries),
            fingerprint=fingerprint,
        )

    def __len__(self) -> int:
        return len(self.codes)

    def positions(self, lats: FloatArray, lons: FloatArray) -> IntArray:
        """Position in ``codes`` of the grid of each WGS-84 point, or -1; inputs must be valid."""
        result = np.full(lats.shape, NO_GRID, dtype=np.int64)
        if lats.size == 0 or len(self) == 0:
            return result
        points = shapely.points(np.column_stack([lons.ravel(), lats.ravel()]))
        # Bounding-box candidates first, then the exact test on the prepared polygons.
        # For a point, "intersects" is exactly "is covered by" (interior or boundary).
        point_idx, grid_idx = self.tree.query(points)
        flat_lons, flat_lats = lons.ravel(), lats.ravel()
        hit = shapely.intersects_xy(
            self.geometries[grid_idx], flat_lons[point_idx], flat_lats[point_idx]
        )
        point_idx, grid_idx = point_idx[hit], grid_idx[hit]
        if point_idx.size == 0:
            return result
        # Lowest code wins: grids are sorted by code, so take the smallest position per point.
        if point_idx.size > 1 and np.any(point_idx[1:] < point_idx[:-1]):
            order = np.argsort(point_idx, kind="stable")
            point_idx, grid_idx = point_idx[order], grid_idx[order]
        starts = np.flatnonzero(np.r_[True, point_idx[1:] != point_idx[:-1]])
        result.reshape(-1)[point_idx[starts]] = np.minimum.reduceat(grid_idx, starts)
        return result

    def lookup(self, lats: FloatArray, lons: FloatArray) -> IntArray:
        """Grid id of each WGS-84 point, or -1 (``NO_GRID``) outside every grid; inputs must be valid."""
        positions = self.positions(lats, lons)
        result = np.full(positions.shape, NO_GRID, dtype=np.int64)
        inside = positions >= 0
        result[inside] = self.ids[positions[inside]]
        return result


# ---- the per-process cache -------------------------------------------------------------

_lock = threading.Lock()
_cached: GridIndex | None = None


def _fingerprint() -> Fingerprint:
    row = Area.objects.filter(kind=AreaKind.GRID).aggregate(
        count=Count("id"),
        max_id=Max("id"),
        bounds=Sum(F("min_lon") + F("min_lat") + F("max_lon") + F("max_lat")),
    )
    return int(row["count"] or 0), int(row["max_id"] or 0), float(row["bounds"] or 0.0)


def _load(fingerprint: Fingerprint) -> GridIndex:
    rows = list(Area.objects.filter(kind=AreaKind.GRID).values_list("id", "code", "geometry"))
    geometries = shapely.from_geojson([row[2] for row in rows]) if rows else []
    return GridIndex.build(
        ((row[0], row[1], geom) for row, geom in zip(rows, geometries, strict=True)),
        fingerprint=fingerprint,
    )


def get_grid_index() -> GridIndex:
    """The current index of all grid Areas, rebuilt only when the grids changed."""
    global _cached
    fingerprint = _fingerprint()
    index = _cached
    if index is not None and index.fingerprint == fingerprint:
        return index
    with _lock:
        index = _cached
        if index is None or index.fingerprint != fingerprint:
            index = _load(fingerprint)
            _cached = index
        return index


def invalidate_grid_index() -> None:
    """Drop this process's index; the next lookup rebuilds it."""
    global _cached
    _cached = None


def _on_area_change(sender: type[Area], **kwargs: Any) -> None:
    invalidate_grid_index()
    # A lookup inside the writing transaction may rebuild from rows that are not yet
    # (or never) committed: drop that snapshot too once the outcome is known.
    transaction.on_commit(invalidate_grid_index, using=kwargs.get("using"))


post_save.connect(_on_area_change, sender=Area, dispatch_uid="places.index.area_saved")
post_delete.connect(_on_area_change, sender=Area, dispatch_uid="places.index.area_deleted")


# ---- public lookups ----------------------------------------------------------------------


def _check_crs(crs: str) -> str:
    normalized = str(crs).strip().lower().replace("-", "").replace("_", "")
    if normalized not in CRS_CHOICES:
        raise ValidationFailed(
            _("Unknown coordinate system “%(crs)s”; use “wgs84” or “gcj02”.") % {"crs": crs},
            field="crs",
        )
    return normalized


def _check_coordinates(lats: npt.ArrayLike, lons: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    try:
        lat = np.asarray(lats, dtype=np.float64)
        lon = np.asarray(lons, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(
            _("Coordinates must be numbers (decimal degrees)."), field="location"
        ) from exc
    if lat.shape != lon.shape:
        raise ValidationFailed(
            _("Got %(lats)d latitudes but %(lons)d longitudes.")
            % {"lats": lat.size, "lons": lon.size},
            field="location",
        )
    bad = ~(np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0))
    if bad.any():
        first = int(np.flatnonzero(bad.ravel())[0])
        raise ValidationFailed(
            _(
                "Invalid coordinates at position %(index)d (latitude %(lat)s, longitude %(lon)s): "
                "latitude must be between -90 and 90 and longitude between -180 and 180 degrees."
            )
            % {"index": first, "lat": lat.ravel()[first], "lon": lon.ravel()[first]},
            field="location",
        )
    return lat, lon


def _to_wgs84(lat: FloatArray, lon: FloatArray, crs: str) -> tuple[FloatArray, FloatArray]:
    if _check_crs(crs) == "gcj02":
        return gcj02_to_wgs84_array(lat, lon)
    return lat, lon


def grids_for_points(
    lats: npt.ArrayLike, lons: npt.ArrayLike, *, crs: str = "wgs84", index: GridIndex | None = None
) -> IntArray:
    """Grid id for each point (``NO_GRID`` = -1 outside every grid), as an int64 array.

    Raises ``ValidationFailed`` if any coordinate is NaN/infinite or out of range,
    naming the first offending position. ``index`` replaces the database's grids
    (tests and benchmarks pass one built with ``GridIndex.build``).
    """
    lat, lon = _check_coordinates(lats, lons)
    lat, lon = _to_wgs84(lat, lon, crs)
    return (index if index is not None else get_grid_index()).lookup(lat, lon)


def grid_for_point(*, lat: float, lon: float, crs: str = "wgs84") -> Area:
    """The one grid a point belongs to (see the boundary rule above).

    ``crs="gcj02"`` for coordinates from Amap, Tencent or WeChat. Raises
    ``CivicError(code=OUTSIDE_GRID)`` outside every grid and ``ValidationFailed``
    for coordinates that are not a place on Earth.
    """
    try:
        lat_value, lon_value = float(lat), float(lon)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(
            _("Coordinates must be numbers (decimal degrees)."), field="location"
        ) from exc
    if not (math.isfinite(lat_value) and -90.0 <= lat_value <= 90.0):
        raise ValidationFailed(
            _("Latitude must be a number between -90 and 90 degrees; got %(lat)s.") % {"lat": lat},
            field="lat",
        )
    if not (math.isfinite(lon_value) and -180.0 <= lon_value <= 180.0):
        raise ValidationFailed(
            _("Longitude must be a number between -180 and 180 degrees; got %(lon)s.")
            % {"lon": lon},
            field="lon",
        )
    w_lat, w_lon = _to_wgs84(np.array([lat_value]), np.array([lon_value]), crs)
    for _attempt in range(2):
        grid_id = int(get_grid_index().lookup(w_lat, w_lon)[0])
        if grid_id == NO_GRID:
            break
        grid = Area.objects.filter(pk=grid_id, kind=AreaKind.GRID).first()
        if grid is not None:
            return grid
        invalidate_grid_index()  # deleted under us in another process: rebuild once
    raise CivicError(
        _(
            "This location (%(lat).6f, %(lon).6f) is outside every grid of the city. "
            "Move the pin inside the service area."
        )
        % {"lat": lat_value, "lon": lon_value},
        code=ErrorCode.OUTSIDE_GRID,
        field="location",
    )
