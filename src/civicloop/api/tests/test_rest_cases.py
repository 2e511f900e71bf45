"""REST cases: the list with its filters and cursor pages, one case, its timeline and photos,
and reporting a problem (published, joined, held, refused) — happy paths and bad inputs."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone

from civicloop.cases import actions as A
from civicloop.cases.models import Case, CaseEvent, Photo, Report, Source, State
from civicloop.moderation.models import HeldReport
from civicloop.testing import Loop, jpeg_upload

pytestmark = pytest.mark.django_db

LIST = "/api/v1/cases/"


def detail(case: Case) -> str:
    return f"/api/v1/cases/{case.pk}/"


def tickets(response: Any) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["ticket_no"] for row in response.json()["results"]}


def report_body(city: Any, grid: str = "g1", **extra: Any) -> dict[str, Any]:
    lat, lon = city.point_in(grid)
    return {
        "category": "E0102",
        "lat": lat,
        "lon": lon,
        "description": "小区门口垃圾堆了三天",
        **extra,
    }


def counts() -> tuple[int, int, int, int]:
    return (
        Case.objects.count(),
        Report.objects.count(),
        HeldReport.objects.count(),
        Photo.objects.count(),
    )


# ---- the list -----------------------------------------------------------------------------------


def test_the_list_shows_the_callers_cases_newest_first_with_what_a_client_needs(api, loop):
    older = loop.to(State.REGISTERED)
    newer = loop.to(State.DISPATCHED)
    response = api("dispatcher").get(LIST)
    rows = response.json()["results"]
    assert [r["ticket_no"] for r in rows] == [newer.ticket_no, older.ticket_no]
    row = rows[0]
    assert row["state"] == "dispatched" and row["state_kind"] == "open"
    assert row["category"]["code"] == "E0102" and row["grid"]["code"] == "650102001001001"
    assert row["unit"]["code"] == newer.unit.code and row["version"] == newer.version
    assert row["url"].endswith(detail(newer)) and row["deadline_at"] is not None
    assert "reporters" not in row and "phone" not in json.dumps(row)


def test_filters_narrow_the_list(api, city, loop):
    registered = loop.to(State.REGISTERED)
    closed = loop.to(State.CLOSED)
    rejected = loop.to(State.REJECTED)
    hotline = loop.to(State.REPORTED, source=Source.HOTLINE, description="路灯不亮，东关大街12号")
    trees = loop.to(State.DISPATCHED, category="C0402", grid="g3")
    overdue = Loop(city, t0=timezone.now() - dt.timedelta(days=30)).to(State.IN_PROGRESS)
    c = api("dispatcher")
    assert tickets(c.get(LIST, {"state": "registered"})) == {registered.ticket_no}
    assert tickets(c.get(LIST, {"state_kind": "closed"})) == {closed.ticket_no}
    assert tickets(c.get(LIST, {"state_kind": "discarded"})) == {rejected.ticket_no}
    assert closed.ticket_no not in tickets(c.get(LIST, {"state_kind": "open"}))
    assert tickets(c.get(LIST, {"category": "C0402"})) == {trees.ticket_no}
    assert tickets(c.get(LIST, {"area": "650102001002"})) == {trees.ticket_no}  # community 和平
    assert tickets(c.get(LIST, {"area": "650102001002001"})) == {trees.ticket_no}  # its grid
    assert tickets(c.get(LIST, {"unit": trees.unit.code})) == {trees.ticket_no}
    assert tickets(c.get(LIST, {"source": "hotline"})) == {hotline.ticket_no}
    assert tickets(c.get(LIST, {"overdue": "true"})) == {
        overdue.ticket_no,
        trees.ticket_no,
    }  # both past their deadline
    assert overdue.ticket_no not in tickets(c.get(LIST, {"overdue": "false"}))
    assert tickets(c.get(LIST, {"q": "东关大街"})) == {hotline.ticket_no}
    assert tickets(c.get(LIST, {"ticket": closed.ticket_no})) == {closed.ticket_no}
    since = (hotline.reported_at - dt.timedelta(seconds=1)).isoformat()
    until = (hotline.reported_at + dt.timedelta(seconds=1)).isoformat()
    assert tickets(c.get(LIST, {"reported_after": since, "reported_before": until})) == {
        hotline.ticket_no
    }


def test_a_joined_reporters_own_ticket_finds_the_case(api, city, loop):
    case = loop.to(State.REGISTERED)
    joined = A.case_report(
        category="E0102",
        lat=case.lat,
        lon=case.lon,
        description="同一堆垃圾",
        by=city.users["resident2"],
        at=loop.tick(),
    )
    assert joined.joined_existing and joined.ticket_no != case.ticket_no
    assert tickets(api("dispatcher").get(LIST, {"ticket": joined.ticket_no})) == {case.ticket_no}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "open"}, "state"),
        ({"state_kind": "fixed"}, "state_kind"),
        ({"overdue": "perhaps"}, "overdue"),
        ({"reported_after": "yesterday"}, "reported_after"),
        (
            {
                "reported_after": "2026-11-18T00:00:00+08:00",
                "reported_before": "2026-11-17T00:00:00+08:00",
            },
            "reported_before",
        ),
        ({"q": "x" * 101}, "q"),
        ({"q": "nul\x00byte"}, "q"),
        ({"area": "999999"}, "area"),
        ({"unit": "U-NOPE"}, "unit"),
        ({"category": "Z9999"}, "category"),
    ],
)
def test_bad_filters_answer_400_naming_the_field(api, loop, params, field):
    loop.to(State.REGISTERED)
    response = api("dispatcher").get(LIST, params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["field"] == field and body["message"]
    if field == "category":
        assert body["code"] == "unknown_category"


def test_cursor_pages_walk_every_case_once(api, loop):
    made = {loop.to(State.REPORTED).ticket_no for _ in range(5)}
    c = api("dispatcher")
    seen: list[str] = []
    url: str | None = f"{LIST}?page_size=2"
    pages = 0
    while url:
        body = c.get(url).json()
        seen += [r["ticket_no"] for r in body["results"]]
        url = body["next"]
        pages += 1
    assert pages == 3 and len(seen) == 5 and set(seen) == made


@pytest.mark.parametrize(
    "cursor", ["garbage", "cD1hYmM=", "cD05OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ=="]
)
def test_a_broken_cursor_is_a_404_not_a_crash(api, loop, cursor):
    loop.to(State.REPORTED)
    response = api("dispatcher").get(LIST, {"cursor": cursor})
    assert response.status_code == 404 and response.json()["code"] == "not_found"


# Token, rate counter (3 more when a new minute's counter row is created), grants, the page.
LIST_QUERIES = 10


@pytest.mark.parametrize("persona", ["dispatcher", "unit_staff", "grid_worker", "leader"])
def test_list_queries_do_not_grow_with_the_number_of_cases(
    api, loop, persona, django_assert_max_num_queries
):
    c = api(persona)
    for _ in range(2):
        loop.to(State.IN_PROGRESS)
    c.get(LIST)  # the token's first use is recorded once
    with django_assert_max_num_queries(LIST_QUERIES):
        assert len(c.get(LIST).json()["results"]) == 2
    for state in (State.CLOSED, State.IN_PROGRESS, State.HANDLED, State.DEFERRED) * 4:
        loop.to(state)
    with django_assert_max_num_queries(LIST_QUERIES):
        assert len(c.get(LIST).json()["results"]) == 18


# ---- one case ------------------------------------------------------------------------------------


def test_detail_shows_reporters_contacts_to_the_areas_dispatcher(api, city, loop):
    case = loop.to(State.REGISTERED, name="张三丰", phone="13800138000", email="zs@example.com")
    body = api("dispatcher").get(detail(case)).json()
    assert body["contacts_visible"] is True
    (reporter,) = body["reporters"]
    assert (
        reporter["name"] == "张三丰"
        and reporter["phone"] == "13800138000"
        and reporter["email"] == "zs@example.com"
    )
    assert reporter["ticket_no"] == case.ticket_no
    assert (
        body["co_units"] == [] and body["extension_requests"] == [] and body["escalated_to"] is None
    )


def test_detail_masks_reporters_for_a_handling_unit(api, loop):
    case = loop.to(State.IN_PROGRESS, name="张三丰", phone="13800138000", email="zs@example.com")
    response = api("unit_staff").get(detail(case))
    body = response.json()
    assert body["contacts_visible"] is False
    assert body["reporters"] == [
        {
            "number": 1,
            "name": "Reporter 1",
            "phone": None,
            "email": None,
            "ticket_no": None,
            "source": "resident",
            "reported_at": body["reporters"][0]["reported_at"],
            "joined_existing": False,
        }
    ]
    text = response.content.decode()
    assert "13800138000" not in text and "张三丰" not in text and "zs@example.com" not in text


def test_detail_shows_co_units_extensions_and_escalation(api, city, loop):
    case = loop.to(State.IN_PROGRESS)
    d, h = city.users["dispatcher"], loop.handler_for(case)
    case = A.case_add_co_unit(case=case, by=d, unit=city.units["ylj"], at=loop.tick())
    A.case_request_extension(
        case=case,
        by=h,
        until=timezone.now() + dt.timedelta(days=30),
        reason="需要采购材料",
        at=loop.tick(),
    )
    case = Case.objects.get(pk=case.pk)
    A.case_escalate(case=case, by=d, at=loop.tick())
    body = api("dispatcher").get(detail(case)).json()
    assert body["co_units"] == [{"code": "U-YLJ", "name": "市园林局"}]
    assert [x["decision"] for x in body["extension_requests"]] == ["pending"]
    assert body["escalated_to"]["kind"] == "community" and body["escalation_level"] == 1


@pytest.mark.parametrize("case_id", ["999999", "abc", "0", "99999999999999999999999999", "-1"])
def test_unknown_or_malformed_ids_answer_the_apis_404(api, case_id):
    for suffix in ("", "timeline/", "attachments/", "actions/"):
        response = api("dispatcher").get(f"/api/v1/cases/{case_id}/{suffix}")
        assert response.status_code == 404, (suffix, response.content)
        assert response.json()["code"] == "not_found"


# ---- timeline and photos -------------------------------------------------------------------------------


def test_timeline_lists_every_step_with_photos_as_public_copies(api, loop):
    case = loop.to(State.CLOSED)
    body = api("dispatcher").get(f"{detail(case)}timeline/").json()
    assert [s["kind"] for s in body] == [
        "reported",
        "registered",
        "dispatched",
        "accepted",
        "feedback",
        "verified",
    ]
    feedback = body[4]
    assert feedback["note"] == "已清运完毕" and feedback["unit"] == case.unit.name
    (photo,) = feedback["photos"]
    assert photo["kind"] == "after" and photo["url"].startswith("http://testserver/media/cases/")
    assert body[2]["detail"] == f"To: {case.unit.name}"


def test_timeline_masks_the_reporter_for_the_unit(api, loop):
    case = loop.to(State.IN_PROGRESS, by="resident", name="张三丰")
    steps = api("unit_staff").get(f"{detail(case)}timeline/").json()
    assert steps[0]["actor"] == "Reporter 1"
    steps = api("dispatcher").get(f"{detail(case)}timeline/").json()
    assert steps[0]["actor"] == "张三丰"


def test_attachments_list_public_copies_only(api, loop):
    case = loop.to(State.HANDLED)
    response = api("dispatcher").get(f"{detail(case)}attachments/")
    (photo,) = response.json()
    stored = Photo.objects.get(case=case)
    assert photo["url"] == f"http://testserver{stored.image.url}"
    assert set(photo) == {
        "id",
        "kind",
        "kind_label",
        "url",
        "width",
        "height",
        "event",
        "created_at",
    }
    assert (
        "originals" not in response.content.decode()
        and stored.sha256 not in response.content.decode()
    )


def test_the_unit_adds_progress_photos_and_the_grid_worker_before_photos(api, loop):
    case = loop.to(State.IN_PROGRESS)
    url = f"{detail(case)}attachments/"
    response = api("unit_staff").post(
        url,
        {"photos": [jpeg_upload("a.jpg"), jpeg_upload("b.jpg", color=(1, 2, 3))], "note": "施工中"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert [p["kind"] for p in response.json()] == ["after", "after"]
    response = api("grid_worker").post(url, {"photos": [jpeg_upload("c.jpg")]}, format="multipart")
    assert response.status_code == 201 and response.json()[0]["kind"] == "before"
    events = CaseEvent.objects.filter(case=case, kind="photo_added")
    assert events.count() == 2 and events.first().note == "施工中"
    # Nothing a stale copy could overwrite has changed: the version stays.
    assert Case.objects.get(pk=case.pk).version == case.version


def test_bad_photo_uploads_are_refused_and_nothing_is_written(api, loop):
    case = loop.to(State.IN_PROGRESS)
    url = f"{detail(case)}attachments/"
    before = counts()
    c = api("unit_staff")
    response = c.post(
        url,
        {"photos": [jpeg_upload("a.jpg"), _file("evil.jpg", b"<?php echo 1; ?>")]},
        format="multipart",
    )
    assert (
        response.status_code == 400
        and response.json()["field"] == "photos"
        and response.json()["code"] == "bad_file"
    )
    assert c.post(url, {}, format="multipart").status_code == 400
    response = c.post(url, {"photos": "not a file"}, format="json")
    assert response.status_code == 415
    response = c.post(
        url, {"photos": [jpeg_upload(f"{i}.jpg") for i in range(7)]}, format="multipart"
    )
    assert response.status_code == 400 and response.json()["field"] == "photos"
    assert counts() == before


def test_photos_only_while_open_and_only_from_those_working_on_it(api, loop):
    closed = loop.to(State.CLOSED)
    response = api("unit_staff").post(
        f"{detail(closed)}attachments/", {"photos": [jpeg_upload()]}, format="multipart"
    )
    assert response.status_code == 400 and response.json()["code"] == "illegal_transition"
    case = loop.to(State.IN_PROGRESS)
    response = api("leader").post(
        f"{detail(case)}attachments/", {"photos": [jpeg_upload()]}, format="multipart"
    )
    assert response.status_code == 403
    response = api("park_staff").post(
        f"{detail(case)}attachments/", {"photos": [jpeg_upload()]}, format="multipart"
    )
    assert response.status_code == 404


def _file(name: str, data: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="image/jpeg")


# ---- reporting --------------------------------------------------------------------------------------


def test_an_anonymous_resident_reports_and_gets_a_ticket(api, city):
    response = api(None).post(
        LIST, report_body(city, name="李四", phone="13900139000"), format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "published" and body["joined_existing"] is False
    report = Report.objects.get(ticket_no=body["ticket_no"])
    assert (
        report.phone == "13900139000"
        and report.source == Source.RESIDENT
        and report.reporter is None
    )
    assert body["case"]["id"] == report.case_id and body["case"]["state"] == "reported"
    assert "13900139000" not in response.content.decode()


def test_a_second_report_nearby_joins_the_open_case_with_its_own_ticket(api, city):
    first = api(None).post(LIST, report_body(city), format="json").json()
    second = (
        api(None)
        .post(LIST, report_body(city, description="同一个地方的垃圾还没清"), format="json")
        .json()
    )
    assert second["joined_existing"] is True and second["ticket_no"] != first["ticket_no"]
    # The second resident never reads the first one's words or ticket number.
    assert second["case"] is None
    assert Report.objects.get(ticket_no=second["ticket_no"]).case_id == first["case"]["id"]


def test_staff_who_join_an_open_case_see_it(api, city):
    first = api(None).post(LIST, report_body(city), format="json").json()
    second = api("grid_worker").post(LIST, report_body(city, description="同一处垃圾"), format="json").json()
    assert second["joined_existing"] is True
    assert second["case"]["id"] == first["case"]["id"] and second["case"]["reporter_count"] == 2


def test_a_report_with_photos_in_multipart_and_gcj02_coordinates(api, city):
    from civicloop.places.coords import wgs84_to_gcj02

    lat, lon = city.point_in("g3")
    glat, glon = wgs84_to_gcj02(lat, lon)
    data = {
        "category": "E0102",
        "lat": glat,
        "lon": glon,
        "crs": "gcj02",
        "description": "高德地图上报",
        "photos": [jpeg_upload("p1.jpg"), jpeg_upload("p2.jpg", color=(9, 9, 9))],
    }
    response = api("resident").post(LIST, data, format="multipart")
    assert response.status_code == 201, response.content
    case = Case.objects.get(pk=response.json()["case"]["id"])
    assert case.grid == city.areas["g3"] and case.photos.count() == 2
    assert (
        Report.objects.get(ticket_no=response.json()["ticket_no"]).reporter
        == city.users["resident"]
    )


def test_staff_report_for_the_hotline_with_their_source(api, city):
    response = api("dispatcher").post(LIST, report_body(city, source="hotline"), format="json")
    assert response.status_code == 201 and response.json()["case"]["source"] == "hotline"
    response = api("dispatcher").post(LIST, report_body(city, grid="g2"), format="json")
    assert response.json()["case"]["source"] == "api"


def test_residents_may_not_claim_a_staff_source(api, city):
    before = counts()
    response = api(None).post(LIST, report_body(city, source="hotline"), format="json")
    assert response.status_code == 400 and response.json()["field"] == "source"
    assert counts() == before


def test_spammy_text_is_held_answers_202_and_creates_no_case(api, city):
    before = counts()
    text = "优惠办证 http://spam.example.com 和 http://spam2.example.com 点击 <script>alert(1)</script>"
    response = api(None).post(LIST, report_body(city, description=text), format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "held" and body["reference"] and body["message"]
    held = HeldReport.objects.get(token=body["reference"])
    assert held.original_description == text and held.channel == "api"
    after = counts()
    assert after[:2] == before[:2] and after[2] == before[2] + 1


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"lat": 41.17, "lon": 80.26, "description": "x"}, "category", "invalid"),
        ({"category": "E0102", "lon": 80.26, "description": "x"}, "lat", "invalid"),
        ({"category": "E0102", "lat": "north", "lon": 80.26, "description": "x"}, "lat", "invalid"),
        ({"category": "E0102", "lat": 91, "lon": 80.26, "description": "x"}, "lat", "invalid"),
        ({"category": "E0102", "lat": 41.17, "lon": 80.26}, "description", "invalid"),
        (
            {"category": "E0102", "lat": 41.17, "lon": 80.26, "description": "   "},
            "description",
            "invalid",
        ),
        (
            {"category": "E0102", "lat": 41.17, "lon": 80.26, "description": "x" * 4001},
            "description",
            "invalid",
        ),
        (
            {"category": "Z9999", "lat": 41.171, "lon": 80.264, "description": "x"},
            "category",
            "unknown_category",
        ),
        (
            {"category": "E0102", "lat": 39.9, "lon": 116.4, "description": "在北京"},
            "location",
            "outside_grid",
        ),
        (
            {
                "category": "E0102",
                "lat": 41.171,
                "lon": 80.264,
                "description": "x",
                "email": "not-mail",
            },
            "email",
            "invalid",
        ),
        (
            {
                "category": "E0102",
                "lat": 41.171,
                "lon": 80.264,
                "description": "x",
                "phone": "call me",
            },
            "phone",
            "invalid",
        ),
        (
            {"category": "E0102", "lat": 41.171, "lon": 80.264, "description": "x", "crs": "bd09"},
            "crs",
            "invalid",
        ),
        (
            {"category": ["E0102"], "lat": 41.171, "lon": 80.264, "description": "x"},
            "category",
            "invalid",
        ),
    ],
)
def test_bad_reports_are_refused_naming_the_field_and_nothing_is_written(
    api, city, body, field, code
):
    before = counts()
    response = api(None).post(LIST, body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == code and error["message"]
    if field is not None:
        assert error["field"] == field
    assert counts() == before


def test_bad_json_and_non_finite_numbers_are_400(api, city):
    c = api(None)
    response = c.post(LIST, data="{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
    response = c.post(
        LIST,
        data='{"category": "E0102", "lat": NaN, "lon": 80.26, "description": "x"}',
        content_type="application/json",
    )
    assert response.status_code == 400
    response = c.post(
        LIST,
        {"category": "E0102", "lat": "nan", "lon": "inf", "description": "x"},
        format="multipart",
    )
    assert response.status_code == 400 and response.json()["field"] in {"lat", "lon"}
    assert Case.objects.count() == 0
