"""The closed loop through the pages, each person in their own browser: a resident on a
phone, the dispatcher at a desk, unit staff and the grid worker on their phones."""

from __future__ import annotations

from playwright.sync_api import expect

from civicloop.cases.models import Rating, State

from .helpers import (
    SANITATION,
    accept_and_report_handled,
    case_of,
    image_loaded,
    jpeg_file,
    register_and_dispatch,
    report_problem,
    verify_on_case_page,
)


def test_the_whole_loop_across_four_roles(site, open_page, log_in, shot, tmp_path):
    # A resident reports on his phone.
    resident = open_page("phone")
    ticket = report_problem(resident, site, photo=jpeg_file(tmp_path, "before.jpg"))
    case = case_of(ticket)
    assert case.state == State.REPORTED

    # The dispatcher registers and dispatches it from the intake queue.
    dispatcher = open_page("desktop")
    log_in(dispatcher, "dispatcher")
    expect(dispatcher).to_have_url(site.at("/dispatch/"))
    shot(dispatcher, "queue")
    register_and_dispatch(dispatcher, site, case.pk, unit=SANITATION)
    case.refresh_from_db()
    assert case.state == State.DISPATCHED and case.unit == site.city.units["hwc"]
    shot(dispatcher, "dispatched")

    # Unit staff accept it and report it handled, with a photo of the result.
    staff = open_page("phone")
    log_in(staff, "unit_staff")
    expect(staff).to_have_url(site.at("/tasks/"))
    shot(staff, "tasks")
    accept_and_report_handled(staff, site, case.pk, note="已清运完毕", photo=jpeg_file(tmp_path, "after.jpg", (40, 160, 80)))
    case.refresh_from_db()
    assert case.state == State.HANDLED
    assert case.photos.count() == 2

    # The grid worker follows the link to the case (as from his notice) and checks on the
    # spot: fixed. (Checking from /grid/ is in test_e2e_grid_page.py.)
    grid = open_page("phone")
    log_in(grid, "grid_worker", next=f"/cases/{case.pk}/")
    expect(grid).to_have_url(site.at(f"/cases/{case.pk}/"))
    expect(grid.get_by_role("img", name="Photo after handling").first).to_be_visible()
    shot(grid, "to-check")
    verify_on_case_page(grid, site, case.pk, fixed=True)
    case.refresh_from_db()
    assert case.state == State.CLOSED

    # The resident sees it closed, with before and after, and rates it.
    resident.goto(site.at(f"/t/{ticket}/"))
    expect(resident.locator("#status-h")).to_have_text("Closed")
    after = resident.get_by_role("img", name="Photo after handling")
    after.scroll_into_view_if_needed()
    resident.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=after.element_handle())
    assert image_loaded(resident, after)
    expect(resident.get_by_text("已清运完毕")).to_be_visible()  # the unit's note, in the progress
    resident.get_by_role("radio", name="Satisfied", exact=True).check()
    resident.get_by_label("Comment (optional)").fill("很快，谢谢")
    with resident.expect_navigation():
        resident.get_by_role("button", name="Send my rating").click()
    expect(resident.get_by_role("status")).to_contain_text("Your rating was recorded")
    shot(resident, "closed-and-rated")
    case.refresh_from_db()
    assert case.rating == Rating.SATISFIED
