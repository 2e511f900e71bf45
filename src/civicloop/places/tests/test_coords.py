"""WGS-84 ↔ GCJ-02: published reference values, centimetre round trips, no shift abroad."""

from __future__ import annotations

import math

import numpy as np
import pytest

from civicloop.places.coords import (
    gcj02_to_wgs84,
    gcj02_to_wgs84_array,
    in_china,
    in_china_array,
    wgs84_to_gcj02,
    wgs84_to_gcj02_array,
)

# (WGS-84 lat, lon) → (GCJ-02 lat, lon) as published with the widely used open implementations
# (the eviltransform test suite and wandergis/coordtransform's README example).
REFERENCE = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),  # Shanghai
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),  # Shenzhen
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),  # Beijing
    ((39.915, 116.404), (39.91640428150164, 116.41024449916938)),  # Beijing, Tiananmen
]

OUTSIDE_CHINA = [
    (0.0, 0.0),
    (51.5007, -0.1246),  # London
    (35.6812, 139.7671),  # Tokyo
    (37.5665, 126.9780),  # Seoul
    (25.0330, 121.5654),  # Taipei
    (47.8864, 106.9057),  # Ulaanbaatar
    (21.0278, 105.8342),  # Hanoi
    (43.1155, 131.8855),  # Vladivostok
    (-33.8688, 151.2093),  # Sydney
]


def metres_between(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Haversine distance; plenty accurate at the centimetre scale of these tests."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371008.8 * np.arcsin(np.sqrt(a))


@pytest.mark.parametrize(("wgs", "gcj"), REFERENCE)
def test_forward_matches_published_values(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    lat, lon = wgs84_to_gcj02(*wgs)
    assert lat == pytest.approx(gcj[0], abs=1e-9)
    assert lon == pytest.approx(gcj[1], abs=1e-9)


@pytest.mark.parametrize(("wgs", "gcj"), REFERENCE)
def test_inverse_recovers_published_inputs_to_a_centimetre(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    lat, lon = gcj02_to_wgs84(*gcj)
    assert (
        float(metres_between(np.array(lat), np.array(lon), np.array(wgs[0]), np.array(wgs[1])))
        < 0.01
    )


def test_the_offset_is_hundreds_of_metres_inside_china() -> None:
    lat, lon = wgs84_to_gcj02(43.8256, 87.6168)  # Ürümqi
    shift = float(
        metres_between(np.array(43.8256), np.array(87.6168), np.array(lat), np.array(lon))
    )
    assert 50 < shift < 1000


def test_round_trip_error_under_one_centimetre_across_china() -> None:
    rng = np.random.default_rng(20240601)
    lats = rng.uniform(18.2, 53.5, 200_000)
    lons = rng.uniform(73.6, 134.7, 200_000)
    g_lat, g_lon = wgs84_to_gcj02_array(lats, lons)
    w_lat, w_lon = gcj02_to_wgs84_array(g_lat, g_lon)
    # Within the offset's reach (≈ 1 km) of an edge of the China rectangles the two datums are
    # ambiguous: a point may be "in China" on one side and not on the other. Judge the rest.
    unambiguous = in_china_array(lats, lons) == in_china_array(g_lat, g_lon)
    assert unambiguous.mean() > 0.99
    assert in_china_array(lats, lons)[unambiguous].mean() > 0.5  # the sample exercises the shift
    assert metres_between(lats, lons, w_lat, w_lon)[unambiguous].max() < 0.01


def test_round_trip_from_gcj02_side() -> None:
    rng = np.random.default_rng(7)
    g_lat = rng.uniform(22.0, 45.0, 50_000)
    g_lon = rng.uniform(100.0, 122.0, 50_000)
    w_lat, w_lon = gcj02_to_wgs84_array(g_lat, g_lon)
    back_lat, back_lon = wgs84_to_gcj02_array(w_lat, w_lon)
    unambiguous = in_china_array(g_lat, g_lon) == in_china_array(w_lat, w_lon)
    assert unambiguous.mean() > 0.99
    assert metres_between(g_lat, g_lon, back_lat, back_lon)[unambiguous].max() < 0.01


@pytest.mark.parametrize(("lat", "lon"), OUTSIDE_CHINA)
def test_points_outside_china_are_not_shifted(lat: float, lon: float) -> None:
    assert not in_china(lat, lon)
    assert wgs84_to_gcj02(lat, lon) == (lat, lon)
    assert gcj02_to_wgs84(lat, lon) == (lat, lon)


def test_arrays_match_scalars_and_keep_their_shape() -> None:
    lats = np.array([[31.1774276, 51.5007], [22.543847, 39.911954]])
    lons = np.array([[121.5272106, -0.1246], [113.912316, 116.377817]])
    g_lat, g_lon = wgs84_to_gcj02_array(lats, lons)
    assert g_lat.shape == (2, 2)
    for i in range(2):
        for j in range(2):
            assert (g_lat[i, j], g_lon[i, j]) == wgs84_to_gcj02(lats[i, j], lons[i, j])
    w_lat, w_lon = gcj02_to_wgs84_array(g_lat, g_lon)
    assert w_lat.shape == (2, 2)
    assert np.allclose(w_lat, lats, atol=1e-9) and np.allclose(w_lon, lons, atol=1e-9)


def test_inputs_are_not_modified() -> None:
    lats = np.array([31.1774276, 22.543847])
    lons = np.array([121.5272106, 113.912316])
    wgs84_to_gcj02_array(lats, lons)
    gcj02_to_wgs84_array(lats, lons)
    assert lats.tolist() == [31.1774276, 22.543847]


def test_nan_passes_through_without_looping_forever() -> None:
    lat, lon = gcj02_to_wgs84(math.nan, 116.0)
    assert math.isnan(lat)
