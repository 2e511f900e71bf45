"""A resident's report with links is held; he gets a reference, not a ticket. The district's
dispatcher finds it under "Held reports", takes the links out and releases it; the resident's
page then shows his ticket."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from civicloop.moderation.models import HeldReport, HeldStatus
from civicloop.web.tests.e2e.helpers import (
    NO_SIDEWAYS_SCROLL,
    UNLABELLED,
    jpeg_file,
    settle,
    tap_map_at,
    wait_for_map,
)

SPAM = "楼下垃圾没人清理 详见 http://spam.example.cn/a <b>加急</b> www.spam.top"


def test_held_report_is_released_by_the_dispatcher(site, open_page, log_in, shot, tmp_path):
    # A resident on a phone sends a report whose text carries two links and markup.
    resident = open_page("phone")
    resident.goto(site.at("/report/"))
    wait_for_map(resident, "report-map", polygons=1)
    lat, lon = site.city.point_in("g1")
    tap_map_at(resident, "report-map", lat, lon)
    resident.get_by_label(re.compile(r"^Search: Chinese, pinyin or initials")).press_sequentially(
        "ljldf", delay=30
    )
    settle(resident)
    resident.get_by_role("group", name="What kind of problem?").get_by_role(
        "radio", name=re.compile("垃圾乱堆放")
    ).check()
    settle(resident)
    resident.get_by_label("What is wrong?").fill(SPAM)
    resident.get_by_label("Photos (optional)").set_input_files(jpeg_file(tmp_path))
    with resident.expect_navigation():
        resident.get_by_role("button", name="Send report").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text(
        re.compile("your report was received")
    )
    expect(resident.locator("#ticket-no")).to_have_count(0)
    held = HeldReport.objects.get()
    expect(resident.locator("#held-ref")).to_have_text(held.token)
    assert resident.evaluate(NO_SIDEWAYS_SCROLL)
    shot(resident, "held")
    held_page = resident.url

    # The dispatcher of the district finds it in his navigation.
    dispatcher = open_page("desktop")
    log_in(dispatcher, "dispatcher")
    with dispatcher.expect_navigation():
        dispatcher.get_by_role("link", name="Held reports").click()
    item = dispatcher.locator(f"#held-{held.pk}")
    expect(item).to_contain_text("Too many links")
    expect(item).to_contain_text("Script or markup in the text")
    expect(item.locator(".original")).to_have_text(SPAM)  # the text as typed, markup and all …
    expect(item.locator(".original a")).to_have_count(0)  # … and nothing in it is a link
    expect(item.locator(".original b")).to_have_count(0)
    expect(item.get_by_role("img", name=re.compile("Photo 1"))).to_be_visible()
    assert item.get_by_role("img", name=re.compile("Photo 1")).evaluate(
        "(img) => img.complete && img.naturalWidth > 0"
    )
    dispatcher.wait_for_function(
        "() => document.getElementById('held-map')._civicMap && document.getElementById('held-map')._civicMap.points"
    )
    assert dispatcher.evaluate(UNLABELLED) == []
    shot(dispatcher, "queue")

    # Rejecting without a reason is refused (the browser asks for one; blanks reach the server).
    item.get_by_text("Reject…").click()
    item.get_by_label("Reason").fill("   ")
    item.get_by_role("button", name="Reject: do not publish").click()
    settle(dispatcher)
    item = dispatcher.locator(f"#held-{held.pk}")
    expect(item).to_contain_text("Please give a reason.")

    # He takes the links out and releases it.
    item.get_by_text("Correct the text before publishing…").click()
    item.get_by_label("Text to publish").fill("楼下垃圾没人清理")
    item.get_by_role("button", name="Release: publish as a report").click()
    settle(dispatcher)
    item = dispatcher.locator(f"#held-{held.pk}")
    expect(item).to_contain_text(re.compile(r"Released: published as ticket \d{8}-\d{6}"))
    expect(dispatcher.locator("#held-tabs")).to_contain_text(re.compile(r"Waiting\s*0"))
    shot(dispatcher, "released")
    held.refresh_from_db()
    assert held.status == HeldStatus.RELEASED and held.original_description == SPAM
    report = held.report
    assert (
        report is not None
        and report.description == "楼下垃圾没人清理"
        and report.case.photos.count() == 1
    )

    # The resident's page now shows his ticket.
    resident.goto(held_page)
    expect(resident.get_by_role("heading", level=1)).to_have_text(
        "Your report was checked and published"
    )
    expect(resident.locator("#ticket-no")).to_have_text(report.ticket_no)
    with resident.expect_navigation():
        resident.get_by_role("link", name="Follow this report").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text(f"Ticket {report.ticket_no}")


def test_the_queue_works_on_a_phone(site, open_page, log_in, shot):
    from civicloop.moderation.actions import report_submit

    lat, lon = site.city.point_in("g1")
    report_submit(
        channel="api",
        ip="10.0.0.1",
        category="E0113",
        lat=lat,
        lon=lon,
        description=SPAM + " " + "x" * 300,
    )
    phone = open_page("phone")
    log_in(phone, "dispatcher", next="/moderation/")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Held reports")
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)
    assert phone.evaluate(UNLABELLED) == []
    shot(phone, "queue")
