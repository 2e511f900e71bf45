"""Exporting case lists: the same headers as the import, the user's scope, background jobs.

Given cases driven through the real actions, when a staff member exports a filtered
list, then the job writes exactly the cases that user sees, reports its progress, and
only its owner downloads the file; a round trip through an empty city gives the same rows.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from civicloop.cases import actions as A
from civicloop.cases.models import Case, State
from civicloop.core.errors import PermissionRefused
from civicloop.ledger import actions, services
from civicloop.ledger.columns import COLUMNS, headers
from civicloop.ledger.models import ExportJob, ImportBatch
from civicloop.testing import Loop, jpeg_upload

from .helpers import empty_the_city, good_row, read_xlsx, xlsx

pytestmark = pytest.mark.django_db


def login(city, key: str) -> Client:
    client = Client()
    client.force_login(city.users[key])
    return client


def past_loop(city, **kw) -> Loop:
    """A month ago, so that look-backs (a week after closing) are history too."""
    return Loop(city, t0=timezone.now() - dt.timedelta(days=30), **kw)


def export(
    city, who: str = "admin", querystring: str = "", lang: str = "zh-hans", now=None
) -> list[tuple]:
    out = io.BytesIO()
    services.export_file(user=city.users[who], querystring=querystring, lang=lang, out=out, now=now)
    return read_xlsx(out.getvalue())


def tickets(rows: list[tuple]) -> set[str]:
    return {r[0] for r in rows[1:]}


def many_states(city) -> list[Case]:
    loop = past_loop(city)
    cases = [
        loop.to(s)
        for s in (
            State.REPORTED,
            State.REJECTED,
            State.VOIDED,
            State.DISPATCHED,
            State.RETURNED,
            State.IN_PROGRESS,
            State.DEFERRED,
            State.HANDLED,
            State.CLOSED,
            State.LOOKBACK_PASSED,
            State.RECURRED,
        )
    ]
    # A reworked case, rated by its reporter, with text that would run as a formula.
    case = loop.to(State.HANDLED, description='=HYPERLINK("http://evil","点我") 垃圾')
    case = A.case_verify(
        case=case, by=loop.u("grid_worker"), passed=False, note="没清干净", at=loop.tick()
    )
    case = A.case_feedback(
        case=case, by=loop.u("unit_staff"), note="再次清运", photos=[jpeg_upload()], at=loop.tick()
    )
    case = A.case_verify(case=case, by=loop.u("grid_worker"), passed=True, at=loop.tick())
    report = case.reports.first()
    assert report is not None
    case = A.case_rate(case=case, rating="basic", ticket_no=report.ticket_no, at=loop.tick())
    # Another category and unit, and a case in district B.
    cases += [case, loop.to(State.CLOSED, category="C0402"), loop.to(State.CLOSED, grid="g4")]
    return cases


# ---- the round trip ---------------------------------------------------------------------------------


def test_export_then_import_into_an_empty_city_gives_the_same_rows(city):
    many_states(city)
    now = timezone.now()
    first = export(city, now=now)
    assert first[0] == tuple(headers("zh-hans"))
    assert len(first) - 1 == Case.objects.count() == 15  # the recurrence opened one more case

    empty_the_city()
    out = io.BytesIO()
    services.export_file(
        user=city.users["admin"], querystring="", lang="zh-hans", out=out, now=now
    )  # nothing left
    assert len(read_xlsx(out.getvalue())) == 1

    ledger = xlsx([dict(zip(first[0], row, strict=True)) for row in first[1:]])
    batch = actions.ledger_upload(data=ledger, file_name="往返.xlsx", by=city.users["admin"])
    assert batch.status == ImportBatch.Status.READY, batch.summary["first_errors"]
    assert actions.ledger_import(batch=batch, by=city.users["admin"]).cases == 15

    second = export(city, now=now)
    assert sorted(second[1:], key=str) == sorted(first[1:], key=str)


def test_english_headers_and_labels_round_trip_too(city):
    past_loop(city).to(State.CLOSED)
    rows = export(city, lang="en")
    assert rows[0][0] == "Ticket number" and rows[1][rows[0].index("State")] == "Closed"
    empty_the_city()
    ledger = xlsx([dict(zip(rows[0], r, strict=True)) for r in rows[1:]])
    checked = actions.ledger_check(data=ledger, by=city.users["dispatcher"])
    assert checked.ok, [(e.column, e.message) for e in checked.errors]


def test_text_that_would_run_as_a_formula_is_escaped(city):
    past_loop(city).to(State.REPORTED, description="=cmd|' /C calc'!A0")
    rows = export(city)
    description = rows[1][[c.key for c in COLUMNS].index("description")]
    assert description == "'=cmd|' /C calc'!A0"


# ---- scope and filters ----------------------------------------------------------------------------------


def test_a_units_staff_exports_only_its_units_cases(city):
    loop = past_loop(city)
    sanitation = loop.to(State.DISPATCHED)  # E0102 → 市环境卫生管理处
    parks = loop.to(State.DISPATCHED, category="C0402")  # street trees → 市园林局
    elsewhere = loop.to(State.REPORTED, grid="g4")
    assert tickets(export(city, "unit_staff")) == {sanitation.ticket_no}
    assert tickets(export(city, "park_staff")) == {parks.ticket_no}
    assert tickets(export(city, "dispatcher")) == {sanitation.ticket_no, parks.ticket_no}
    assert tickets(export(city, "dispatcher_b")) == {elsewhere.ticket_no}
    for who in ("resident", "outsider"):
        with pytest.raises(PermissionRefused):
            export(city, who)


def test_the_case_list_filters_apply(city):
    loop = past_loop(city)
    closed = loop.to(State.CLOSED)
    loop.to(State.REPORTED)
    assert tickets(export(city, "dispatcher", "state=closed")) == {closed.ticket_no}
    assert tickets(export(city, "dispatcher", f"q={closed.ticket_no}")) == {closed.ticket_no}


# ---- the background job ---------------------------------------------------------------------------------


def test_a_job_from_the_case_list_runs_and_only_its_owner_downloads_it(
    city, django_capture_on_commit_callbacks
):
    loop = past_loop(city)
    closed = loop.to(State.CLOSED)
    loop.to(State.REPORTED)
    client = login(city, "dispatcher")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("ledger:export_create"), {"querystring": "state=closed", "lang": "zh-hans"}
        )
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "ledger:export_detail", kwargs={"job_id": job.pk}
    )
    assert (
        job.status == ExportJob.Status.DONE
        and job.rows_done == job.rows_total == 1
        and job.owner == city.users["dispatcher"]
    )
    download = client.get(reverse("ledger:export_download", kwargs={"job_id": job.pk}))
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    assert tickets(read_xlsx(b"".join(download.streaming_content))) == {closed.ticket_no}

    other = login(city, "leader")
    for name in ("ledger:export_detail", "ledger:export_progress", "ledger:export_download"):
        assert other.get(reverse(name, kwargs={"job_id": job.pk})).status_code == 404
    assert f"export-{job.pk}" not in other.get(reverse("ledger:home")).content.decode()


def test_progress_is_recorded_chunk_by_chunk(city, monkeypatch):
    loop = past_loop(city)
    for _ in range(5):
        loop.to(State.REPORTED)
    seen: list[tuple[int, int | None]] = []
    original = services.export_progress

    def spy(job_id: int, rows_done: int) -> None:
        original(job_id, rows_done)
        job = ExportJob.objects.get(pk=job_id)
        seen.append((job.rows_done, job.rows_total))

    monkeypatch.setattr(services, "EXPORT_CHUNK", 2)
    monkeypatch.setattr(services, "export_progress", spy)
    job = ExportJob.objects.create(
        owner=city.users["dispatcher"], expires_at=timezone.now() + dt.timedelta(days=1)
    )
    assert services.export_run(job_id=job.pk) == ExportJob.Status.DONE
    assert seen == [(2, 5), (4, 5), (5, 5)]
    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE and job.percent == 100 and job.size > 0


def test_the_page_polls_a_running_job_and_stops_when_done(city):
    client = login(city, "dispatcher")
    job = ExportJob.objects.create(
        owner=city.users["dispatcher"],
        status=ExportJob.Status.RUNNING,
        rows_done=5,
        rows_total=10,
        expires_at=timezone.now() + dt.timedelta(days=1),
    )
    url = reverse("ledger:export_progress", kwargs={"job_id": job.pk})
    running = client.get(url).content.decode()
    assert (
        'hx-trigger="every 2s"' in running and 'value="5"' in running and "5 of 10 rows" in running
    )
    assert "/download/" not in running
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.DONE, rows_done=10, file="ledger/exports/x.xlsx"
    )
    done = client.get(url).content.decode()
    assert (
        "hx-trigger" not in done
        and reverse("ledger:export_download", kwargs={"job_id": job.pk}) in done
    )


def test_a_job_runs_once_even_if_two_workers_pick_it(city):
    job = ExportJob.objects.create(
        owner=city.users["dispatcher"], expires_at=timezone.now() + dt.timedelta(days=1)
    )
    assert services.export_run(job_id=job.pk) == ExportJob.Status.DONE
    assert services.export_run(job_id=job.pk) == "skipped"


def test_too_large_an_export_fails_with_a_clear_message(city, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "LEDGER_EXPORT_MAX_ROWS": 1}
    loop = past_loop(city)
    loop.to(State.REPORTED)
    loop.to(State.REPORTED)
    job = ExportJob.objects.create(
        owner=city.users["dispatcher"], expires_at=timezone.now() + dt.timedelta(days=1)
    )
    assert services.export_run(job_id=job.pk) == ExportJob.Status.FAILED
    job.refresh_from_db()
    assert "at most 1" in job.error and not job.file
    page = login(city, "dispatcher").get(reverse("ledger:home")).content.decode()
    assert "at most 1" in page


def test_a_job_of_someone_who_lost_his_role_fails(city):
    job = ExportJob.objects.create(
        owner=city.users["dispatcher"], expires_at=timezone.now() + dt.timedelta(days=1)
    )
    city.users["dispatcher"].roles.all().delete()
    assert services.export_run(job_id=job.pk) == ExportJob.Status.FAILED


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        ({"querystring": "state=nonsense"}, 400, "Some filters are not valid"),
        ({"querystring": "area=999999"}, 400, "Some filters are not valid"),
        ({"querystring": "x" * 1200}, 400, "could not be read"),
    ],
)
def test_bad_export_requests_are_refused_and_queue_nothing(city, data, status, words):
    response = login(city, "dispatcher").post(reverse("ledger:export_create"), data)
    assert response.status_code == status and words in response.content.decode()
    assert not ExportJob.objects.exists()


def test_an_area_outside_my_scope_is_not_a_filter_i_can_use(city):
    response = login(city, "dispatcher").post(
        reverse("ledger:export_create"), {"querystring": f"area={city.areas['dB'].pk}"}
    )
    assert response.status_code == 400 and not ExportJob.objects.exists()


def test_at_most_a_few_exports_at_once(city, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "LEDGER_MAX_ACTIVE_EXPORTS": 2}
    client = login(city, "dispatcher")
    for _ in range(2):
        assert (
            client.post(reverse("ledger:export_create"), {}).status_code == 302
        )  # queued; no worker in this test
    response = client.post(reverse("ledger:export_create"), {})
    assert response.status_code == 400 and "2 exports under way" in response.content.decode()


# ---- pruning ----------------------------------------------------------------------------------------------


def test_prune_deletes_expired_files_and_jobs_and_keeps_the_rest(city):
    from django.core.files.base import ContentFile

    now = timezone.now()
    owner = city.users["dispatcher"]
    old = ExportJob.objects.create(
        owner=owner, status=ExportJob.Status.DONE, expires_at=now - dt.timedelta(minutes=1)
    )
    old.file.save("x.xlsx", ContentFile(b"old"), save=True)
    fresh = ExportJob.objects.create(
        owner=owner, status=ExportJob.Status.DONE, expires_at=now + dt.timedelta(days=1)
    )
    fresh.file.save("y.xlsx", ContentFile(b"fresh"), save=True)
    storage, old_name = old.file.storage, old.file.name
    batch = actions.ledger_upload(
        data=xlsx([good_row(问题分类="外星人入侵")]), file_name="a.xlsx", by=owner
    )
    ImportBatch.objects.filter(pk=batch.pk).update(expires_at=now - dt.timedelta(minutes=1))
    upload_name, report_name = batch.file.name, batch.error_report.name

    assert services.exports_prune(now=now) == 2
    assert not ExportJob.objects.filter(pk=old.pk).exists() and not storage.exists(old_name)
    assert ExportJob.objects.filter(pk=fresh.pk).exists() and storage.exists(fresh.file.name)
    batch.refresh_from_db()
    assert (
        not batch.file
        and not batch.error_report
        and not storage.exists(upload_name)
        and not storage.exists(report_name)
    )
    assert services.exports_prune(now=now) == 0  # nothing left to do


def test_prune_is_the_periodic_job_named_in_settings(settings):
    from django.utils.module_loading import import_string

    assert import_string("civicloop.ledger.services.exports_prune") is services.exports_prune
    assert "civicloop.ledger.services.exports_prune" in settings.CIVICLOOP["PERIODIC_JOBS"]
