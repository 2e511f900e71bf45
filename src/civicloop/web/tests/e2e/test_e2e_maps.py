"""Every page with a map works with no base map (settings.test: MAP_TILES "none", and the
browser may reach nothing but the live server): area boundaries drawn, points clustered
or heat-mapped, no tile layer, no JavaScript error."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from civicloop.cases.models import State
from civicloop.testing import Loop

from .helpers import COUNT_POLYGONS, COUNT_TILE_LAYERS, wait_for_map, wait_for_points

GRIDS, COMMUNITIES, STREETS, DISTRICTS = 4, 3, 2, 2  # civicloop.testing.build_test_city


@pytest.fixture
def open_cases(site):
    """Two open cases in 幸福社区 (district A), one in 团结社区 (district B)."""
    loop = Loop(site.city, t0=timezone.now() - dt.timedelta(hours=3))
    return {
        "g1": loop.to(State.REPORTED, grid="g1"),
        "g2": loop.to(State.DISPATCHED, grid="g2"),
        "g4": loop.to(State.REPORTED, grid="g4"),
    }


def check_map(page, map_id, *, polygons):
    wait_for_map(page, map_id, polygons=polygons)
    assert page.evaluate(COUNT_POLYGONS, map_id) == polygons
    assert page.evaluate(COUNT_TILE_LAYERS, map_id) == 0
    expect(page.locator(f"#{map_id} img.leaflet-tile")).to_have_count(0)


# (who, viewport, path, map element, polygons drawn, points expected)
PAGES = {
    "nearby": (None, "phone", "/nearby/", "nearby-map", GRIDS + COMMUNITIES, 3),  # public: all open
    "dispatch_map": ("dispatcher", "desktop", "/dispatch/map/", "case-map", GRIDS + COMMUNITIES, 2),  # district A
    "grid": ("grid_worker", "phone", "/grid/", "grid-map", GRIDS + COMMUNITIES, 2),  # 幸福社区
    "overview": ("leader", "desktop", "/overview/", "overview-map", STREETS + DISTRICTS, 3),  # city: heat
}


@pytest.mark.parametrize("name", list(PAGES))
def test_map_pages_draw_boundaries_and_points_without_tiles(site, open_cases, open_page, log_in, shot, name):
    who, kind, path, map_id, polygons, points = PAGES[name]
    page = open_page(kind)
    if who:
        log_in(page, who)
    page.goto(site.at(path))
    check_map(page, map_id, polygons=polygons)
    assert wait_for_points(page, map_id) == points
    shot(page, "map")


def test_case_page_map_shows_the_grid_and_the_pin(site, open_cases, open_page, log_in, shot):
    case = open_cases["g2"]
    page = open_page("desktop")
    log_in(page, "dispatcher")
    page.goto(site.at(f"/cases/{case.pk}/"))
    check_map(page, "case-map", polygons=1)
    assert wait_for_points(page, "case-map") == 1
    shot(page, "case")
