"""The browser harness itself: it serves the app's static files, keeps the browser off
the network and notices JavaScript errors (both fail a test at teardown)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "path", ["/static/vendor/leaflet/leaflet.js", "/static/vendor/htmx.org/htmx.min.js", "/static/web/map.js"]
)
def test_live_server_serves_the_apps_static_files(site, open_page, path):
    page = open_page("desktop")
    response = page.goto(site.at(path))
    assert response is not None and response.status == 200, f"{path}: run `make node` first"


def test_requests_to_the_outside_world_are_blocked_and_reported(site, open_page, browser_watch):
    page = open_page("phone")
    page.goto(site.url + "/")
    outcome = page.evaluate(
        "() => fetch('https://tile.openstreetmap.org/1/0/0.png').then(() => 'reached', () => 'blocked')"
    )
    assert outcome == "blocked"
    assert browser_watch.blocked == ["https://tile.openstreetmap.org/1/0/0.png"]
    browser_watch.blocked.clear()  # seen; the fixture would otherwise fail this test


def test_javascript_errors_are_reported(site, open_page, browser_watch):
    page = open_page("phone")
    page.goto(site.url + "/")
    page.evaluate("() => { setTimeout(() => { throw new Error('boom'); }, 0); }")
    page.wait_for_timeout(100)
    assert len(browser_watch.page_errors) == 1 and "boom" in browser_watch.page_errors[0]
    browser_watch.page_errors.clear()
