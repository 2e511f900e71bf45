"""The inspector's phone pages, the submission endpoint (JSON), visit photos, the service worker
and the import of ODK/KoboCollect exports: who gets what, and every bad request."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from civicloop.inspections import visits
from civicloop.inspections.models import Finding, RoundKind, RoundStatus, Visit, VisitPhoto

from .round_helpers import advance, make_inspector, make_round, site_point
from .visit_helpers import (
    answer,
    checks_for,
    export,
    items_of,
    jpeg,
    location_of,
    lookback_of,
    photos_for,
    round_with_findings,
    submit,
)

pytestmark = pytest.mark.django_db


def client_for(city, who: str | None, **defaults) -> Client:
    client = Client(**defaults)
    if who:
        client.force_login(city.users[who])
    return client


@pytest.fixture
def active(city):
    return make_round(city, status=RoundStatus.ACTIVE)


def home_url() -> str:
    return reverse("inspections:inspect_home")


def page_url(location) -> str:
    return reverse("inspections:inspect_location", kwargs={"location_id": location.pk})


def submit_url(location) -> str:
    return reverse("inspections:inspect_submit", kwargs={"location_id": location.pk})


def answers(location, *, draft=None, found=None, photos=(), **extra) -> dict:
    lat, lon = site_point(location.site)
    body = {
        "client_uuid": str(draft or uuid.uuid4()),
        "checks": [
            {
                "item_id": c.item_id,
                "occurrences": c.occurrences,
                "veto_hit": c.veto_hit,
                "not_applicable": c.not_applicable,
                "note": c.note,
                "description": c.description,
            }
            for c in checks_for(location, **(found or {}))
        ],  # fmt: skip
        "rechecks": [],
        "photos": list(photos),
        "lat": lat,
        "lon": lon,
        "accuracy_m": 6.5,
        "recorded_at": "2026-11-17T12:00:00+08:00",
        "started_at": "2026-11-17T11:40:00+08:00",
        "note": "",
    }
    body.update(extra)
    return body


def post(client: Client, location, body, files=None, **headers):
    data = {"answers": body if isinstance(body, str) else json.dumps(body)}
    data.update(files or {})
    return client.post(submit_url(location), data, **headers)


# ---- /inspect/ -------------------------------------------------------------------------------------


def test_the_inspector_sees_his_locations_still_to_inspect_first(city, active):
    done = location_of(active, "c1_old", city)
    submit(done, city.users["inspector"], lat=None, lon=None)
    response = client_for(city, "inspector").get(home_url())
    assert response.status_code == 200
    rows = response.context["rows"]
    assert len(rows) == active.locations.count() == 5
    assert [r["visit"] is None for r in rows] == [True, True, True, True, False]
    assert rows[-1]["location"] == done
    html = response.content.decode()
    for location in active.locations.select_related("site"):
        assert location.site.name in html and page_url(location) in html
    assert visits.location_code(done) in html and "geo:" in html
    assert "no GPS" in html
    assert response.context["pending"] == 4
    assert 'id="inspect-config"' in html and 'id="draft-list"' in html


def test_the_list_costs_the_same_queries_however_many_locations(city, active):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(city, "inspector")
    submit(location_of(active, "c1_old", city), city.users["inspector"])
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(home_url()).context["rows"]) == 5
    make_round(city, status=RoundStatus.ACTIVE, name="第二轮")
    with CaptureQueriesContext(connection) as more:
        assert len(client.get(home_url()).context["rows"]) == 10
    assert len(more.captured_queries) == len(few.captured_queries)


@pytest.mark.parametrize("who", ["unit_staff", "community_staff", "campaign_office", "inspector2"])
def test_others_see_no_location_on_the_inspectors_list(city, active, who):
    if who == "inspector2":
        make_inspector(city, "inspector2")
    response = client_for(city, who).get(home_url())
    assert response.status_code == 200
    assert response.context["rows"] == []
    assert "幸福里小区" not in response.content.decode()


def test_anonymous_visitors_are_sent_to_log_in(city, active):
    location = location_of(active, "c1_old", city)
    for url in (home_url(), page_url(location)):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


# ---- /inspect/<location>/ --------------------------------------------------------------------------------


def test_the_location_page_shows_every_item_with_its_controls(city, active):
    location = location_of(active, "c1_old", city)
    response = client_for(city, "inspector").get(page_url(location))
    assert response.status_code == 200
    html = response.content.decode()
    items = items_of(location)
    for item in items.values():
        assert f'id="item-{item.pk}"' in html and item.content in html
    assert html.count('data-field="occurrences"') == 4  # the per-occurrence and fixed items
    assert html.count('data-field="veto_hit"') == 2
    assert html.count('data-field="not_applicable"') == 6
    assert html.count('capture="environment"') == 6
    assert 'id="site-map"' in html and "inspections/inspect.js" in html
    config = json.loads(
        html.split('<script id="inspect-config" type="application/json">')[1].split("</script>")[0]
    )
    assert config["location"] == location.pk and config["lookback"] is False
    assert config["off_site_metres"] == 100 and config["geometry"]["type"] == "Polygon"
    assert [i["id"] for i in config["items"]] == [i.pk for i in items.values()]
    assert config["items"][0] == {
        "id": items["s1_i1"].pk, "section": 1, "label": "1.1", "points": "10.00", "deduction": "2.00",
        "rule": "per_occurrence", "veto_scope": "", "photos_required": 1,
    }  # fmt: skip
    assert config["submit_url_pattern"].replace("{id}", str(location.pk)) == submit_url(location)
    assert "10 points; 2 off for each place found." in html
    assert "Veto: the whole location scores zero when found." in html


def test_an_inspected_location_shows_its_result_instead_of_the_form(city, active):
    location = location_of(active, "c1_old", city)
    lat, lon = site_point(location.site)
    submit(location, city.users["inspector"], lat=lat + 0.01, lon=lon)
    html = client_for(city, "inspector").get(page_url(location)).content.decode()
    assert 'id="inspect-form"' not in html
    assert "Score 100.00." in html and "away from the site" in html


@pytest.mark.parametrize(
    "who", ["unit_staff", "community_staff", "campaign_office", "leader", "inspector2"]
)
def test_a_location_page_is_the_assigned_inspectors_only(city, active, who):
    if who == "inspector2":
        make_inspector(city, "inspector2")
    location = location_of(active, "c1_old", city)
    assert client_for(city, who).get(page_url(location)).status_code == 404


def test_a_location_of_a_round_no_longer_inspected_is_gone(city, active):
    location = location_of(active, "c1_old", city)
    advance(city, active, RoundStatus.CLOSED)
    assert client_for(city, "inspector").get(page_url(location)).status_code == 404
    assert (
        client_for(city, "inspector")
        .get(reverse("inspections:inspect_location", kwargs={"location_id": 999999}))
        .status_code
        == 404
    )


def test_a_lookback_page_shows_the_earlier_findings_to_recheck(city):
    earlier, _location = round_with_findings(city)
    rnd, location = lookback_of(city, earlier)
    response = client_for(city, "inspector").get(page_url(location))
    assert response.status_code == 200
    html = response.content.decode()
    findings = list(visits.earlier_findings(location))
    assert len(findings) == 2
    for finding in findings:
        assert f'id="finding-{finding.pk}"' in html and finding.description in html
    assert html.count("Still fixed") == 2 and html.count("Recurred") == 2
    assert 'data-field="occurrences"' not in html
    photo = VisitPhoto.objects.get(finding=findings[0])
    assert reverse("inspections:visit_photo", kwargs={"photo_id": photo.pk}) in html
    config = response.context["client"]
    assert config["lookback"] is True and config["items"] == []
    assert [f["id"] for f in config["findings"]] == [f.pk for f in findings]


# ---- submitting --------------------------------------------------------------------------------------------


def test_a_submission_is_recorded_and_answered_with_the_score(city, active):
    location = location_of(active, "c1_old", city)
    items = items_of(location)
    client = client_for(city, "inspector")
    body = answers(
        location,
        found={"s1_i1": {"occurrences": 2, "description": "楼道堆物"}},
        photos=[{"field": "photo_0", "item_id": items["s1_i1"].pk}, {"field": "photo_1"}],
    )
    response = post(client, location, body, {"photo_0": jpeg("a.jpg"), "photo_1": jpeg("b.jpg")})
    assert response.status_code == 201, response.content
    visit = Visit.objects.get()
    assert response.json() == {
        "status": "created", "visit": visit.pk, "location": location.pk, "score": "86.67", "off_site": False, "distance_m": 0.0,
    }  # fmt: skip
    assert str(visit.client_uuid) == body["client_uuid"] and visit.accuracy_m == 6.5
    assert visit.findings.get().description == "楼道堆物"
    assert visit.photos.count() == 2 and visit.photos.filter(finding__isnull=False).count() == 1

    again = post(client, location, body, {"photo_0": jpeg("a.jpg"), "photo_1": jpeg("b.jpg")})
    assert again.status_code == 200
    assert again.json()["status"] == "repeated" and again.json()["visit"] == visit.pk
    assert Visit.objects.count() == 1 and VisitPhoto.objects.count() == 2


def test_a_submission_far_away_is_flagged(city, active):
    location = location_of(active, "c1_old", city)
    lat, lon = site_point(location.site)
    response = post(
        client_for(city, "inspector"), location, answers(location, lat=lat + 0.01, lon=lon)
    )
    assert response.status_code == 201
    assert response.json()["off_site"] is True and response.json()["distance_m"] > 1000


def test_a_lookback_submission(city):
    earlier, _location = round_with_findings(city)
    rnd, location = lookback_of(city, earlier)
    findings = list(visits.earlier_findings(location))
    body = answers(
        location,
        rechecks=[
            {"finding_id": findings[0].pk, "recurred": False},
            {"finding_id": findings[1].pk, "recurred": True},
        ],
    )
    body["checks"] = []
    response = post(client_for(city, "inspector"), location, body)
    assert response.status_code == 201, response.content
    assert response.json()["score"] is None
    assert Finding.objects.get(recurrence_of__isnull=False).recurrence_of == findings[1]


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (lambda b: "{not json", "answers", "not JSON"),
        (lambda b: "[1, 2]", "answers", "not an object"),
        (lambda b: "", "answers", "no answers"),
        (lambda b: {**b, "checks": "all fine"}, "answers", "checks"),
        (lambda b: {**b, "checks": [1, 2]}, "answers", "checks"),
        (lambda b: {**b, "rechecks": {"a": 1}}, "answers", "rechecks"),
        (lambda b: {**b, "photos": [{"field": "photo_9"}]}, "photos", "was not sent"),
        (
            lambda b: {**b, "photos": [{"field": "photo_0"}, {"field": "photo_0"}]},
            "photos",
            "was not sent",
        ),
        (lambda b: {**b, "client_uuid": None}, "client_uuid", "not a UUID"),
        (lambda b: {**b, "checks": b["checks"][1:]}, "checks", "not checked"),
        (
            lambda b: {
                **b,
                "checks": [{**b["checks"][0], "occurrences": "many"}, *b["checks"][1:]],
            },
            None,
            "from 0 to 999",
        ),
        (
            lambda b: {**b, "checks": [{**b["checks"][0], "item_id": "x"}, *b["checks"][1:]]},
            "checks",
            "whole number",
        ),
        (lambda b: {**b, "lat": 95}, "lat", "between -90 and 90"),
        (lambda b: {**b, "lon": None}, "lon", "both latitude and longitude"),
        (lambda b: {**b, "crs": "bd09"}, "crs", "Unknown coordinate system"),
        (lambda b: {**b, "recorded_at": "soon"}, "recorded_at", "not a date and time"),
        (
            lambda b: {**b, "checks": [{**b["checks"][0], "occurrences": 1}, *b["checks"][1:]]},
            None,
            "needs 1 photo",
        ),
    ],
)
def test_bad_submissions_are_refused_in_json_and_nothing_is_written(
    city, active, mutate, field, message
):
    location = location_of(active, "c1_old", city)
    body = mutate(answers(location))
    response = post(client_for(city, "inspector"), location, body, {"photo_0": jpeg()})
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == "invalid" and message in error["message"]
    if field is not None:
        assert error["field"] == field
    else:
        assert error["field"].startswith("item_")
    assert not Visit.objects.exists() and not VisitPhoto.objects.exists()


def test_a_photo_that_is_not_one_is_refused_in_the_users_language(city, active):
    location = location_of(active, "c1_old", city)
    body = answers(location, photos=[{"field": "photo_0"}])
    client = client_for(city, "inspector", HTTP_ACCEPT_LANGUAGE="zh-hans")
    response = post(
        client, location, body, {"photo_0": SimpleUploadedFile("plan.pdf", b"%PDF-1.4")}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "bad_file" and response.json()["field"] == "photos"
    assert "不是照片" in response.json()["message"]
    assert not Visit.objects.exists()


def test_submissions_answer_404_409_and_401_as_the_case_may_be(city, active):
    location = location_of(active, "c1_old", city)
    make_inspector(city, "inspector2")
    # Not his: the same answer as a location that does not exist.
    for who in ("inspector2", "unit_staff", "campaign_office"):
        response = post(client_for(city, who), location, answers(location))
        assert response.status_code in (403, 404), who
        assert response.json()["code"] in ("not_found", "forbidden")
    missing = type(location)(pk=999999)
    response = post(client_for(city, "inspector"), missing, answers(location))
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    response = post(Client(), location, answers(location))
    assert response.status_code == 401 and response.json()["code"] == "not_logged_in"
    assert not Visit.objects.exists()
    # Inspected already, from another draft: a conflict.
    client = client_for(city, "inspector")
    assert post(client, location, answers(location)).status_code == 201
    response = post(client, location, answers(location))
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    # The same draft id for another location.
    draft = Visit.objects.get().client_uuid
    other = location_of(active, "c2_old", city)
    response = post(client, other, answers(other, draft=draft))
    assert response.status_code == 409 and response.json()["field"] == "client_uuid"
    assert Visit.objects.count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"answers": "garbage"},
        {"answers": "[" * 200_000},
        {"answers": json.dumps({"client_uuid": "not a uuid", "checks": 7})},
    ],
)
def test_a_location_of_a_round_one_may_not_know_of_answers_as_one_that_does_not_exist(city, data):
    """Before the body is read: probing ids with any body tells nothing about hidden rounds."""
    hidden = make_round(city, status=RoundStatus.DRAFT)  # undercover, not started
    location = location_of(hidden, "c1_old", city)
    missing = type(location)(pk=999999)
    client = client_for(city, "unit_staff", HTTP_ACCEPT_LANGUAGE="zh-hans")
    there = client.post(submit_url(location), data)
    nowhere = client.post(submit_url(missing), data)
    assert there.status_code == nowhere.status_code == 404
    assert there.content == nowhere.content
    assert there.json() == {
        "code": "not_found",
        "message": nowhere.json()["message"],
        "field": None,
    }
    assert not Visit.objects.exists()


def test_answers_nested_too_deeply_or_too_long_are_refused_in_the_users_language(city, active):
    location = location_of(active, "c1_old", city)
    client = client_for(city, "inspector", HTTP_ACCEPT_LANGUAGE="zh-hans")
    for nested in ("[" * 5_000, "[" * 200_000, '{"checks": ' + "[" * 50_000 + "]" * 50_000 + "}"):
        response = post(client, location, nested)
        assert response.status_code == 400
        assert response.json() == {
            "code": "invalid",
            "message": "无法读取答卷（不是 JSON）。",
            "field": "answers",
        }
    # A well-formed body, only far longer than any visit's answers: refused before parsing.
    body = answers(location, note="x" * 200_001)
    response = post(client_for(city, "inspector"), location, body)
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "invalid" and error["field"] == "answers"
    assert error["message"].startswith("The answers are too long")
    assert not Visit.objects.exists()
    # Long notes within the limit still pass on to the checks of the visit.
    response = post(client_for(city, "inspector"), location, answers(location, note="x" * 3_000))
    assert response.status_code == 201, response.content


def test_the_campaign_office_gets_403_not_404_for_a_round_it_owns(city, active):
    location = location_of(active, "c1_old", city)
    response = post(client_for(city, "campaign_office"), location, answers(location))
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


def test_a_closed_round_refuses_new_visits(city, active):
    location = location_of(active, "c1_old", city)
    advance(city, active, RoundStatus.CLOSED)
    response = post(client_for(city, "inspector"), location, answers(location))
    assert response.status_code == 400 and response.json()["code"] == "illegal_transition"


def test_the_submission_needs_the_csrf_token_and_post(city, active):
    location = location_of(active, "c1_old", city)
    client = Client(enforce_csrf_checks=True)
    client.force_login(city.users["inspector"])
    assert post(client, location, answers(location)).status_code == 403
    client.get(page_url(location))  # sets the CSRF cookie, as the page does
    token = client.cookies["csrftoken"].value
    assert post(client, location, answers(location), HTTP_X_CSRFTOKEN=token).status_code == 201
    assert client_for(city, "inspector").get(submit_url(location)).status_code == 405


# ---- photos ---------------------------------------------------------------------------------------------------


def test_visit_photos_are_served_to_those_who_may_see_the_results(city, active):
    location = location_of(active, "c1_old", city)
    items = items_of(location)
    visit = submit(
        location,
        city.users["inspector"],
        checks=checks_for(location, s1_i1={"occurrences": 1}),
        photos=photos_for(items["s1_i1"]),
    )
    url = reverse("inspections:visit_photo", kwargs={"photo_id": visit.photos.get().pk})
    for who in ("inspector", "campaign_office"):
        response = client_for(city, who).get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg", who
        assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
        # Never kept by the browser: the next person on a shared phone must not find it.
        assert response["Cache-Control"] == "private, no-store"
    for who in ("unit_staff", "community_staff", "dispatcher", "outsider", None):
        assert client_for(city, who).get(url).status_code == 404, who
    assert (
        client_for(city, "inspector")
        .get(reverse("inspections:visit_photo", kwargs={"photo_id": 999999}))
        .status_code
        == 404
    )
    # Once published, the readers of the round see them too.
    advance(city, active, RoundStatus.PUBLISHED)
    assert client_for(city, "dispatcher").get(url).status_code == 200
    assert client_for(city, "outsider").get(url).status_code == 404


def test_the_service_worker_is_served_from_inspect_with_the_assets_it_keeps(city):
    response = Client().get(reverse("inspections:inspect_sw"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/inspect/"
    assert reverse("inspections:inspect_sw") == "/inspect/sw.js"
    body = response.content.decode()
    assert (
        '"/static/inspections/inspect.js"' in body and '"/static/vendor/leaflet/leaflet.js"' in body
    )
    assert 'var SCOPE = "/inspect/"' in body
    # The copy only when the network fails, never because it is slow; one user's pages only.
    assert "setTimeout" not in body and "Promise.race" not in body
    assert '"X-Inspect-User"' in body


def test_the_pages_name_their_user_for_the_service_worker(city, active):
    location = location_of(active, "c1_old", city)
    client = client_for(city, "inspector")
    user = str(city.users["inspector"].pk)
    for url in (home_url(), page_url(location)):
        response = client.get(url)
        assert response.status_code == 200 and response["X-Inspect-User"] == user, url
        config = response.context["client"]
        assert config["user"] == city.users["inspector"].pk
        assert config["logout_url"] == reverse("web:logout")
    assert "X-Inspect-User" not in Client().get(home_url())  # sent to log in


# ---- ODK / KoboCollect exports ----------------------------------------------------------------------------------


def imports_url(rnd) -> str:
    return reverse("inspections:submissions_import", kwargs={"round_id": rnd.pk})


def upload(data: bytes, name: str = "export.csv") -> dict:
    return {"file": SimpleUploadedFile(name, data, content_type="text/csv")}


def test_the_office_imports_an_export_and_sees_the_codes(city, active):
    location = location_of(active, "c1_old", city)
    client = client_for(city, "campaign_office")
    page = client.get(imports_url(active))
    assert page.status_code == 200
    html = page.content.decode()
    assert visits.location_code(location) in html and location.site.name in html
    response = client.post(
        imports_url(active), upload(export([answer(location, **{"s1/s1_i2_n": "1"})]))
    )
    assert response.status_code == 200
    assert "Imported: 1 new visit(s), 0 already imported before." in response.content.decode()
    assert Visit.objects.get().score == Decimal("90.00")


def test_an_export_with_row_errors_shows_them_and_imports_nothing(city, active):
    location = location_of(active, "c1_old", city)
    data = export([answer(location), answer(location, location_code="L424242")])
    response = client_for(city, "campaign_office").post(imports_url(active), upload(data))
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        "1 row has problems: nothing was imported." in html
        and "No location “L424242” in this round." in html
    )
    assert not Visit.objects.exists()


def test_the_import_page_speaks_the_users_language(city, active):
    client = client_for(city, "campaign_office", HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = client.get(imports_url(active)).content.decode()
    assert "提交数据导出文件（CSV 或 XLSX）" in html


def test_a_bad_upload_is_refused_on_the_page(city, active):
    client = client_for(city, "campaign_office")
    response = client.post(imports_url(active), {})
    assert response.status_code == 400 and response.context["form"].errors
    response = client.post(imports_url(active), upload(b"\x00\x00binary", "x.bin"))
    assert response.status_code == 400 and "not a spreadsheet" in response.content.decode()
    assert not Visit.objects.exists()


@pytest.mark.parametrize(
    ("who", "status"),
    [("inspector", 403), ("unit_staff", 404), ("leader_b", 404), ("outsider", 404)],
)
def test_only_the_office_reaches_the_import_page(city, active, who, status):
    assert client_for(city, who).get(imports_url(active)).status_code == status
    assert (
        client_for(city, who).post(imports_url(active), upload(b"a,b\n1,2\n")).status_code == status
    )


def test_the_import_page_of_a_round_not_being_inspected_offers_no_upload(city):
    rnd = make_round(city, kind=RoundKind.OPEN, status=RoundStatus.CLOSED)
    html = client_for(city, "campaign_office").get(imports_url(rnd)).content.decode()
    assert "Submissions are imported while the round is being inspected." in html
    assert 'type="file"' not in html


def test_a_lookback_recheck_posted_for_a_look_back_round_must_be_complete(city):
    earlier, _location = round_with_findings(city)
    rnd, location = lookback_of(city, earlier)
    findings = list(visits.earlier_findings(location))
    body = answers(location, rechecks=[{"finding_id": findings[0].pk, "recurred": False}])
    body["checks"] = []
    response = post(client_for(city, "inspector"), location, body)
    assert response.status_code == 400 and response.json()["field"] == "rechecks"
    assert not Visit.objects.filter(location=location).exists()
