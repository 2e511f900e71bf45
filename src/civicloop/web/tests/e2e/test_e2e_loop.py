"""The closed loop through the pages, each person in their own browser: a resident on a
phone, the dispatcher at a desk, unit staff and the grid worker on their phones; and the
rework when the on-site check finds it not fixed."""

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
    report_handled,
    report_problem,
    verify_on_case_page,
    verify_on_grid_page,
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

    # The grid worker checks on the spot, from his page: fixed.
    grid = open_page("phone")
    log_in(grid, "grid_worker")
    expect(grid).to_have_url(site.at("/grid/"))
    shot(grid, "to-check")
    verify_on_grid_page(grid, site, case.pk, fixed=True)
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


def test_rework_after_a_failed_check(site, open_page, log_in, shot, tmp_path):
    resident = open_page("phone")
    ticket = report_problem(resident, site)
    case = case_of(ticket)
    dispatcher = open_page("desktop")
    log_in(dispatcher, "dispatcher")
    register_and_dispatch(dispatcher, site, case.pk, unit=SANITATION)

    staff = open_page("phone")
    log_in(staff, "unit_staff")
    accept_and_report_handled(staff, site, case.pk, note="已清理", photo=jpeg_file(tmp_path, "after1.jpg", (90, 90, 90)))

    grid = open_page("phone")
    log_in(grid, "grid_worker")
    grid.goto(site.at("/grid/"))
    card = grid.locator(f"#case-{case.pk}")
    # "Not fixed" needs a note: refused inline, nothing recorded.
    card.get_by_role("radio", name="Not fixed", exact=True).check()
    card.get_by_role("button", name="Record the check").click()
    expect(card.get_by_role("alert").or_(card.locator(".errorlist")).first).to_be_visible()
    case.refresh_from_db()
    assert case.state == State.HANDLED
    verify_on_grid_page(grid, site, case.pk, fixed=False, note="墙角还有两袋垃圾")
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS and case.rework_count == 1

    # The unit sees the rework with the grid worker's finding, and fixes it again.
    staff.goto(site.at("/tasks/"))
    card = staff.locator(f"#case-{case.pk}")
    expect(card).to_contain_text("墙角还有两袋垃圾")
    expect(card).to_contain_text("Rework")
    shot(staff, "rework")
    report_handled(staff, case.pk, note="剩余垃圾已清走", photo=jpeg_file(tmp_path, "after2.jpg", (40, 160, 80)))
    case.refresh_from_db()
    assert case.state == State.HANDLED

    # This time he checks from the case page (a link in his notice).
    verify_on_case_page(grid, site, case.pk, fixed=True)
    case.refresh_from_db()
    assert case.state == State.CLOSED and case.rework_count == 1

    resident.goto(site.at(f"/t/{ticket}/"))
    expect(resident.locator("#status-h")).to_have_text("Closed")
    shot(resident, "closed-after-rework")
