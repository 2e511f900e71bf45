"""Steps the browser tests share: the map, photos, reading a page's ticket number."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from civicloop.testing import jpeg_upload

# Leaflet layers drawn from /geo/areas.geojson: polygons (grids, communities …).
COUNT_POLYGONS = """(id) => {
  const api = document.getElementById(id)._civicMap;
  let n = 0;
  api.map.eachLayer((l) => { if (l instanceof L.Polygon) n += 1; });
  return n;
}"""
COUNT_TILE_LAYERS = """(id) => {
  const api = document.getElementById(id)._civicMap;
  let n = 0;
  api.map.eachLayer((l) => { if (l instanceof L.TileLayer) n += 1; });
  return n;
}"""
# Where a WGS-84 point is on the map element, in CSS pixels (the map shows WGS-84 when
# there are no tiles, or shifts to GCJ-02 for Amap tiles: ask the map's own transform).
POINT_ON_MAP = """([id, lat, lon]) => {
  const api = document.getElementById(id)._civicMap;
  const p = api.show(lat, lon);
  const xy = api.map.latLngToContainerPoint(L.latLng(p[0], p[1]));
  return {x: xy.x, y: xy.y};
}"""


def wait_for_map(page: Any, map_id: str, *, polygons: int) -> None:
    """Until the map is set up and has drawn at least ``polygons`` area boundaries."""
    page.wait_for_function(
        "([id, n]) => { const el = document.getElementById(id);"
        " if (!el || !el._civicMap) return false;"
        " let c = 0; el._civicMap.map.eachLayer((l) => { if (l instanceof L.Polygon) c += 1; });"
        " return c >= n; }",
        arg=[map_id, polygons],
    )
    page.wait_for_timeout(300)  # fitBounds' animation settles before anyone clicks


def tap_map_at(page: Any, map_id: str, lat: float, lon: float) -> None:
    """A real click (or tap, on a touch phone) on the map where (lat, lon) is drawn."""
    xy = page.evaluate(POINT_ON_MAP, [map_id, lat, lon])
    target = page.locator(f"#{map_id}")
    box = target.bounding_box()
    assert box and 0 <= xy["x"] <= box["width"] and 0 <= xy["y"] <= box["height"], (xy, box)
    target.click(position={"x": xy["x"], "y": xy["y"]})


def jpeg_file(tmp_path: Path, name: str = "photo.jpg", color: tuple[int, int, int] = (200, 80, 40)) -> Path:
    """A real JPEG on disk, for ``set_input_files`` (the same bytes the Client tests upload)."""
    path = tmp_path / name
    path.write_bytes(jpeg_upload(name, color=color, size=(640, 480)).read())
    return path


def image_loaded(page: Any, locator: Any) -> bool:
    return bool(locator.evaluate("(img) => img.complete && img.naturalWidth > 0"))
