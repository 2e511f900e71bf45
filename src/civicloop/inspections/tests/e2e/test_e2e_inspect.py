"""Inspecting on a phone in a real browser: item by item with a photo and the device position;
the connection drops on "Submit", the page is closed, the draft comes back on a new page from
IndexedDB and is sent once the connection returns — exactly one visit, scored by the server."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from civicloop.inspections.models import Finding, RoundStatus, Visit, VisitPhoto
from civicloop.inspections.tests.round_helpers import make_round, site_point
from civicloop.inspections.tests.visit_helpers import items_of, location_of
from civicloop.web.tests.e2e.helpers import NO_SIDEWAYS_SCROLL, UNLABELLED, jpeg_file

pytestmark = pytest.mark.e2e

SUBMIT_ROUTE = "**/inspect/*/submit/"
COUNT_DRAFTS = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("civicloop-inspect", 1);
  open.onsuccess = () => {
    const t = open.result.transaction(["drafts", "photos"], "readonly");
    const drafts = t.objectStore("drafts").count(), photos = t.objectStore("photos").count();
    t.oncomplete = () => resolve([drafts.result, photos.result]);
  };
  open.onerror = () => reject(open.error);
})"""


def test_a_draft_survives_a_dropped_connection_and_a_closed_page(
    site, open_page, log_in, shot, browser_watch, tmp_path
):
    city = site.city
    rnd = make_round(city, status=RoundStatus.ACTIVE)
    location = location_of(rnd, "c1_old", city)
    items = items_of(location)
    lat, lon = site_point(location.site)

    page = open_page("phone")
    context = page.context
    context.grant_permissions(["geolocation"])
    context.set_geolocation({"latitude": lat, "longitude": lon, "accuracy": 5})
    log_in(page, "inspector")

    # The list: the location to inspect, then its page.
    page.goto(site.at("/inspect/"))
    card = page.locator(f'li.location[data-location="{location.pk}"]')
    expect(card).to_contain_text("幸福里小区")
    expect(card).to_contain_text("To inspect")
    card.get_by_role("link", name="幸福里小区").click()
    page.wait_for_url(re.compile(rf"/inspect/{location.pk}/$"))
    expect(page.locator("#inspect-form.is-ready")).to_have_count(1)
    expect(page.locator("#gps-status")).to_contain_text("You are at the site")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    assert page.evaluate(UNLABELLED) == []

    # Item by item: rubbish in three places (one photo), an illegal structure, one item not applicable.
    rubbish = page.locator(f"#item-{items['s1_i1'].pk}")
    for _ in range(3):
        rubbish.get_by_role("button", name="One more").click()
    expect(rubbish.locator('[data-field="occurrences"]')).to_have_value("3")
    expect(rubbish.locator("[data-result]")).to_have_text("−6.00 points")
    rubbish.locator("input[type=file]").set_input_files(str(jpeg_file(tmp_path, "rubbish.jpg")))
    expect(rubbish.locator(".photo-preview img[src^='blob:']")).to_have_count(1)
    page.locator(f"#item-{items['s2_i2'].pk}").get_by_role("button", name="One more").click()
    page.locator(f"#item-{items['s1_i2'].pk}").get_by_label("Does not apply here").check()
    # 10 − 6 and 15 − 7 of 25 applicable points: 48.00 (the server computes it again).
    expect(page.locator("#score-line")).to_contain_text("48.00")
    expect(page.locator("#draft-status")).to_contain_text("Draft saved on this phone")

    # The connection drops as he presses "Submit".
    context.set_offline(True)
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.locator("#send-status")).to_contain_text("Waiting to send")
    shot(page, "waiting")
    assert page.evaluate(COUNT_DRAFTS) == [1, 1]
    assert not Visit.objects.exists()
    page.close()

    # A new page later (the network is back, but the server still cannot be reached).
    context.route(SUBMIT_ROUTE, lambda route: route.abort("internetdisconnected"))
    context.set_offline(False)
    again = context.new_page()
    again.viewport_kind = "phone"
    again.on("pageerror", lambda exc: browser_watch.page_errors.append(f"{again.url}: {exc}"))
    again.goto(site.at("/inspect/"))
    draft = again.locator(f'#draft-list li[data-location="{location.pk}"]')
    expect(draft).to_contain_text("Waiting to send")
    expect(draft.get_by_role("button", name="Submit now")).to_be_visible()
    again.goto(site.at(f"/inspect/{location.pk}/"))
    expect(again.locator("#draft-status")).to_contain_text("Your draft was restored")
    rubbish = again.locator(f"#item-{items['s1_i1'].pk}")
    expect(rubbish.locator('[data-field="occurrences"]')).to_have_value("3")
    expect(rubbish.locator(".photo-preview img[src^='blob:']")).to_have_count(1)
    expect(
        again.locator(f"#item-{items['s1_i2'].pk}").get_by_label("Does not apply here")
    ).to_be_checked()
    expect(again.locator("#score-line")).to_contain_text("48.00")
    expect(again.locator("#send-status")).to_contain_text("Waiting to send")
    shot(again, "restored")
    assert not Visit.objects.exists()

    # The connection returns: the waiting draft is sent by itself, once.
    context.unroute(SUBMIT_ROUTE)
    context.set_offline(True)
    context.set_offline(False)
    expect(again.locator("#send-status")).to_contain_text("Sent. Score: 48.00.")
    shot(again, "sent")
    assert again.evaluate(COUNT_DRAFTS) == [0, 0]

    visit = Visit.objects.get()
    assert visit.location == location and visit.inspector == city.users["inspector"]
    assert visit.score == Decimal("48.00") and (visit.raw, visit.full) == (
        Decimal("12"),
        Decimal("25"),
    )
    assert visit.off_site is False and visit.distance_m == 0 and visit.accuracy_m == 5
    assert set(Finding.objects.values_list("item_id", flat=True)) == {
        items["s1_i1"].pk,
        items["s2_i2"].pk,
    }
    photo = VisitPhoto.objects.get()
    assert photo.finding.item == items["s1_i1"]

    # Opening the list again changes nothing: no draft left to send, the location is done.
    again.goto(site.at("/inspect/"))
    expect(again.locator(f'li.location[data-location="{location.pk}"]')).to_contain_text(
        "Inspected"
    )
    expect(again.locator("#drafts")).to_be_hidden()
    assert Visit.objects.count() == 1


