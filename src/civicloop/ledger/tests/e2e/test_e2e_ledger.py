"""The ledger pages in a real browser: they fit a phone, the export page follows a job
running in the background until its download appears, and an upload is checked, previewed
and confirmed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from civicloop.cases.models import Case, State
from civicloop.ledger import actions, services
from civicloop.ledger.models import ExportJob
from civicloop.ledger.tests.helpers import good_row, xlsx
from civicloop.testing import Loop
from civicloop.web.tests.e2e.helpers import NO_SIDEWAYS_SCROLL, UNLABELLED

pytestmark = pytest.mark.e2e


def fits(page) -> None:
    assert page.evaluate(UNLABELLED) == []
    assert page.evaluate(NO_SIDEWAYS_SCROLL)


def test_ledger_pages_fit_a_phone(site, open_page, log_in, shot):
    city = site.city
    bad = actions.ledger_upload(
        data=xlsx([good_row("A-1"), good_row("A-2", 所属社区="不存在社区")]),
        file_name="三月台账.xlsx",
        by=city.users["dispatcher"],
    )
    job = ExportJob.objects.create(
        owner=city.users["dispatcher"],
        status=ExportJob.Status.FAILED,
        error="测试",
        expires_at=timezone.now() + dt.timedelta(days=1),
    )
    page = open_page("phone")
    log_in(page, "dispatcher")
    for path, name in (
        ("/ledger/", "home"),
        ("/ledger/import/", "import"),
        (f"/ledger/import/{bad.pk}/", "errors"),
        (f"/ledger/exports/{job.pk}/", "export"),
    ):
        response = page.goto(site.at(path))
        assert response is not None and response.status == 200, path
        fits(page)
        shot(page, name)


def test_the_export_page_follows_the_job_until_the_download_appears(site, open_page, log_in, shot):
    Loop(site.city, t0=timezone.now() - dt.timedelta(days=2)).to(State.CLOSED)
    job = ExportJob.objects.create(
        owner=site.city.users["leader"],
        querystring="state=closed",
        expires_at=timezone.now() + dt.timedelta(days=1),
    )
    page = open_page("desktop")
    log_in(page, "leader")
    page.goto(site.at(f"/ledger/exports/{job.pk}/"))
    assert page.get_by_text("Queued").is_visible()
    assert services.export_run(job_id=job.pk) == ExportJob.Status.DONE  # the worker, meanwhile
    link = page.get_by_role("link", name="Download")
    link.wait_for(state="visible")  # htmx polled the row until the job was done
    assert page.get_by_text("1 row").is_visible()
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.endswith(".xlsx")
    shot(page, "done")


def test_upload_check_and_confirm_in_the_browser(site, open_page, log_in, shot, tmp_path):
    path = tmp_path / "三月台账.xlsx"
    path.write_bytes(xlsx([good_row("B-1"), good_row("B-2")]))
    page = open_page("phone")
    log_in(page, "dispatcher")
    page.goto(site.at("/ledger/import/"))
    page.get_by_label("Ledger file (.xlsx or .csv)").set_input_files(str(path))
    with page.expect_navigation():
        page.get_by_role("button", name="Upload and check").click()
    assert page.get_by_text("Import 2 cases?").is_visible()
    shot(page, "preview")
    with page.expect_navigation():
        page.get_by_role("button", name="Confirm the import").click()
    assert page.get_by_text("2 cases were imported").is_visible()
    assert set(Case.objects.values_list("ticket_no", flat=True)) == {"B-1", "B-2"}
    shot(page, "imported")
