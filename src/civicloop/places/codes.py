"""Area codes of the GB/T 30428.1 unit grid, and how grids are numbered.

A grid code has 15 digits: the 6-digit GB/T 2260 division code of the district
(county), 3 digits for the street office, 3 for the community and 3 for the
grid's sequence inside its community. Each level's code is therefore its
parent's code plus 3 digits. The city is a 6-digit GB/T 2260 code as well; a
district must lie in the city's province and prefecture (see
``district_prefix_length``).

Grid sequence numbers run west→east, north→south inside a community, like
reading a page: rows from the north, each row from the west.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.utils.translation import gettext as _
from shapely.geometry.base import BaseGeometry

from civicloop.core.errors import ValidationFailed

from .models import AreaKind

__all__ = [
    "CODE_LENGTH",
    "code_problem",
    "district_prefix_length",
    "grid_code_for",
    "grid_codes_for",
    "grid_sequence_order",
]

CODE_LENGTH: dict[str, int] = {
    AreaKind.CITY: 6,
    AreaKind.DISTRICT: 6,
    AreaKind.STREET: 9,
    AreaKind.COMMUNITY: 12,
    AreaKind.GRID: 15,
}
_DIGITS = re.compile(r"[0-9]+")
MAX_GRID_SEQUENCE = 999


def district_prefix_length(city_code: str) -> int:
    """How many leading digits a district shares with its city's GB/T 2260 code.

    A municipality (110000 北京市) holds districts 1101xx, so they share the
    province (2 digits); a prefecture-level city (650100 乌鲁木齐市) holds
    6501xx (4 digits). A county-level city (652901 阿克苏市) has no districts in
    GB/T 2260: the district level then shares its prefecture (4 digits).
    """
    return 2 if city_code.endswith("0000") else 4


def code_problem(*, kind: str, code: str, parent_code: str | None) -> str | None:
    """Why ``code`` is not a valid code for an area of ``kind`` under ``parent_code``, or None."""
    length = CODE_LENGTH[kind]
    if not _DIGITS.fullmatch(code) or len(code) != length:
        return _("%(kind)s codes have exactly %(length)d digits; got “%(code)s”.") % {
            "kind": AreaKind(kind).label,
            "length": length,
            "code": code,
        }
    if parent_code is None:
        return None
    if kind == AreaKind.DISTRICT:
        shared = district_prefix_length(parent_code)
        if code[:shared] != parent_code[:shared]:
            return _(
                "District code %(code)s is not in city %(parent)s: the first %(shared)d digits must match."
            ) % {
                "code": code,
                "parent": parent_code,
                "shared": shared,
            }
        return None
    if kind in (AreaKind.STREET, AreaKind.COMMUNITY, AreaKind.GRID):
        if not code.startswith(parent_code) or len(parent_code) != length - 3:
            return _("Code %(code)s must be its parent's code %(parent)s followed by 3 digits.") % {
                "code": code,
                "parent": parent_code,
            }
    return None


def grid_code_for(community_code: str, seq: int) -> str:
    """The 15-digit code of the ``seq``-th grid (1–999) of a 12-digit community."""
    problem = code_problem(kind=AreaKind.COMMUNITY, code=community_code, parent_code=None)
    if problem:
        raise ValidationFailed(problem, field="community_code")
    if not 1 <= seq <= MAX_GRID_SEQUENCE:
        raise ValidationFailed(
            _("A grid sequence number runs from 1 to %(max)d; got %(seq)d.")
            % {"max": MAX_GRID_SEQUENCE, "seq": seq},
            field="seq",
        )
    return f"{community_code}{seq:03d}"


def grid_sequence_order(geometries: Sequence[BaseGeometry]) -> list[int]:
    """Indexes of ``geometries`` in the standard's order: rows north→south, each row west→east.

    Rows are found from each grid's representative point (always inside the
    grid, unlike a centroid): going south, a grid joins the current row while its
    point lies within the vertical extent of the row's first grid, otherwise it
    starts a new row. Ties fall back to the input order, so the result is
    deterministic.
    """
    points = [g.representative_point() for g in geometries]
    by_north = sorted(range(len(geometries)), key=lambda i: (-points[i].y, points[i].x, i))
    rows: list[list[int]] = []
    row_bottom = float("inf")
    for i in by_north:
        if rows and points[i].y >= row_bottom:
            rows[-1].append(i)
        else:
            rows.append([i])
            row_bottom = geometries[i].bounds[1]
    order: list[int] = []
    for row in rows:
        order.extend(sorted(row, key=lambda i: (points[i].x, i)))
    return order


def grid_codes_for(community_code: str, geometries: Sequence[BaseGeometry]) -> list[str]:
    """Codes for a community's grids, in the same order as ``geometries``, numbered per the standard."""
    if len(geometries) > MAX_GRID_SEQUENCE:
        raise ValidationFailed(
            _("A community can hold at most %(max)d grids; got %(count)d.")
            % {"max": MAX_GRID_SEQUENCE, "count": len(geometries)}
        )
    codes = [""] * len(geometries)
    for seq, i in enumerate(grid_sequence_order(geometries), start=1):
        codes[i] = grid_code_for(community_code, seq)
    return codes
