"""Households of a building from its OSM tags and footprint.

Shared by the demo city (which groups buildings into compounds) and the life-circle import
(which weighs coverage by households), so both count a building the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "DEFAULT_FLOORS",
    "HOUSEHOLD_FLOOR_AREA_M2",
    "LANDMARK_KEYS",
    "MIXED_USE_BUILDINGS",
    "RESIDENTIAL_BUILDINGS",
    "building_households",
]

# Gross floor area per household. About 90 m² is the figure for new-build flats; the
# pre-2000 walk-ups of an old core (老旧小区) are smaller, 50–80 m², hence 75.
HOUSEHOLD_FLOOR_AREA_M2 = 75.0
# Floors when OSM has no building:levels: the median of the demo extract's tagged
# multi-storey buildings, and the height of an old-core walk-up.
DEFAULT_FLOORS = 6.0
RESIDENTIAL_BUILDINGS = frozenset(
    {"yes", "apartments", "residential", "house", "terrace", "dormitory", "block"}
)
MIXED_USE_BUILDINGS = frozenset({"retail", "commercial", "office"})
# A building with one of these keys is a landmark, shop or office, never housing.
LANDMARK_KEYS = frozenset(
    {
        "amenity",
        "tourism",
        "historic",
        "religion",
        "government",
        "wikidata",
        "wikipedia",
        "leisure",
        "public_transport",
        "shop",
        "office",
    }
)


# More floors than any building has: a tag above this is a typo, and the default is used.
MAX_FLOORS = 200.0


def building_households(tags: Mapping[str, str], footprint_m2: float) -> int:
    """Households in a building: floor area / HOUSEHOLD_FLOOR_AREA_M2; 0 for non-housing."""
    kind = tags.get("building", "")
    if LANDMARK_KEYS & tags.keys():
        return 0
    try:
        floors = float(tags["building:levels"])
    except (KeyError, ValueError):
        floors = DEFAULT_FLOORS
    if not 0.0 < floors < MAX_FLOORS:  # nan, inf, 0, negative or a typo like 1e400
        floors = DEFAULT_FLOORS
    if kind in RESIDENTIAL_BUILDINGS and "name" not in tags:
        residential_floors = floors
    elif kind in MIXED_USE_BUILDINGS or kind in RESIDENTIAL_BUILDINGS:
        # Shops and offices below, flats above (商住楼); a named building is one of those too.
        residential_floors = max(floors - 1.0, 0.0)
    else:
        return 0
    return int(footprint_m2 * residential_floors / HOUSEHOLD_FLOOR_AREA_M2)
