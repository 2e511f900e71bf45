"""A resident reports a problem on a phone: pin on the map, category by pinyin initials,
a photo, send; the ticket number is shown and the ticket page follows the case."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from civicloop.cases.models import Report, State

from .helpers import (
    COUNT_POLYGONS,
    COUNT_TILE_LAYERS,
    image_loaded,
    jpeg_file,
    settle,
    tap_map_at,
    wait_for_map,
)

GRIDS, COMMUNITIES = 4, 3  # in civicloop.testing.build_test_city


def test_resident_reports_on_a_phone_and_follows_the_ticket(site, open_page, shot, tmp_path):
    page = open_page("phone")
    page.goto(site.at("/report/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Report a problem")
    wait_for_map(page, "report-map", polygons=GRIDS + COMMUNITIES)

    # 1. Where: tap the map in the middle of grid g1.
    lat, lon = site.city.point_in("g1")
    tap_map_at(page, "report-map", lat, lon)
    expect(page.locator("#id_lat")).not_to_have_value("")
    assert abs(float(page.locator("#id_lat").input_value()) - lat) < 0.0002
    assert abs(float(page.locator("#id_lon").input_value()) - lon) < 0.0002
    page.get_by_label("Landmark or address (optional)").fill("幸福路12号楼下")

    # 2. What: typing the pinyin initials of 垃圾乱堆放 finds it.
    page.get_by_label(re.compile(r"^Search: Chinese, pinyin or initials")).press_sequentially("ljldf", delay=40)
    settle(page)  # the search answers as one types: pick from the last answer
    choice = page.get_by_role("radio", name=re.compile("垃圾乱堆放"))
    choice.check()
    settle(page)  # the category refreshes the list of open problems nearby (none here)

    # 3. Describe it, with a photo.
    page.get_by_label("What is wrong?").fill("楼下垃圾堆放三天无人清理")
    page.get_by_label("Photos (optional)").set_input_files(jpeg_file(tmp_path, "before.jpg"))
    expect(page.locator("#photo-preview li")).to_have_count(1)
    expect(choice).to_be_checked()
    shot(page, "filled")

    with page.expect_navigation():
        page.get_by_role("button", name="Send report").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("your report was received"))
    ticket = page.locator("#ticket-no").inner_text().strip()
    assert re.fullmatch(r"\d{8}-\d{6}", ticket)
    shot(page, "received")

    report = Report.objects.select_related("case__category", "case__grid").get(ticket_no=ticket)
    case = report.case
    assert case.category.code == "E0113" and case.grid == site.city.areas["g1"]
    assert case.state == State.REPORTED and case.photos.count() == 1
    assert report.description == "楼下垃圾堆放三天无人清理" and case.address == "幸福路12号楼下"

    with page.expect_navigation():
        page.get_by_role("link", name="Follow this report").click()
    expect(page).to_have_url(site.at(f"/t/{ticket}/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Ticket {ticket}")
    expect(page.get_by_text("楼下垃圾堆放三天无人清理")).to_be_visible()
    before = page.get_by_role("img", name="Photo before handling")
    expect(before).to_have_count(1)
    before.scroll_into_view_if_needed()
    expect(before).to_be_visible()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=before.element_handle())
    assert image_loaded(page, before)
    shot(page, "ticket")


def test_report_map_draws_grid_boundaries_without_tiles(site, open_page, shot):
    page = open_page("desktop")
    page.goto(site.at("/report/"))
    wait_for_map(page, "report-map", polygons=GRIDS + COMMUNITIES)
    assert page.evaluate(COUNT_POLYGONS, "report-map") == GRIDS + COMMUNITIES
    assert page.evaluate(COUNT_TILE_LAYERS, "report-map") == 0
    expect(page.locator("#report-map img.leaflet-tile")).to_have_count(0)
    # Drawn on a canvas (preferCanvas), which therefore has ink on it.
    canvas = page.locator("#report-map canvas")
    expect(canvas).to_have_count(1)
    assert page.evaluate(
        """(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true; return false; }""",
        canvas.element_handle(),
    )
    shot(page, "map")


def test_a_missing_pin_is_said_inline_and_keeps_the_text(site, open_page, shot):
    page = open_page("phone")
    page.goto(site.at("/report/"))
    page.get_by_label("What is wrong?").fill("路灯不亮")
    with page.expect_navigation():
        page.get_by_role("button", name="Send report").click()
    expect(page.locator("#location-errors")).to_contain_text("Place the pin on the map")
    expect(page.get_by_label("What is wrong?")).to_have_value("路灯不亮")
    assert not Report.objects.exists()
    shot(page, "no-pin")
