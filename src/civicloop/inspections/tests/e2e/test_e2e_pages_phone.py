"""The campaign office's and the leader's inspection pages on a phone: at 360 CSS pixels no
page scrolls sideways and every form field has a label (as web/tests/e2e/test_e2e_phone_width.py
checks for the case loop's pages). One published undercover round with a recorded visit, so
the tables, the map, the rankings and the bulletin have rows to lay out."""

from __future__ import annotations

import pytest

from civicloop.inspections.models import RoundStatus
from civicloop.inspections.tests.round_helpers import advance, make_round, record_visit
from civicloop.web.tests.e2e.helpers import NO_SIDEWAYS_SCROLL, UNLABELLED

pytestmark = pytest.mark.e2e

PAGES = [
    ("campaign_office", "/inspections/"),
    ("campaign_office", "/inspections/rounds/new/"),
    ("campaign_office", "/inspections/rounds/{round}/"),
    ("campaign_office", "/inspections/rounds/{round}/results/"),
    ("campaign_office", "/inspections/rounds/{round}/bulletin/"),
    ("campaign_office", "/inspections/standards/"),
    ("campaign_office", "/inspections/standards/{standard}/"),
    ("campaign_office", "/inspections/sites/"),
    ("leader", "/inspections/rankings/?round={round}&level=community"),
    ("leader", "/inspections/units/"),
]


@pytest.fixture
def published(site):
    city = site.city
    rnd = make_round(city, status=RoundStatus.ACTIVE)
    location = rnd.locations.select_related("site").order_by("draw_order").first()
    record_visit(location, found={(1, 1): 2})
    return advance(city, rnd, RoundStatus.PUBLISHED)


def test_inspection_pages_fit_a_phone_and_label_every_field(site, published, open_page, log_in, shot):
    standard = published.standards.order_by("pk").first()
    pages = {}
    for who in {w for w, _p in PAGES}:
        pages[who] = open_page("phone")
        log_in(pages[who], who)
    for who, path in PAGES:
        page = pages[who]
        url = path.format(round=published.pk, standard=standard.pk)
        response = page.goto(site.at(url))
        assert response is not None and response.status == 200, (url, response and response.status)
        page.wait_for_load_state("load")
        assert page.evaluate(UNLABELLED) == [], url
        assert page.evaluate(NO_SIDEWAYS_SCROLL), (
            url,
            page.evaluate(
                "() => Array.from(document.querySelectorAll('body *'))"
                ".filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5)"
                ".map((e) => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"
            ),
        )
        shot(page, url.strip("/").replace("/", "_").replace("?", "_").replace("&", "_").replace("=", "-") or "home")
