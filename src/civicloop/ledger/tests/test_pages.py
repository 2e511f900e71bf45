"""The /ledger/ pages through the HTTP client: who may open what, upload → preview →
confirm → result, the error report, the template, and the case list's export button."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from civicloop.cases.models import Case, State
from civicloop.ledger import actions
from civicloop.ledger.columns import headers
from civicloop.ledger.models import ImportBatch
from civicloop.testing import Loop

from .helpers import csv_bytes, good_row, read_xlsx, xlsx

pytestmark = pytest.mark.django_db


def login(city, key: str) -> Client:
    client = Client()
    client.force_login(city.users[key])
    return client


def send(client: Client, data: bytes, name: str = "台账.xlsx", **extra):
    return client.post(
        reverse("ledger:import"), {"file": SimpleUploadedFile(name, data), "crs": "wgs84", **extra}
    )


def text(response) -> str:
    return response.content.decode()


# ---- who may open what --------------------------------------------------------------------------------

STAFF_PAGES = ("ledger:home", "ledger:template")
IMPORT_PAGES = ("ledger:import",)


@pytest.mark.parametrize("name", STAFF_PAGES + IMPORT_PAGES)
def test_anonymous_visitors_are_sent_to_the_login(city, name):
    response = Client().get(reverse(name))
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))


@pytest.mark.parametrize("key", ["resident", "outsider"])
@pytest.mark.parametrize("name", STAFF_PAGES + IMPORT_PAGES)
def test_residents_and_people_without_a_role_are_refused(city, key, name):
    assert login(city, key).get(reverse(name)).status_code == 403


@pytest.mark.parametrize(
    "key",
    ["leader", "campaign_office", "unit_staff", "grid_worker", "inspector", "dispatcher", "admin"],
)
def test_every_staff_role_exports(city, key):
    client = login(city, key)
    assert client.get(reverse("ledger:home")).status_code == 200
    assert client.get(reverse("ledger:template")).status_code == 200


@pytest.mark.parametrize(
    ("key", "status"),
    [("dispatcher", 200), ("admin", 200), ("leader", 403), ("unit_staff", 403), ("inspector", 403)],
)
def test_only_dispatchers_and_admins_import(city, key, status):
    client = login(city, key)
    assert client.get(reverse("ledger:import")).status_code == status
    if status == 403:
        assert send(client, xlsx([good_row()])).status_code == 403
        assert not ImportBatch.objects.exists()


def test_the_navigation_entry_works(city):
    html = text(login(city, "leader").get(reverse("web:overview")))
    assert f'href="{reverse("ledger:home")}"' in html


# ---- import -----------------------------------------------------------------------------------------


def test_upload_preview_confirm_result(city, django_capture_on_commit_callbacks):
    client = login(city, "dispatcher")
    response = send(client, xlsx([good_row("P-1"), good_row("P-2")]), name="三月台账.xlsx")
    batch = ImportBatch.objects.get()
    preview_url = reverse("ledger:import_preview", kwargs={"batch_id": batch.pk})
    assert response.status_code == 302 and response["Location"] == preview_url
    preview = text(client.get(preview_url))
    assert (
        "三月台账.xlsx" in preview
        and "Confirm the import" in preview
        and "Import 2 cases?" in preview
    )
    assert Case.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("ledger:import_confirm", kwargs={"batch_id": batch.pk}))
    assert response.status_code == 302 and Case.objects.count() == 2
    result = text(client.get(preview_url))
    assert "2 cases were imported" in result and "Confirm the import" not in result
    # Confirming again changes nothing.
    assert (
        client.post(reverse("ledger:import_confirm", kwargs={"batch_id": batch.pk})).status_code
        == 400
    )
    assert Case.objects.count() == 2


def test_a_file_with_errors_shows_them_and_offers_the_report(city):
    client = login(city, "dispatcher")
    send(client, xlsx([good_row("E-1"), good_row("E-2", 所属社区="不存在社区")]))
    batch = ImportBatch.objects.get()
    preview = text(client.get(reverse("ledger:import_preview", kwargs={"batch_id": batch.pk})))
    assert (
        "Unknown community" in preview
        and "Confirm the import" not in preview
        and "Nothing was imported" in preview
    )
    report = client.get(reverse("ledger:import_errors", kwargs={"batch_id": batch.pk}))
    assert report.status_code == 200 and report["Content-Disposition"].startswith("attachment")
    rows = read_xlsx(b"".join(report.streaming_content))
    assert rows[0][-1] == "错误原因" and "Unknown community" in rows[2][-1]
    assert (
        client.post(reverse("ledger:import_confirm", kwargs={"batch_id": batch.pk})).status_code
        == 400
    )
    assert Case.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"", "empty.xlsx", "The submitted file is empty"),
        (b"\x00\x01binary\x00", "photo.jpg", "not a spreadsheet"),
        (csv_bytes([{"名字": "张三"}]), "a.csv", "lacks these columns"),
    ],
)
def test_unusable_files_are_refused_on_the_form(city, data, name, words):
    response = send(login(city, "dispatcher"), data, name=name)
    assert response.status_code == 400 and words in text(response)
    assert not ImportBatch.objects.exists()


def test_no_file_at_all(city):
    response = login(city, "dispatcher").post(reverse("ledger:import"), {"crs": "wgs84"})
    assert response.status_code == 400 and "Choose a file" in text(response)


def test_a_too_large_upload_is_refused_before_reading(city, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "LEDGER_IMPORT_MAX_BYTES": 100}
    response = send(login(city, "dispatcher"), b"x" * 5000, name="big.csv")
    assert response.status_code == 400 and "at most" in text(response)


def test_someone_elses_import_is_not_found(city):
    batch = actions.ledger_upload(
        data=xlsx([good_row(所属社区="不存在社区")]),
        file_name="a.xlsx",
        by=city.users["dispatcher"],
    )
    other = login(city, "dispatcher_b")
    assert (
        other.get(reverse("ledger:import_preview", kwargs={"batch_id": batch.pk})).status_code
        == 404
    )
    assert (
        other.get(reverse("ledger:import_errors", kwargs={"batch_id": batch.pk})).status_code == 404
    )
    assert (
        other.post(reverse("ledger:import_confirm", kwargs={"batch_id": batch.pk})).status_code
        == 404
    )


def test_an_imported_case_shows_where_it_came_from_on_its_page(city):
    checked = actions.ledger_check(
        data=xlsx([good_row("20260302-000777")]), by=city.users["dispatcher"]
    )
    actions.import_rows(checked.prepared, by=city.users["dispatcher"], file_name="三月台账.xlsx")
    case = Case.objects.get()
    page = text(login(city, "dispatcher").get(reverse("web:case", kwargs={"case_id": case.pk})))
    assert "Imported from a ledger" in page and "三月台账.xlsx" in page
    assert (
        Client().get(reverse("web:ticket_detail", kwargs={"ticket_no": case.ticket_no})).status_code
        == 200
    )


# ---- the template and the case list's button -----------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_the_template_has_the_headers_and_an_example_row_that_passes_the_check(city, lang):
    response = login(city, "dispatcher").get(
        reverse("ledger:template"), {"lang": lang} if lang == "en" else {}
    )
    data = b"".join(response.streaming_content)
    rows = read_xlsx(data)
    assert rows[0] == tuple(headers(lang)) and len(rows) == 2
    assert len(read_xlsx(data, sheet=1)) > 20  # the sheet explaining each column
    checked = actions.ledger_check(data=data, by=city.users["dispatcher"])
    assert checked.ok, [(e.column, e.message) for e in checked.errors]


def test_the_case_list_offers_an_export_of_its_filters(city):
    Loop(city).to(State.CLOSED)
    html = text(
        login(city, "leader").get(reverse("web:cases"), {"state": "closed", "sort": "reported"})
    )
    assert f'action="{reverse("ledger:export_create")}"' in html
    assert 'name="querystring" value="state=closed&amp;sort=reported"' in html