def test_the_pages_open_without_a_connection_once_the_list_was_seen(
    site, browser, browser_watch, log_in, shot
):
    """The service worker keeps the list and every location still to inspect, so an inspector
    who opened /inspect/ once can open any of his locations in a cellar with no signal."""
    from civicloop.web.tests.e2e.conftest import TIMEOUT_MS, VIEWPORTS

    city = site.city
    rnd = make_round(city, status=RoundStatus.ACTIVE)
    location = location_of(rnd, "c2_old", city)
    # The fixtures' contexts block service workers; this one lets ours run.
    context = browser.new_context(
        locale="en-GB", timezone_id="Asia/Shanghai", service_workers="allow", **VIEWPORTS["phone"]
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.viewport_kind = "phone"
        page.on("pageerror", lambda exc: browser_watch.page_errors.append(f"{page.url}: {exc}"))
        log_in(page, "inspector")
        page.goto(site.at("/inspect/"))
        # Until the worker has kept the list and the locations still to inspect.
        kept = "(url) => caches.open('civicloop-inspect-v1').then((c) => c.match(url)).then((r) => !!r)"
        for _ in range(100):
            if page.evaluate(kept, site.at(f"/inspect/{location.pk}/")):
                break
            page.wait_for_timeout(100)
        else:
            pytest.fail("The service worker did not keep the location's page.")
        page.close()
        context.set_offline(True)
        page = context.new_page()
        page.viewport_kind = "phone"
        page.on("pageerror", lambda exc: browser_watch.page_errors.append(f"{page.url}: {exc}"))
        response = page.goto(site.at(f"/inspect/{location.pk}/"))
        assert response is not None and response.from_service_worker and response.status == 200
        expect(page.locator("#inspect-form.is-ready")).to_have_count(1)
        expect(page.get_by_role("heading", name="和平小区")).to_be_visible()
        page.locator("button[data-step='1']").nth(1).click()  # 1.2, no photo required
        page.get_by_role("button", name="Submit", exact=True).click()
        expect(page.locator("#send-status")).to_contain_text("Waiting to send")
        response = page.goto(site.at("/inspect/"))
        assert response is not None and response.from_service_worker
        expect(page.locator(f'#draft-list li[data-location="{location.pk}"]')).to_contain_text(
            "Waiting to send"
        )
        shot(page, "offline-list")
        context.set_offline(False)
        expect(page.locator("#drafts-status")).to_contain_text("Sent. Score: 90.00.")
        assert Visit.objects.get().location == location
    finally:
        context.close()
    assert browser_watch.problems() == []


KEPT = "(url) => caches.open('civicloop-inspect-v1').then((c) => c.match(url)).then((r) => !!r)"


def _worker_context(browser, browser_watch):
    """A phone context that lets the service worker run (the fixtures' contexts block it)."""
    from civicloop.web.tests.e2e.conftest import TIMEOUT_MS, VIEWPORTS

    context = browser.new_context(
        locale="en-GB", timezone_id="Asia/Shanghai", service_workers="allow", **VIEWPORTS["phone"]
    )
    context.set_default_timeout(TIMEOUT_MS)

    def new_page():
        page = context.new_page()
        page.viewport_kind = "phone"
        page.on("pageerror", lambda exc: browser_watch.page_errors.append(f"{page.url}: {exc}"))
        return page

    return context, new_page


def _wait_until_kept(page, url, kept=True):
    for _ in range(100):
        if page.evaluate(KEPT, url) is kept:
            return
        page.wait_for_timeout(100)
    pytest.fail(f"The service worker {'did not keep' if kept else 'still keeps'} {url}.")


def test_a_slow_connection_shows_the_page_of_now_not_the_copy(
    site, browser, browser_watch, log_in, monkeypatch
):
    """Online, the worker waits for the server however long it takes: the copy is only for
    when there is no connection at all."""
    import time

    from civicloop.inspections.tests.visit_helpers import submit
    from civicloop.inspections.views import inspect as inspect_views

    city = site.city
    rnd = make_round(city, status=RoundStatus.ACTIVE)
    location = location_of(rnd, "c2_old", city)
    context, new_page = _worker_context(browser, browser_watch)
    try:
        page = new_page()
        log_in(page, "inspector")
        page.goto(site.at("/inspect/"))
        _wait_until_kept(page, site.at(f"/inspect/{location.pk}/"))
        card = page.locator(f'li.location[data-location="{location.pk}"]')
        expect(card).to_contain_text("To inspect")
        # Inspected meanwhile (another phone, say); the server now answers slowly.
        submit(location, city.users["inspector"], lat=None, lon=None)
        config = inspect_views._client_config
        slowed: list[bool] = []

        def slow(*args, **kwargs):
            if not slowed:  # the reload only: the worker's later fetches must not outlive the test
                slowed.append(True)
                time.sleep(5)  # longer than the worker ever waited before giving the copy
            return config(*args, **kwargs)

        monkeypatch.setattr(inspect_views, "_client_config", slow)
        page.reload()
        expect(card).to_contain_text("Inspected")
        page.wait_for_load_state("networkidle")
    finally:
        context.close()
        # A request the worker started may still be served: let it end before the database is
        # emptied for the next test (SQLite refuses to flush a table a reader holds).
        time.sleep(1)
    assert browser_watch.problems() == []


def test_the_kept_pages_go_when_the_inspector_logs_out_or_another_logs_in(
    site, browser, browser_watch, log_in
):
    """A shared phone: logging out drops the pages the worker kept (the drafts stay, per
    user); so does another person's page. Without a connection they no longer open."""
    from playwright.sync_api import Error as PlaywrightError

    from civicloop.inspections.tests.round_helpers import make_inspector

    city = site.city
    rnd = make_round(city, status=RoundStatus.ACTIVE)
    location = location_of(rnd, "c2_old", city)
    make_inspector(city, "inspector2")
    kept_page = site.at(f"/inspect/{location.pk}/")
    context, new_page = _worker_context(browser, browser_watch)
    try:
        page = new_page()
        log_in(page, "inspector")
        page.goto(site.at("/inspect/"))
        _wait_until_kept(page, kept_page)
        with page.expect_navigation():
            page.get_by_role("button", name="Log out").click()
        _wait_until_kept(page, kept_page, kept=False)
        assert page.evaluate(KEPT, site.at("/inspect/")) is False

        # Logging out from any other page drops them too (the signed-out page tells the worker).
        log_in(page, "inspector")
        page.goto(site.at("/inspect/"))
        _wait_until_kept(page, kept_page)
        page.goto(site.at("/cases/"))
        with page.expect_navigation():
            page.get_by_role("button", name="Log out").click()
        _wait_until_kept(page, kept_page, kept=False)

        # Kept again; then someone else logs in on the same phone (without logging out).
        log_in(page, "inspector")
        page.goto(site.at("/inspect/"))
        _wait_until_kept(page, kept_page)
        context.clear_cookies()
        log_in(page, "inspector2")
        page.goto(site.at("/inspect/"))
        expect(page.locator(f'li.location[data-location="{location.pk}"]')).to_have_count(0)
        _wait_until_kept(page, kept_page, kept=False)

        context.set_offline(True)
        with pytest.raises(PlaywrightError):
            new_page().goto(kept_page)
        context.set_offline(False)
    finally:
        context.close()
    assert browser_watch.problems() == []
