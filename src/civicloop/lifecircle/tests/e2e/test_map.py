"""The life-circle pages in a real browser: the campaign office chooses a kind on the map,
places a candidate site and reads what it would change; every page fits a 360 px phone
with every field labelled."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from civicloop.lifecircle import selectors
from civicloop.lifecircle.models import Reach
from civicloop.testing import LAT0, LON0
from civicloop.web.tests.e2e.helpers import NO_SIDEWAYS_SCROLL, UNLABELLED, tap_map_at

pytestmark = pytest.mark.e2e

PAGES = (
    "/lifecircle/",
    "/lifecircle/coverage/",
    "/lifecircle/gaps/",
    "/lifecircle/facilities/",
    "/lifecircle/network/",
)


@pytest.fixture
def lc_site(site, lc_city):  # noqa: ANN001, ANN201
    """The life-circle city served live; the analysis cache starts empty (a test database's
    ids repeat between tests)."""
    selectors._loaded = None
    return site


def wait_for_layers(page, kind: str) -> None:  # noqa: ANN001
    page.wait_for_function(
        "(kind) => document.getElementById('lc-map').getAttribute('data-loaded') === kind", arg=kind
    )
    page.wait_for_timeout(300)  # fitBounds settles before anyone clicks


def test_a_candidate_site_shows_the_households_it_would_bring(lc_site, open_page, log_in, shot):
    page = open_page("desktop")
    log_in(page, "campaign_office")
    page.goto(lc_site.at("/lifecircle/"))
    first = page.locator("#lc-kind").input_value()
    wait_for_layers(page, first)
    page.get_by_label("Kind of facility").select_option("kindergarten")
    wait_for_layers(page, "kindergarten")
    compounds = page.evaluate(
        "() => { let n = 0; document.getElementById('lc-map')._civicMap.map.eachLayer("
        "(l) => { if (l instanceof L.Polygon) n += 1; }); return n; }"
    )
    assert compounds == 4
    place = page.get_by_role("button", name="Place a candidate site")
    place.click()
    expect(place).to_have_attribute("aria-pressed", "true")
    tap_map_at(page, "lc-map", LAT0 + 0.0033, LON0 + 0.0033)
    panel = page.locator("#lc-whatif")
    expect(panel).to_contain_text(re.compile(r"350 households newly within 5 minutes"))
    expect(panel).to_contain_text("幸福家园")
    page.get_by_label(re.compile("my candidate sites")).check()
    page.get_by_role("button", name="Find the best sites").click()
    expect(page.locator("#lc-best-table")).to_contain_text("350")
    shot(page, "whatif")
    # A click far off the network is refused with the reason.
    tap_map_at(page, "lc-map", LAT0 + 0.0005, LON0 + 0.0076)
    expect(panel.get_by_role("alert")).to_contain_text("from every walkable way")
    assert selectors.current_analysis() is not None


def test_a_compound_newer_than_the_results_and_best_sites_without_points(
    lc_site, lc_city, open_page, log_in
):
    """A compound without a reach (added after the last computation) reads "not computed
    yet", not "not connected"; "my candidate sites" with none placed says so and sends
    nothing."""
    Reach.objects.filter(compound=lc_city.compounds["far"], kind__code="kindergarten").delete()
    page = open_page("desktop")
    log_in(page, "campaign_office")
    page.goto(lc_site.at("/lifecircle/?kind=kindergarten"))
    wait_for_layers(page, "kindergarten")
    tap_map_at(page, "lc-map", LAT0 + 0.0030, LON0 + 0.0030)
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text("幸福家园")
    expect(popup).to_contain_text("Not computed yet")
    expect(popup).not_to_contain_text("Not connected")
    sent = []
    page.on("request", lambda r: sent.append(r.url) if "best-sites" in r.url else None)
    page.get_by_label(re.compile("my candidate sites")).check()
    page.get_by_role("button", name="Find the best sites").click()
    expect(page.locator("#lc-best").get_by_role("alert")).to_contain_text(
        "Place at least one candidate site"
    )
    page.wait_for_timeout(300)
    assert sent == []


def test_life_circle_pages_fit_a_phone_and_label_every_field(lc_site, open_page, log_in, shot):
    page = open_page("phone")
    log_in(page, "campaign_office")
    for path in PAGES:
        response = page.goto(lc_site.at(path))
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("load")
        if path == "/lifecircle/":
            wait_for_layers(page, page.locator("#lc-kind").input_value())
        assert page.evaluate(UNLABELLED) == [], path
        assert page.evaluate(NO_SIDEWAYS_SCROLL), (
            path,
            page.evaluate(
                "() => Array.from(document.querySelectorAll('body *'))"
                ".filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5)"
                ".map((e) => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"
            ),
        )
        shot(page, path.strip("/").replace("/", "_"))
