"""The resident's side: report in a minute, follow and rate by ticket, see what is open nearby."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from civicloop.cases import actions as A
from civicloop.cases.models import Case, CaseEvent, Photo, Report, Source, State
from civicloop.core.models import RateCounter
from civicloop.moderation import actions as moderation
from civicloop.moderation.models import HeldReport
from civicloop.testing import Loop, jpeg_upload

pytestmark = pytest.mark.django_db

DESCRIPTION = "楼下垃圾堆放三天无人清理"


def counts() -> tuple[int, int, int, int]:
    return Case.objects.count(), Report.objects.count(), CaseEvent.objects.count(), Photo.objects.count()


def report_data(city, **overrides):
    lat, lon = city.point_in("g1")
    data = {"category": "E0113", "lat": f"{lat:.7f}", "lon": f"{lon:.7f}", "description": DESCRIPTION, "address": "幸福小区3号楼东侧"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def logged_in(city, key: str) -> Client:
    client = Client()
    client.force_login(city.users[key])
    return client


def close(city, case: Case) -> Case:
    """Drive a case to closed with the real actions (now), the way the staff pages will."""
    loop = Loop(city)
    d, g = loop.dispatcher_for(case), loop.grid_worker_for(case)
    case = A.case_register(case=case, by=d)
    case = A.case_dispatch(case=case, by=d)
    h = loop.handler_for(case)
    case = A.case_accept(case=case, by=h)
    case = A.case_feedback(case=case, by=h, note="已清运完毕", photos=[jpeg_upload("after.jpg", color=(30, 160, 60))])
    return A.case_verify(case=case, by=g, passed=True)


# ---- the report page ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", [None, "resident", "grid_worker", "inspector", "outsider"])
def test_report_page_is_phone_first_and_open_to_everyone(city, who):
    client = logged_in(city, who) if who else Client()
    html = client.get(reverse("web:report")).content.decode()
    assert 'data-map' in html and 'data-boundaries="grid,community"' in html
    assert 'data-pin-lat="id_lat"' in html and 'data-locate="report-map"' in html
    assert re.search(r'<input[^>]+name="photos"[^>]+multiple', html)
    assert 'accept="image/*"' in html and 'capture="environment"' in html
    assert 'enctype="multipart/form-data"' in html
    assert reverse("web:category_search") in html and reverse("web:report_nearby") in html
    # The common categories are there before anything is typed; garbage piling comes first.
    assert html.index('value="E0113"') < html.index('value="E0505"')
    for field in ("id_description", "id_photos", "id_name", "id_phone", "id_email", "id_lat", "id_lon", "category-q"):
        assert f'for="{field}"' in html


def test_report_page_takes_a_position_from_the_map_of_open_problems(city):
    html = Client().get(reverse("web:report"), {"lat": "41.169", "lon": "80.263"}).content.decode()
    assert 'value="41.169"' in html and 'value="80.263"' in html


def test_full_resident_flow_report_follow_close_rate(city, django_capture_on_commit_callbacks):
    client = Client()
    data = report_data(city, name="张三", phone="13800000000", email="zhang@example.com")
    data["photos"] = [jpeg_upload("a.jpg"), jpeg_upload("b.jpg", color=(10, 10, 200))]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("web:report"), data)
    assert response.status_code == 302
    report = Report.objects.get()
    assert response["Location"] == reverse("web:report_done", kwargs={"ticket_no": report.ticket_no})
    assert report.source == Source.RESIDENT and report.reporter is None
    assert (report.name, report.phone, report.email) == ("张三", "13800000000", "zhang@example.com")
    case = report.case
    assert case.category.code == "E0113" and case.grid == city.areas["g1"] and case.address == "幸福小区3号楼东侧"
    assert case.photos.filter(kind="before").count() == 2

    done = client.get(response["Location"]).content.decode()
    assert 'id="ticket-no"' in done and report.ticket_no in done
    assert reverse("web:ticket_detail", kwargs={"ticket_no": report.ticket_no}) in done

    follow = reverse("web:ticket_detail", kwargs={"ticket_no": report.ticket_no})
    html = client.get(follow).content.decode()
    assert "Your report was received." in html and DESCRIPTION in html
    assert 'aria-current="step"' in html and "Received" in html
    assert reverse("web:ticket_rate", kwargs={"ticket_no": report.ticket_no}) not in html  # not closed yet

    case = close(city, case)
    html = client.get(follow).content.decode()
    assert case.unit.name in html
    assert "Checked on site and closed." in html
    assert "Before and after" in html and html.count("<img") >= 3
    assert reverse("web:ticket_rate", kwargs={"ticket_no": report.ticket_no}) in html
    for private in ("张三", "13800000000", "zhang@example.com"):
        assert private not in html

    response = client.post(
        reverse("web:ticket_rate", kwargs={"ticket_no": report.ticket_no}),
        {"rating": "dissatisfied", "unfixed": "on", "note": "垃圾还在"},
    )
    assert response.status_code == 302 and response["Location"] == follow
    case.refresh_from_db()
    assert case.rating == "dissatisfied" and case.resident_says_unfixed
    event = case.events.get(kind="rated")
    assert event.note == "垃圾还在" and event.data["ticket_no"] == report.ticket_no
    assert "Your rating was recorded" in client.get(follow).content.decode()


def test_a_logged_in_resident_is_the_reporter_and_the_source_is_resident(city):
    response = logged_in(city, "resident").post(reverse("web:report"), report_data(city))
    assert response.status_code == 302
    report = Report.objects.get()
    assert report.reporter == city.users["resident"] and report.source == Source.RESIDENT


def test_a_grid_workers_report_is_a_patrol_report(city):
    response = logged_in(city, "grid_worker").post(reverse("web:report"), report_data(city))
    assert response.status_code == 302
    report = Report.objects.get()
    assert report.source == Source.GRID_WORKER and report.case.source == Source.GRID_WORKER
    assert report.reporter == city.users["grid_worker"]


# ---- joining an open case from the nearby list -------------------------------------------------


def existing(city, **kw) -> Report:
    lat, lon = city.point_in("g1")
    return A.case_report(category=kw.pop("category", "E0113"), lat=lat, lon=lon, description="门口垃圾成堆", name="李四", phone="13900000000", **kw)


def test_nearby_list_shows_open_problems_of_that_category_without_identities(city):
    first = existing(city)
    lat, lon = city.point_in("g1")
    html = Client().get(reverse("web:report_nearby"), {"category": "E0113", "lat": lat, "lon": lon}).content.decode()
    assert f'value="{first.case.pk}"' in html and "This is my problem too — join it" in html
    assert 'value="new"' in html
    for private in ("李四", "13900000000", "门口垃圾成堆", first.ticket_no):
        assert private not in html
    # Another category, or a point far away: nothing to join.
    assert "join" not in Client().get(reverse("web:report_nearby"), {"category": "E0505", "lat": lat, "lon": lon}).content.decode()
    far_lat, far_lon = city.point_in("g4")
    assert "join" not in Client().get(reverse("web:report_nearby"), {"category": "E0113", "lat": far_lat, "lon": far_lon}).content.decode()
    # Garbage input is no list, never an error page.
    assert Client().get(reverse("web:report_nearby"), {"category": "E0113", "lat": "x", "lon": "nan"}).status_code == 200


def test_report_page_shows_the_nearby_list_again_after_an_error(city):
    first = existing(city)
    response = Client().post(reverse("web:report"), report_data(city, description=""))
    assert response.status_code == 400
    assert f'value="{first.case.pk}"' in response.content.decode()


def test_join_an_existing_case_from_the_nearby_list(city):
    first = existing(city)
    response = Client().post(reverse("web:report"), report_data(city, join=str(first.case.pk)))
    assert response.status_code == 302
    mine = Report.objects.exclude(pk=first.pk).get()
    assert mine.case == first.case and mine.joined_existing and mine.ticket_no != first.ticket_no
    first.case.refresh_from_db()
    assert first.case.reporter_count == 2 and Case.objects.count() == 1
    done = Client().get(response["Location"]).content.decode()
    assert "joined that case" in done
    # The joiner follows the shared case with his own ticket and never sees the first reporter.
    html = Client().get(reverse("web:ticket_detail", kwargs={"ticket_no": mine.ticket_no})).content.decode()
    assert first.case.ticket_no in html
    for private in ("李四", "13900000000", "门口垃圾成堆"):
        assert private not in html


def test_saying_mine_is_different_makes_a_new_case(city):
    first = existing(city)
    response = Client().post(reverse("web:report"), report_data(city, join="new"))
    assert response.status_code == 302
    assert Case.objects.count() == 2 and not Report.objects.exclude(pk=first.pk).get().joined_existing


def test_only_a_case_offered_nearby_can_be_joined(city):
    far = existing(city, category="E0505")  # open, but another category
    before = counts()
    response = Client().post(reverse("web:report"), report_data(city, join=str(far.case.pk)))
    assert response.status_code == 400
    html = response.content.decode()
    assert "no longer open near your pin" in html and DESCRIPTION in html
    assert counts() == before
    response = Client().post(reverse("web:report"), report_data(city, join="x1"))
    assert response.status_code == 400 and counts() == before


# ---- category search ----------------------------------------------------------------------


@pytest.mark.parametrize("q", ["ljdf", "ljldf", "lajiduifang", "垃圾堆放", "垃圾乱堆放", "垃圾亂堆放", "E0113"])
def test_category_search_finds_garbage_piling(city, q):
    html = Client().get(reverse("web:category_search"), {"q": q}).content.decode()
    assert 'value="E0113"' in html and "垃圾乱堆放" in html
    first = re.search(r'name="category" id="cat-(\w+)"', html)
    assert first and first.group(1) == "E0113"


def test_category_search_by_chinese_lists_every_match_as_radio_buttons(city):
    html = Client().get(reverse("web:category_search"), {"q": "垃圾"}).content.decode()
    for code in ("E0113", "E0102", "C0305"):
        assert f'type="radio" name="category" id="cat-{code}" value="{code}"' in html


def test_category_search_with_nothing_typed_lists_the_common_ones_first(city):
    html = Client().get(reverse("web:category_search")).content.decode()
    codes = re.findall(r'name="category" id="cat-(\w+)"', html)
    assert codes[:3] == ["E0113", "E0102", "E0505"]


def test_category_search_keeps_the_chosen_category_and_says_when_nothing_matches(city):
    html = Client().get(reverse("web:category_search"), {"q": "zzzzqqq", "category": "E0505"}).content.decode()
    assert 'value="E0505" checked' in html
    html = Client().get(reverse("web:category_search"), {"q": "zzzzqqq"}).content.decode()
    assert "Nothing matches" in html and "zzzzqqq" in html


def test_category_search_escapes_what_was_typed(city):
    html = Client().get(reverse("web:category_search"), {"q": "<script>x</script>"}).content.decode()
    assert "<script>x" not in html


def test_category_search_without_javascript_keeps_the_typed_text(city):
    data = report_data(city, category=None, q="ljdf", search="1")
    response = Client().post(reverse("web:report"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="E0113"' in html and DESCRIPTION in html and "幸福小区3号楼东侧" in html
    assert "errorlist" not in html and Report.objects.count() == 0


# ---- bad inputs: refused inline, typed text kept, nothing written ------------------------------


def assert_refused(city, data, message, *, files=None, status=400):
    before = counts()
    payload = dict(data)
    if files:
        payload.update(files)
    response = Client().post(reverse("web:report"), payload)
    html = response.content.decode()
    assert response.status_code == status, html[:2000]
    assert message in html
    if data.get("description"):
        assert data["description"] in html  # what was typed is kept
    assert counts() == before
    return html


def test_no_category(city):
    assert_refused(city, report_data(city, category=None), "Pick the kind of problem from the list.")


def test_unknown_category(city):
    assert_refused(city, report_data(city, category="E9999"), "Unknown problem category")


def test_point_outside_every_grid(city):
    html = assert_refused(city, report_data(city, lat="30.0", lon="100.0"), "outside every grid")
    assert 'id="location-errors"' in html and "<details class=\"coords\" open" in html


def test_no_location(city):
    assert_refused(city, report_data(city, lat=None, lon=None), "Place the pin on the map or use your location.")


def test_location_not_numbers(city):
    assert_refused(city, report_data(city, lat="north", lon="east"), "The location is not a pair of numbers.")


def test_no_description(city):
    assert_refused(city, report_data(city, description="   "), "Please describe the problem.")


def test_oversize_photo(city, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "MAX_PHOTO_BYTES": 200}
    html = assert_refused(city, report_data(city), "the limit is", files={"photos": [jpeg_upload("big.jpg", size=(400, 300))]})
    assert "please pick your photos again" in html


def test_non_image_file(city):
    fake = SimpleUploadedFile("photo.jpg", b"%PDF-1.4 not a photo at all", content_type="image/jpeg")
    html = assert_refused(city, report_data(city), "is not a photo", files={"photos": [fake]})
    assert "please pick your photos again" in html


def test_too_many_photos(city):
    photos = [jpeg_upload(f"p{i}.jpg") for i in range(7)]
    assert_refused(city, report_data(city), "At most 6 photos", files={"photos": photos})


def test_bad_email(city):
    assert_refused(city, report_data(city, email="not-an-address"), "is not an e-mail address")


def test_bad_phone(city):
    assert_refused(city, report_data(city, phone="call me maybe"), "The phone number may contain only digits")


def test_description_too_long(city):
    assert_refused(city, report_data(city, description="垃" * 4001), "Ensure this value has at most 4000 characters")


def test_reporting_needs_the_csrf_token(city):
    client = Client(enforce_csrf_checks=True)
    assert client.post(reverse("web:report"), report_data(city)).status_code == 403
    assert Report.objects.count() == 0


def test_report_page_accepts_only_get_and_post(city):
    assert Client().put(reverse("web:report")).status_code == 405


def test_reports_per_connection_are_limited_per_hour(city, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "REPORT_RATE_PER_HOUR": 2}
    client = Client()
    for n in range(2):
        assert client.post(reverse("web:report"), report_data(city, join="new", description=f"第{n}次")).status_code == 302
    response = client.post(reverse("web:report"), report_data(city, description="第三次上报"))
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    html = response.content.decode()
    assert "Too many reports from your connection in the last hour (at most 2)" in html and "第三次上报" in html
    assert 'role="alert"' in html and 'id="report-form"' in html
    assert Report.objects.count() == 2 and not HeldReport.objects.exists()
    # Counted in the database, so every process of the server agrees.
    assert RateCounter.objects.get(key="report-ip:127.0.0.1").count == 2
    # Another connection is not affected.
    other = Client(REMOTE_ADDR="10.0.0.9")
    assert other.post(reverse("web:report"), report_data(city, join="new")).status_code == 302


def test_failed_reports_do_not_count_towards_the_limit(city, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "REPORT_RATE_PER_HOUR": 1}
    client = Client()
    assert client.post(reverse("web:report"), report_data(city, description="")).status_code == 400
    assert client.post(reverse("web:report"), report_data(city, lat="30.0", lon="100.0")).status_code == 400
    assert client.post(reverse("web:report"), report_data(city)).status_code == 302


def test_held_reports_count_towards_the_limit(city, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "REPORT_RATE_PER_HOUR": 1}
    client = Client()
    assert client.post(reverse("web:report"), report_data(city, description=SPAM)).status_code == 302
    assert client.post(reverse("web:report"), report_data(city)).status_code == 429


def test_the_limit_is_per_connection_address_not_a_forwarded_header(city, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "REPORT_RATE_PER_HOUR": 1}
    client = Client(REMOTE_ADDR="10.0.0.7")
    assert client.post(reverse("web:report"), report_data(city), HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 302
    assert client.post(reverse("web:report"), report_data(city), HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 429


def test_the_rate_limit_has_a_default_of_twenty(city, settings):
    settings.CIVICLOOP = {k: v for k, v in settings.CIVICLOOP.items() if k != "REPORT_RATE_PER_HOUR"}
    from civicloop.moderation.actions import report_rate_per_hour

    assert report_rate_per_hour() == 20


# ---- reports held by the spam checks -----------------------------------------------------------

SPAM = "垃圾没人管 详情 http://spam.example.cn/a 加微信 www.spam.top"


def test_a_held_report_gets_a_reference_and_no_ticket(city):
    data = report_data(city, description=SPAM, name="张三", phone="13800000000")
    data["photos"] = [jpeg_upload("a.jpg")]
    before = counts()
    response = Client(REMOTE_ADDR="10.2.3.4").post(reverse("web:report"), data)
    assert counts() == before, "no case, report, event or photo"
    held = HeldReport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("web:report_held", kwargs={"token": held.token})
    assert held.channel == "web" and held.ip == "10.2.3.4" and held.original_description == SPAM
    assert held.payload["name"] == "张三" and held.photos.count() == 1
    page = Client().get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "your report was received" in html and "being checked" in html and held.token in html
    assert 'id="ticket-no"' not in html and "ticket number yet" in html
    for private in (SPAM, "张三", "13800000000", "Too many links"):
        assert private not in html
    # The reference is no ticket; typed in lower case, it still finds the report.
    assert Client().get(reverse("web:ticket_detail", kwargs={"ticket_no": held.token})).status_code == 404
    assert held.token in Client().get(reverse("web:report_held", kwargs={"token": held.token.lower()})).content.decode()


def test_a_logged_in_residents_held_report_is_his(city):
    logged_in(city, "resident").post(reverse("web:report"), report_data(city, description=SPAM))
    assert HeldReport.objects.get().submitted_by == city.users["resident"]


def test_a_grid_workers_report_is_never_held(city):
    response = logged_in(city, "grid_worker").post(reverse("web:report"), report_data(city, description=SPAM))
    assert response.status_code == 302 and not HeldReport.objects.exists()
    assert Report.objects.get().description == SPAM


def test_the_held_page_shows_the_ticket_once_released_and_says_when_rejected(city):
    Client().post(reverse("web:report"), report_data(city, description=SPAM))
    held = HeldReport.objects.get()
    url = reverse("web:report_held", kwargs={"token": held.token})
    report = moderation.held_release(held=held, by=city.users["dispatcher"]).report
    html = Client().get(url).content.decode()
    assert "checked and published" in html and report.ticket_no in html
    assert reverse("web:ticket_detail", kwargs={"ticket_no": report.ticket_no}) in html

    Client(REMOTE_ADDR="10.9.9.9").post(reverse("web:report"), report_data(city, description=SPAM + " 再来"))
    other = HeldReport.objects.get(status="held")
    moderation.held_reject(held=other, by=city.users["dispatcher"], reason="广告，内部备注")
    html = Client().get(reverse("web:report_held", kwargs={"token": other.token})).content.decode()
    assert "checked and not published" in html and "内部备注" not in html


@pytest.mark.parametrize("token", ["nope", "x" * 40, "<b>x"])
def test_an_unknown_reference_is_a_404(city, token):
    response = Client().get(reverse("web:report_held", kwargs={"token": token}))
    assert response.status_code == 404 and "No report has the reference" in response.content.decode()
    assert "<b>x" not in response.content.decode()


def test_held_reports_are_not_on_the_public_map_or_the_nearby_lists(city):
    Client().post(reverse("web:report"), report_data(city, description=SPAM))
    assert HeldReport.objects.count() == 1 and not Case.objects.exists()
    lat, lon = city.point_in("g1")
    assert json.loads(Client().get(reverse("web:nearby_geojson")).content)["features"] == []
    nearby = Client().get(reverse("web:nearby")).content.decode()
    assert "垃圾乱堆放" not in nearby and "spam.example" not in nearby
    join = Client().get(reverse("web:report_nearby"), {"category": "E0113", "lat": lat, "lon": lon}).content.decode()
    assert "join" not in join
    home = Client().get(reverse("web:home")).content.decode()
    assert "spam.example" not in home


# ---- confirmation and the ticket page ------------------------------------------------------


def test_bad_ticket_is_a_404_in_the_users_language(city):
    response = Client(HTTP_ACCEPT_LANGUAGE="zh-hans").get(reverse("web:ticket_detail", kwargs={"ticket_no": "20260101-999999"}))
    assert response.status_code == 404
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html and "20260101-999999" in html
    assert reverse("web:ticket_lookup") in html
    assert Client().get(reverse("web:ticket_detail", kwargs={"ticket_no": "<b>x"})).status_code == 404
    assert Client().get(reverse("web:report_done", kwargs={"ticket_no": "20260101-999999"})).status_code == 404


def test_ticket_page_of_a_rejected_report_says_so_without_the_stage_bar(city):
    report = existing(city)
    loop = Loop(city)
    A.case_reject(case=report.case, by=loop.dispatcher_for(report.case), reason="不属于城市管理范围")
    html = Client().get(reverse("web:ticket_detail", kwargs={"ticket_no": report.ticket_no})).content.decode()
    assert "not taken up as a case" in html and "不属于城市管理范围" in html and 'class="stages"' not in html


def test_ticket_page_shows_the_unit_and_the_deadline_once_dispatched(city):
    report = existing(city)
    loop = Loop(city)
    case = A.case_register(case=report.case, by=loop.dispatcher_for(report.case))
    case = A.case_dispatch(case=case, by=loop.dispatcher_for(case))
    html = Client().get(reverse("web:ticket_detail", kwargs={"ticket_no": report.ticket_no})).content.decode()
    assert case.unit.name in html and "Deadline" in html and "Sent to the unit responsible." in html


# ---- rating --------------------------------------------------------------------------------


def test_rating_a_case_that_is_not_closed_is_refused(city):
    report = existing(city)
    response = Client().post(reverse("web:ticket_rate", kwargs={"ticket_no": report.ticket_no}), {"rating": "satisfied"})
    assert response.status_code == 400
    report.case.refresh_from_db()
    assert report.case.rating == "" and not report.case.events.filter(kind="rated").exists()
    assert "error" in response.content.decode()


def test_rating_needs_a_valid_choice(city):
    report = existing(city)
    close(city, report.case)
    url = reverse("web:ticket_rate", kwargs={"ticket_no": report.ticket_no})
    for data in ({}, {"rating": "meh", "note": "还行吧"}):
        response = Client().post(url, data)
        assert response.status_code == 400
        assert "Choose satisfied, basically satisfied or dissatisfied." in response.content.decode()
    assert "还行吧" in response.content.decode()
    report.case.refresh_from_db()
    assert report.case.rating == ""


def test_rating_an_unknown_ticket_is_a_404(city):
    response = Client().post(reverse("web:ticket_rate", kwargs={"ticket_no": "20260101-999999"}), {"rating": "satisfied"})
    assert response.status_code == 404


def test_rating_needs_get_free_post_with_csrf(city):
    report = existing(city)
    close(city, report.case)
    url = reverse("web:ticket_rate", kwargs={"ticket_no": report.ticket_no})
    assert Client().get(url).status_code == 405
    assert Client(enforce_csrf_checks=True).post(url, {"rating": "satisfied"}).status_code == 403


def test_satisfied_rating_by_a_joined_reporters_ticket(city):
    first = existing(city)
    lat, lon = city.point_in("g1")
    joined = A.case_report(category="E0113", lat=lat, lon=lon, description="同一堆垃圾")
    assert joined.case == first.case
    close(city, joined.case)
    response = Client().post(reverse("web:ticket_rate", kwargs={"ticket_no": joined.ticket_no}), {"rating": "basic"})
    assert response.status_code == 302
    first.case.refresh_from_db()
    assert first.case.rating == "basic" and not first.case.resident_says_unfixed


# ---- the map of open problems -------------------------------------------------------------


def test_nearby_page_draws_the_public_points_clustered(city):
    existing(city)
    html = Client().get(reverse("web:nearby")).content.decode()
    assert f'data-points="{reverse("web:nearby_geojson")}"' in html
    assert "leaflet.markercluster.js" in html and "垃圾乱堆放" in html


def test_nearby_geojson_has_open_cases_and_no_personal_data(city):
    open_report = existing(city)
    closed = existing(city, category="E0102")
    close(city, closed.case)
    response = Client().get(reverse("web:nearby_geojson"))
    assert response.status_code == 200
    data = json.loads(response.content)
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 1
    feature = data["features"][0]
    assert feature["geometry"]["type"] == "Point"
    assert set(feature["properties"]) == {"category", "title", "state", "state_label", "reported_on", "subtitle"}
    assert feature["properties"]["category"] == "E0113" and feature["properties"]["state"] == State.REPORTED
    text = response.content.decode()
    for private in (open_report.ticket_no, "李四", "13900000000", "门口垃圾成堆", "url"):
        assert private not in text


def test_nearby_geojson_bounded_by_bbox(city):
    existing(city)
    lat, lon = city.point_in("g1")
    inside = f"{lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"
    outside = f"{lon + 0.01},{lat + 0.01},{lon + 0.02},{lat + 0.02}"
    assert len(json.loads(Client().get(reverse("web:nearby_geojson"), {"bbox": inside}).content)["features"]) == 1
    assert json.loads(Client().get(reverse("web:nearby_geojson"), {"bbox": outside}).content)["features"] == []


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "10,10,5,5", "0,0,200,10", "nan,0,1,1"])
def test_nearby_geojson_refuses_a_bad_bbox(city, bbox):
    response = Client().get(reverse("web:nearby_geojson"), {"bbox": bbox})
    assert response.status_code == 400 and "error" in json.loads(response.content)


# ---- the front page -------------------------------------------------------------------------


def test_front_page_leads_to_reporting_following_and_the_map(city):
    html = Client().get(reverse("web:home")).content.decode()
    assert f'href="{reverse("web:report")}"' in html
    assert f'action="{reverse("web:ticket_lookup")}"' in html
    assert reverse("web:nearby") in html and "Cases in total" in html
