"""WGS-84 ↔ GCJ-02 ("Mars coordinates") conversion.

Chinese web maps (Amap/高德, Tencent/腾讯, WeChat) show GCJ-02, an obfuscated
datum that moves a point by a few hundred metres with a smooth, deterministic
offset. civicloop stores WGS-84 (≈ CGCS2000); a pin dropped on an Amap
background is converted here before it reaches the grid index.

The forward offset is the widely published algorithm (the leaked reference
code that every open implementation reproduces): Krasovsky 1940 ellipsoid,
polynomial-plus-sine offsets around (105°E, 35°N). There is no closed-form
inverse, so GCJ-02 → WGS-84 is a fixed-point iteration ``w ← w − (f(w) − g)``,
which converges because the offset changes by well under 1 % per metre; we
stop when the forward image is within 1e-9° (≈ 0.1 mm) of the input, far below
the 1 cm this module promises.

Outside China nothing is shifted. "China" is the coarse set of rectangles
published with the algorithm (mainland plus Hainan, minus Taiwan and the border
areas of Vietnam, Mongolia and Russia); it is an approximation of where the
offset is applied, not a statement about borders.

All functions take and return (lat, lon), in that order, like the rest of
civicloop. The ``*_array`` variants are vectorised with numpy and accept any
array-likes of the same shape.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "gcj02_to_wgs84",
    "gcj02_to_wgs84_array",
    "in_china",
    "in_china_array",
    "wgs84_to_gcj02",
    "wgs84_to_gcj02_array",
]

FloatArray = npt.NDArray[np.float64]

# Krasovsky 1940 semi-major axis and first eccentricity squared, as in the algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323

# (south, west, north, east) in degrees.
_CHINA_RECTANGLES = np.array(
    [
        (42.8899, 79.4462, 49.2204, 96.3300),
        (39.3742, 109.6872, 54.1415, 135.0002),
        (29.5297, 73.1246, 42.8899, 124.143255),
        (26.7186, 82.9684, 29.5297, 97.0352),
        (20.414096, 97.0253, 29.5297, 124.367395),
        (17.871542, 107.975793, 20.414096, 111.744104),
    ]
)
_EXCLUDED_RECTANGLES = np.array(
    [
        (21.785006, 119.921265, 25.398623, 122.497559),  # Taiwan
        (20.0988, 101.8652, 22.284, 106.665),  # northern Vietnam and Laos
        (20.4878, 106.4525, 21.5422, 108.051),  # Gulf of Tonkin coast of Vietnam
        (50.3257, 109.0323, 55.8175, 119.127),  # Mongolia / Russia
        (49.5574, 127.4568, 55.8175, 137.0227),  # Russian Far East
        (42.5692, 131.2662, 44.8922, 137.0227),  # Vladivostok area
    ]
)

_MAX_ITERATIONS = 30
_TOLERANCE_DEG = 1e-9


def _in_rectangles(
    lat: FloatArray, lon: FloatArray, rectangles: FloatArray
) -> npt.NDArray[np.bool_]:
    lat_ = lat[..., np.newaxis]
    lon_ = lon[..., np.newaxis]
    inside = (
        (lat_ >= rectangles[:, 0])
        & (lon_ >= rectangles[:, 1])
        & (lat_ <= rectangles[:, 2])
        & (lon_ <= rectangles[:, 3])
    )
    result: npt.NDArray[np.bool_] = np.asarray(inside.any(axis=-1))
    return result


def in_china_array(lats: npt.ArrayLike, lons: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """True where the GCJ-02 offset applies."""
    lat = np.asarray(lats, dtype=np.float64)
    lon = np.asarray(lons, dtype=np.float64)
    return _in_rectangles(lat, lon, _CHINA_RECTANGLES) & ~_in_rectangles(
        lat, lon, _EXCLUDED_RECTANGLES
    )


def in_china(lat: float, lon: float) -> bool:
    return bool(in_china_array(lat, lon))


def _offset(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The GCJ-02 offset (dlat, dlon) in degrees at a WGS-84 position, ignoring the China test."""
    x = lon - 105.0
    y = lat - 35.0
    x_pi = x * np.pi
    y_pi = y * np.pi
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x_pi) + 20.0 * np.sin(2.0 * x_pi)) * 2.0 / 3.0

    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat = dlat + common
    dlat = dlat + (20.0 * np.sin(y_pi) + 40.0 * np.sin(y_pi / 3.0)) * 2.0 / 3.0
    dlat = dlat + (160.0 * np.sin(y_pi / 12.0) + 320.0 * np.sin(y_pi / 30.0)) * 2.0 / 3.0

    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon = dlon + common
    dlon = dlon + (20.0 * np.sin(x_pi) + 40.0 * np.sin(x_pi / 3.0)) * 2.0 / 3.0
    dlon = dlon + (150.0 * np.sin(x_pi / 12.0) + 300.0 * np.sin(x_pi / 30.0)) * 2.0 / 3.0

    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return dlat, dlon


def _as_pair(lats: npt.ArrayLike, lons: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    lat, lon = np.broadcast_arrays(
        np.asarray(lats, dtype=np.float64), np.asarray(lons, dtype=np.float64)
    )
    return lat.copy(), lon.copy()


def wgs84_to_gcj02_array(lats: npt.ArrayLike, lons: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised WGS-84 → GCJ-02. Points outside China (and NaN) come back unchanged."""
    lat, lon = _as_pair(lats, lons)
    shift = in_china_array(lat, lon)
    if shift.any():
        dlat, dlon = _offset(lat[shift], lon[shift])
        lat[shift] += dlat
        lon[shift] += dlon
    return lat, lon


def gcj02_to_wgs84_array(lats: npt.ArrayLike, lons: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised GCJ-02 → WGS-84 by fixed-point iteration, accurate to ≈ 0.1 mm.

    Whether a point is "in China" is decided on the GCJ-02 input, as every
    published implementation does; within a few hundred metres of the coarse
    China rectangles the two datums are ambiguous anyway.
    """
    g_lat, g_lon = _as_pair(lats, lons)
    w_lat, w_lon = g_lat.copy(), g_lon.copy()
    active = np.flatnonzero(in_china_array(g_lat, g_lon).ravel())
    flat_w_lat, flat_w_lon = w_lat.reshape(-1), w_lon.reshape(-1)
    flat_g_lat, flat_g_lon = g_lat.reshape(-1), g_lon.reshape(-1)
    for _ in range(_MAX_ITERATIONS):
        if active.size == 0:
            break
        dlat, dlon = _offset(flat_w_lat[active], flat_w_lon[active])
        err_lat = flat_w_lat[active] + dlat - flat_g_lat[active]
        err_lon = flat_w_lon[active] + dlon - flat_g_lon[active]
        flat_w_lat[active] -= err_lat
        flat_w_lon[active] -= err_lon
        # One more step after the error is under tolerance costs nothing and halves it again.
        active = active[np.maximum(np.abs(err_lat), np.abs(err_lon)) >= _TOLERANCE_DEG]
    return w_lat, w_lon


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """WGS-84 (lat, lon) → GCJ-02 (lat, lon)."""
    g_lat, g_lon = wgs84_to_gcj02_array(lat, lon)
    return float(g_lat), float(g_lon)


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """GCJ-02 (lat, lon) → WGS-84 (lat, lon), the exact inverse to well under 1 cm."""
    w_lat, w_lon = gcj02_to_wgs84_array(lat, lon)
    return float(w_lat), float(w_lon)
