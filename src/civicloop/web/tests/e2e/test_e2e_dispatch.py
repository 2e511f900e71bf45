"""The dispatcher's queue in a browser: htmx row actions, inline errors, tab counts."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from playwright.sync_api import expect

from civicloop.cases.models import Case, State
from civicloop.testing import Loop


def test_queue_register_reject_error_and_batch(site, open_page, log_in, shot):
    loop = Loop(site.city, t0=timezone.now() - dt.timedelta(hours=2))
    a, b, c = loop.to(State.REPORTED), loop.to(State.REPORTED), loop.to(State.REPORTED)
    late = Loop(site.city).to(State.DISPATCHED)
    for kind in ("desktop", "phone"):
        page = open_page(kind)
        log_in(page, "dispatcher")
        expect(page).to_have_url(site.at("/dispatch/"))
        shot(page, "queue")
    page = open_page("desktop")
    log_in(page, "dispatcher")
    row = page.locator(f"#case-row-{a.pk}")
    row.get_by_role("button", name="Register").click()
    expect(page.locator(f"#case-row-{a.pk} .done")).to_have_text("Registered.")
    expect(page.locator("#queue-tabs a").first).to_contain_text("2")  # tab counts refreshed
    assert Case.objects.get(pk=a.pk).state == State.REGISTERED
    # Reject without reason: inline error (400 swapped), nothing changes
    row = page.locator(f"#case-row-{b.pk}")
    row.get_by_text("Do not register…").click()
    row.get_by_label("Reason").fill("   ")  # the browser itself refuses an empty one
    row.get_by_role("button", name="Do not register").click()
    expect(page.locator(f"#case-row-{b.pk}")).to_contain_text("Please give a reason.")
    assert Case.objects.get(pk=b.pk).state == State.REPORTED
    page.locator(f"#case-row-{b.pk}").get_by_label("Reason").fill("测试")
    page.locator(f"#case-row-{b.pk}").get_by_role("button", name="Do not register").click()
    expect(page.locator(f"#case-row-{b.pk} .done")).to_have_text("Not registered.")
    # Dispatch the registered one inline, one click
    page.locator(f"#case-row-{a.pk}").get_by_role("button", name="Dispatch").click()
    expect(page.locator(f"#case-row-{a.pk} .done")).to_have_text("Dispatched.")
    # Batch: tick all, register
    page.goto(site.at("/dispatch/"))
    page.locator("#pick-all").check()
    page.get_by_role("button", name="Apply to the ticked cases").click()
    expect(page.locator(".batch-results")).to_contain_text("1 of 1 done.")
    assert Case.objects.get(pk=c.pk).state == State.REGISTERED
    # Overdue tab: urge
    page.goto(site.at("/dispatch/?tab=overdue"))
    page.locator(f"#case-row-{late.pk}").get_by_role("button", name="Urge").click()
    expect(page.locator(f"#case-row-{late.pk} .done")).to_have_text("The unit was urged.")
    shot(page, "overdue")
    # Map and cases
    page.goto(site.at("/dispatch/map/"))
    page.wait_for_selector(".leaflet-container")
    page.wait_for_timeout(1500)
    shot(page, "map")
    page.goto(site.at("/cases/?overdue=yes"))
    page.get_by_label("Name this view").fill("超期")
    page.get_by_role("button", name="Save the current filters").click()
    expect(page.get_by_role("link", name="超期")).to_be_visible()
    shot(page, "cases")
