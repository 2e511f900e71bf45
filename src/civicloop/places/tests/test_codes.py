"""GB/T 30428.1 codes and the west→east, north→south numbering of grids."""

from __future__ import annotations

import pytest
from shapely.geometry import Polygon, box

from civicloop.core.errors import ValidationFailed
from civicloop.places.codes import code_problem, grid_code_for, grid_codes_for, grid_sequence_order
from civicloop.places.models import AreaKind


def test_grid_code_is_the_community_code_plus_three_digits() -> None:
    assert grid_code_for("650102001001", 1) == "650102001001001"
    assert grid_code_for("650102001001", 42) == "650102001001042"
    assert grid_code_for("650102001001", 999) == "650102001001999"


@pytest.mark.parametrize(
    ("community", "seq"),
    [("65010200100", 1), ("65010200100x", 1), ("650102001001", 0), ("650102001001", 1000)],
)
def test_grid_code_refuses_bad_input(community: str, seq: int) -> None:
    with pytest.raises(ValidationFailed):
        grid_code_for(community, seq)


def test_code_rules_per_level() -> None:
    assert code_problem(kind=AreaKind.CITY, code="650100", parent_code=None) is None
    assert code_problem(kind=AreaKind.DISTRICT, code="650102", parent_code="650100") is None
    assert (
        code_problem(kind=AreaKind.DISTRICT, code="110105", parent_code="110000") is None
    )  # municipality
    assert code_problem(kind=AreaKind.STREET, code="650102001", parent_code="650102") is None
    assert (
        code_problem(kind=AreaKind.COMMUNITY, code="650102001001", parent_code="650102001") is None
    )
    assert (
        code_problem(kind=AreaKind.GRID, code="650102001001001", parent_code="650102001001") is None
    )

    assert code_problem(kind=AreaKind.DISTRICT, code="65010", parent_code="650100")
    assert code_problem(kind=AreaKind.DISTRICT, code="660102", parent_code="650100")
    assert code_problem(kind=AreaKind.STREET, code="650103001", parent_code="650102")
    assert code_problem(kind=AreaKind.GRID, code="65010200100100", parent_code="650102001001")
    assert code_problem(kind=AreaKind.GRID, code="6501020010010a1", parent_code="650102001001")


def test_grids_are_numbered_west_to_east_then_north_to_south() -> None:
    # Given a 3 × 2 block of grids in scrambled order
    cells = {
        "nw": box(0, 1, 1, 2),
        "n": box(1, 1, 2, 2),
        "ne": box(2, 1, 3, 2),
        "sw": box(0, 0, 1, 1),
        "s": box(1, 0, 2, 1),
        "se": box(2, 0, 3, 1),
    }
    names = ["se", "n", "sw", "ne", "s", "nw"]
    # When they are numbered
    codes = grid_codes_for("650102001001", [cells[n] for n in names])
    # Then the north row comes first, each row from the west
    assert dict(zip(names, codes, strict=True)) == {
        "nw": "650102001001001",
        "n": "650102001001002",
        "ne": "650102001001003",
        "sw": "650102001001004",
        "s": "650102001001005",
        "se": "650102001001006",
    }


def test_irregular_rows_are_recognised() -> None:
    # A row whose grids are staggered in latitude is still one row.
    west = Polygon([(0, 1.1), (1, 1.1), (1, 2.0), (0, 2.0)])
    east = Polygon([(1, 0.9), (2, 0.9), (2, 1.8), (1, 1.8)])
    south = box(0, 0, 2, 0.9)
    assert grid_sequence_order([south, east, west]) == [2, 1, 0]
