"""What a resident sees when his report is not taken up, and when the same problem was
already reported nearby: he joins that case, from a phone."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from civicloop.cases.models import Case, State

from .helpers import case_of, report_problem


def test_a_rejected_report_shows_the_resident_the_reason(site, open_page, log_in, shot):
    resident = open_page("phone")
    ticket = report_problem(resident, site, description="隔壁装修太吵")
    case = case_of(ticket)

    dispatcher = open_page("desktop")
    log_in(dispatcher, "dispatcher")
    row = dispatcher.locator(f"#case-row-{case.pk}")
    row.get_by_text("Do not register…").click()
    reason = row.get_by_label("Reason")
    # Without a reason the browser itself refuses (the field is required); nothing is sent.
    row.get_by_role("button", name="Do not register", exact=True).click()
    assert reason.evaluate("(el) => el.validity.valueMissing")
    case.refresh_from_db()
    assert case.state == State.REPORTED
    reason.fill("装修噪音不属于城市管理范围，请拨打12345")
    row.get_by_role("button", name="Do not register", exact=True).click()
    expect(row.locator(".done")).to_have_text("Not registered.")
    case.refresh_from_db()
    assert case.state == State.REJECTED

    resident.goto(site.at(f"/t/{ticket}/"))
    expect(resident.locator("#status-h")).to_have_text("Not registered")
    expect(resident.get_by_text("装修噪音不属于城市管理范围，请拨打12345")).to_be_visible()
    expect(resident.get_by_role("button", name="Send my rating")).to_have_count(0)
    shot(resident, "rejected")


def test_a_second_resident_joins_the_open_case_nearby(site, open_page, shot):
    first = open_page("phone")
    first_ticket = report_problem(first, site, description="楼下垃圾堆放三天无人清理")
    case = case_of(first_ticket)

    second = open_page("phone")
    second_ticket = report_problem(
        second, site, description="这里垃圾很多，很臭", join_ticket=first_ticket, offset=(0.0001, 0.0001)
    )
    expect(second.get_by_text(re.compile("your report joined that case"))).to_be_visible()
    shot(second, "joined")
    assert second_ticket != first_ticket
    assert case_of(second_ticket).pk == case.pk
    case.refresh_from_db()
    assert case.reporter_count == 2 and Case.objects.count() == 1

    second.goto(site.at(f"/t/{second_ticket}/"))
    expect(second.get_by_text(case.ticket_no)).to_be_visible()  # "Joined case"
    expect(second.get_by_text("这里垃圾很多，很臭")).to_be_visible()  # his own words, not the first's
    shot(second, "joined-ticket")
