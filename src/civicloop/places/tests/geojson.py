"""A small, valid city as a GeoJSON FeatureCollection, to import in tests and then break on purpose.

Layout (WGS-84, in Ürümqi): one community, 0.004° × 0.002° (≈ 320 m × 220 m),
split into four grids numbered per the standard, north-west first:

    lat 43.802 ┌────────┬────────┐
               │  001   │  002   │
    lat 43.801 ├────────┼────────┤
               │  003   │  004   │
    lat 43.800 └────────┴────────┘
             87.600   87.602   87.604
"""

from __future__ import annotations

import copy
from typing import Any

CITY = "650100"
DISTRICT = "650102"
STREET = "650102001"
COMMUNITY = "650102001001"
GRIDS = {
    "650102001001001": (87.600, 43.801, 87.602, 43.802),
    "650102001001002": (87.602, 43.801, 87.604, 43.802),
    "650102001001003": (87.600, 43.800, 87.602, 43.801),
    "650102001001004": (87.602, 43.800, 87.604, 43.801),
}
COMMUNITY_BOX = (87.600, 43.800, 87.604, 43.802)


def box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [
            [[west, south], [east, south], [east, north], [west, north], [west, south]]
        ],
    }


def feature(geometry: dict[str, Any] | None, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def city_features() -> list[dict[str, Any]]:
    wide = (87.50, 43.70, 87.70, 43.90)
    features = [
        feature(box(*wide), kind="city", code=CITY, name="乌鲁木齐市"),
        feature(box(*wide), kind="district", code=DISTRICT, name="天山区", parent_code=CITY),
        feature(
            box(87.59, 43.79, 87.61, 43.81),
            kind="street",
            code=STREET,
            name="燕儿窝街道",
            parent_code=DISTRICT,
        ),
        feature(
            box(*COMMUNITY_BOX),
            kind="community",
            code=COMMUNITY,
            name="幸福社区",
            parent_code=STREET,
            households=1523,
        ),
    ]
    features += [
        feature(
            box(*bounds), kind="grid", code=code, name=f"第{code[-1]}网格", parent_code=COMMUNITY
        )
        for code, bounds in GRIDS.items()
    ]
    features += [
        feature(
            box(87.6005, 43.8005, 87.6015, 43.8015),
            kind="compound",
            code="C1",
            name="幸福小区",
            parent_code=COMMUNITY,
            households=1523,
            buildings=12,
            built_year=1998,
            osm_id="way/123",
        ),
        feature(
            {"type": "LineString", "coordinates": [[87.6001, 43.8010], [87.6039, 43.8010]]},
            kind="back_street",
            code="B1",
            name="幸福巷",
            parent_code=STREET,
            street_class="精品街",
        ),
    ]
    return features


def collection(features: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": copy.deepcopy(features if features is not None else city_features()),
    }
