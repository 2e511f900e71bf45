"""Mobile first: at 360 CSS pixels no page scrolls sideways (a phone shows it all by
scrolling down only) and every form field has a label."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from civicloop.cases.models import State
from civicloop.testing import Loop

from .helpers import NO_SIDEWAYS_SCROLL, UNLABELLED


@pytest.fixture
def cases(site):
    loop = Loop(site.city, t0=timezone.now() - dt.timedelta(hours=3))
    return {
        "reported": loop.to(State.REPORTED),
        "dispatched": loop.to(State.DISPATCHED),
        "handled": loop.to(State.HANDLED),
    }


# (who, path) — path may name a case of the fixture as {reported} etc.
PAGES = [
    (None, "/"),
    (None, "/report/"),
    (None, "/nearby/"),
    (None, "/login/"),
    (None, "/t/{ticket}/"),
    ("dispatcher", "/dispatch/"),
    ("dispatcher", "/cases/"),
    ("dispatcher", "/cases/{reported}/"),
    ("unit_staff", "/tasks/"),
    ("unit_staff", "/cases/{dispatched}/"),
    ("grid_worker", "/grid/"),
    ("leader", "/overview/"),
]


@pytest.mark.parametrize(("who", "path"), PAGES, ids=[f"{w or 'public'}:{p}" for w, p in PAGES])
def test_pages_fit_a_phone_and_label_every_field(site, cases, open_page, log_in, shot, who, path):
    page = open_page("phone")
    if who:
        log_in(page, who)
    url = path.format(ticket=cases["handled"].ticket_no, **{k: c.pk for k, c in cases.items()})
    response = page.goto(site.at(url))
    assert response is not None and response.status == 200, (url, response and response.status)
    page.wait_for_load_state("load")
    assert page.evaluate(UNLABELLED) == []
    assert page.evaluate(NO_SIDEWAYS_SCROLL), page.evaluate(
        "() => [document.documentElement.scrollWidth, Array.from(document.querySelectorAll('body *'))"
        ".filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5)"
        ".map((e) => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))]"
    )
    shot(page, "fits")
