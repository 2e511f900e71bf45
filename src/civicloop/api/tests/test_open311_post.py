"""Open311 POST requests (wiki.open311.org/GeoReport_v2 "POST Service Request") and tokens:
api_key, each form of location and a missing one, attribute answers checked against the
service definition, the answer's shape in both formats, held reports answering a token that
turns into a service_request_id once released, media_url, and nothing written on refusal."""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone
from PIL import Image
from shapely.geometry import Point, box

from civicloop.api.tokens import token_issue, token_revoke
from civicloop.cases.models import Case, Photo, Report, Source
from civicloop.moderation.actions import held_reject, held_release
from civicloop.moderation.models import HeldReport, HeldStatus
from civicloop.places.models import BackStreet, Compound
from civicloop.testing import LAT0, LON0, STEP, jpeg_upload

from .test_open311_support import (
    CREATED_FIELDS,
    HELD_FIELDS,
    TOKEN_FIELDS,
    assert_json_error,
    assert_xml_error,
    generous_limits,  # noqa: F401  (fixture)
    get,
    integration,
    parse_json,
    parse_xml,
    post,
    tags,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_limits")]


@pytest.fixture
def key(city) -> str:
    return integration()[1]


def form(city: Any, key: str, **extra: Any) -> dict[str, Any]:
    lat, lon = city.point_in("g1")
    return {
        "api_key": key,
        "service_code": "E0102",
        "lat": f"{lat:.6f}",
        "long": f"{lon:.6f}",
        "description": "楼下垃圾堆放三天无人清理",
        **extra,
    }


def written() -> tuple[int, int, int]:
    return Case.objects.count(), Report.objects.count(), HeldReport.objects.count()


# ---- published ----------------------------------------------------------------------------


def test_a_post_answers_a_service_request_id_that_get_finds(client, city, key) -> None:
    response = post(
        client,
        form(
            city,
            key,
            first_name="三",
            last_name="张",
            phone="13800000000",
            email="zhang@example.com",
            account_id="wx-42",
            device_id="dev-1",
        ),
    )
    assert response.status_code == 201, response.content
    body = parse_json(response)
    assert len(body) == 1 and list(body[0]) == CREATED_FIELDS
    ticket = body[0]["service_request_id"]
    assert body[0]["account_id"] == "wx-42"
    assert "hours" in body[0]["service_notice"]
    report = Report.objects.get(ticket_no=ticket)
    assert report.source == Source.API
    assert report.reporter.username == "open311-app"
    assert (report.name, report.phone, report.email) == ("张三", "13800000000", "zhang@example.com")
    found = parse_json(get(client, f"requests/{ticket}", "json"))
    assert found[0]["service_request_id"] == ticket and found[0]["status"] == "open"
    assert found[0]["description"] == "楼下垃圾堆放三天无人清理"
    assert "13800000000" not in get(client, f"requests/{ticket}", "xml").content.decode()


def test_the_xml_answer_has_the_spec_elements(client, city, key) -> None:
    for fmt in ("xml", ""):
        response = post(client, form(city, key, description=f"路边垃圾没人管 {fmt}"), fmt=fmt)
        assert response.status_code == 201, response.content
        root = parse_xml(response)
        assert root.tag == "service_requests" and tags(root) == ["request"]
        assert tags(root[0]) == CREATED_FIELDS
        assert root[0].find("account_id").text is None
        assert Report.objects.filter(ticket_no=root[0].findtext("service_request_id")).exists()


def test_latin_names_keep_their_order(client, city, key) -> None:
    response = post(client, form(city, key, first_name="Anna", last_name="Virtanen"))
    assert (
        Report.objects.get(ticket_no=parse_json(response)[0]["service_request_id"]).name
        == "Anna Virtanen"
    )


def test_without_a_description_the_service_name_stands_in(client, city, key) -> None:
    response = post(client, form(city, key, description=""))
    assert response.status_code == 201
    assert (
        Report.objects.get(ticket_no=parse_json(response)[0]["service_request_id"]).description
        == "暴露垃圾"
    )


def test_a_report_near_an_open_case_joins_it(client, city, key) -> None:
    first = parse_json(post(client, form(city, key)))[0]["service_request_id"]
    second = parse_json(post(client, form(city, key, description="同一堆垃圾，还在")))[0]
    assert second["service_request_id"] != first
    assert "added to it" in second["service_notice"]
    assert Report.objects.get(ticket_no=second["service_request_id"]).case.ticket_no == first


# ---- locations ----------------------------------------------------------------------------


@pytest.fixture
def places(city) -> dict[str, Any]:
    c1 = city.areas["c1"]
    inner = box(
        LON0 + 0.2 * STEP, LAT0 + 0.2 * STEP, LON0 + 0.8 * STEP, LAT0 + 0.8 * STEP
    )  # inside g2
    compound = Compound(name="幸福小区", community=c1)
    compound.set_geometry(inner)
    compound.save()
    lane = BackStreet(name="幸福巷", street=city.areas["sA"])
    lane.set_geometry(
        box(LON0 + 0.2 * STEP, LAT0 + 1.2 * STEP, LON0 + 1.8 * STEP, LAT0 + 1.3 * STEP)
    )  # inside g1
    lane.save()
    return {"compound": compound, "lane": lane}


def _located(client: Any, city: Any, key: str, **location: str) -> Case:
    data = {k: v for k, v in form(city, key).items() if k not in ("lat", "long")}
    response = post(client, {**data, **location})
    assert response.status_code == 201, response.content
    return Report.objects.get(ticket_no=parse_json(response)[0]["service_request_id"]).case


def test_address_id_may_be_a_grid_code_a_compound_or_a_back_street(
    client, city, key, places
) -> None:
    grid = city.areas["g4"]
    assert _located(client, city, key, address_id=grid.code).grid == grid
    case = _located(
        client, city, key, address_id=f"compound:{places['compound'].pk}", description="小区里垃圾"
    )
    assert case.grid == city.areas["g2"] and case.address == "幸福小区"
    assert places["compound"].shape.contains(Point(case.lon, case.lat))
    case = _located(
        client, city, key, address_id=f"backstreet:{places['lane'].pk}", description="巷子里垃圾"
    )
    assert case.grid == city.areas["g1"] and case.address == "幸福巷"


def test_address_string_naming_a_compound_is_located_and_kept(client, city, key, places) -> None:
    case = _located(client, city, key, address_string="东关街道幸福小区3号楼东侧")
    assert case.grid == city.areas["g2"]
    assert case.address == "东关街道幸福小区3号楼东侧"
    assert (
        parse_json(get(client, f"requests/{case.ticket_no}", "json"))[0]["address"]
        == "东关街道幸福小区3号楼东侧"
    )


def test_lat_and_long_win_over_an_address(client, city, key, places) -> None:
    lat, lon = city.point_in("g3")
    case = _located(client, city, key, lat=str(lat), long=str(lon), address_string="幸福小区北门")
    assert case.grid == city.areas["g3"] and case.address == "幸福小区北门"


@pytest.mark.parametrize(
    ("location", "needle"),
    [
        ({}, "A location is required"),
        ({"lat": "41.17"}, "both lat and long"),
        ({"lat": "91", "long": "80.26"}, "lat"),
        ({"lat": "abc", "long": "80.26"}, "number"),
        ({"lat": "nan", "long": "80.26"}, "finite"),
        ({"lat": "39.9", "long": "116.4"}, "outside every grid"),
        ({"address_id": "999999999999999"}, "address_id"),
        ({"address_id": "compound:99999"}, "address_id"),
        ({"address_id": "Main St 1"}, "address_id"),
        ({"address_string": "人民路100号"}, "No residential compound or back street"),
    ],
)
def test_a_missing_or_unresolvable_location_is_400_and_writes_nothing(
    client, city, key, places, location, needle
) -> None:
    data = {k: v for k, v in form(city, key).items() if k not in ("lat", "long")}
    before = written()
    assert needle in assert_json_error(post(client, {**data, **location}), 400)
    assert needle in assert_xml_error(post(client, {**data, **location}, fmt="xml"), 400)
    assert written() == before


def test_an_ambiguous_address_string_is_400(client, city, key, places) -> None:
    twin = Compound(name="幸福小区", community=city.areas["c2"])
    twin.set_geometry(
        box(LON0 + 2.2 * STEP, LAT0 + 0.2 * STEP, LON0 + 2.8 * STEP, LAT0 + 0.8 * STEP)
    )
    twin.save()
    data = {k: v for k, v in form(city, key).items() if k not in ("lat", "long")}
    assert "2 places" in assert_json_error(
        post(client, {**data, "address_string": "幸福小区5号楼"}), 400
    )


# ---- service and attributes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"service_code": ""}, "service_code was not provided"),
        ({"service_code": "NOPE"}, "not found"),
        ({"description": "x" * 4001}, "description"),
        ({"email": "not-an-address"}, "e-mail"),
        ({"phone": "call me maybe"}, "phone"),
        ({"first_name": "x" * 40}, "first_name"),
        ({"account_id": "a" * 101}, "account_id"),
        ({"description": "垃圾\u0000"}, "not allowed"),
    ],
)
def test_bad_fields_are_400_and_write_nothing(client, city, key, change, needle) -> None:
    before = written()
    assert needle in assert_json_error(post(client, {**form(city, key), **change}), 400)
    assert written() == before


def _cover(city: Any, key: str, **answers: Any) -> dict[str, Any]:
    return form(city, key, service_code="C0101", description="井盖有问题", **answers)


def test_required_attributes_are_enforced(client, city, key) -> None:
    before = written()
    message = assert_json_error(post(client, _cover(city, key)), 400)
    assert "attribute[cover_state] is required" in message and "cover" in message
    assert written() == before


@pytest.mark.parametrize(
    ("answers", "needle"),
    [
        ({"attribute[cover_state]": "stolen"}, "not one of the allowed values"),
        ({"attribute[cover_state]": ["missing", "broken"]}, "takes one value"),
        ({"attribute[cover_state]": "missing", "attribute[component_id]": "123"}, "expected form"),
        (
            {"attribute[cover_state]": "missing", "attribute[colour]": "red"},
            "no attribute “colour”",
        ),
    ],
)
def test_attribute_values_are_checked_against_the_definition(
    client, city, key, answers, needle
) -> None:
    before = written()
    assert needle in assert_json_error(post(client, _cover(city, key, **answers)), 400)
    assert written() == before


def test_answers_are_kept_with_the_description(client, city, key) -> None:
    response = post(
        client,
        _cover(
            city,
            key,
            **{"attribute[cover_state]": "missing", "attribute[component_id]": "6501020101000001"},
        ),
    )
    assert response.status_code == 201, response.content
    report = Report.objects.get(ticket_no=parse_json(response)[0]["service_request_id"])
    assert report.description == "井盖有问题\n\nCover: Missing\nComponent id: 6501020101000001"


def test_multivaluelist_number_datetime_and_informational_attributes(client, city, key) -> None:
    gas = form(city, key, service_code="E0403", description="闻到燃气味")
    ok = post(client, {**gas, "attribute[affected][]": ["pedestrians", "homes", "pedestrians"]})
    assert ok.status_code == 201, ok.content
    report = Report.objects.get(ticket_no=parse_json(ok)[0]["service_request_id"])
    assert report.description.endswith("Affects: Pedestrians、Homes")
    assert "allowed values" in assert_json_error(
        post(client, {**gas, "attribute[affected][]": ["pedestrians", "birds"]}), 400
    )
    assert "information for the user" in assert_json_error(
        post(client, {**gas, "attribute[emergency_notice]": "ok"}), 400
    )

    garbage = form(
        city,
        key,
        service_code="E0113",
        description="垃圾乱堆",
        lat=str(city.point_in("g3")[0]),
        long=str(city.point_in("g3")[1]),
    )
    assert "between" in assert_json_error(post(client, {**garbage, "attribute[area_m2]": "0"}), 400)
    assert "number" in assert_json_error(
        post(client, {**garbage, "attribute[area_m2]": "big"}), 400
    )
    assert post(client, {**garbage, "attribute[area_m2]": "12.5"}).status_code == 201

    noise = form(
        city,
        key,
        service_code="E0301",
        description="半夜施工",
        lat=str(city.point_in("g4")[0]),
        long=str(city.point_in("g4")[1]),
    )
    assert "time zone" in assert_json_error(
        post(client, {**noise, "attribute[observed_at]": "2026-11-23T23:00:00"}), 400
    )
    assert (
        post(client, {**noise, "attribute[observed_at]": "2026-11-23T23:00:00+08:00"}).status_code
        == 201
    )


def test_description_and_answers_must_fit_together(client, city, key) -> None:
    data = form(
        city,
        key,
        service_code="C0101",
        description="井" * 3990,
        **{"attribute[cover_state]": "missing"},
    )
    assert "together" in assert_json_error(post(client, data), 400)


# ---- api_key ------------------------------------------------------------------------------


def test_api_key_missing_unknown_revoked_expired_or_read_only_is_403(client, city) -> None:
    user, live = integration()
    read_only = integration("reader", scopes=("read",))[1]
    revoked_token, revoked = token_issue(user=user, name="old", scopes=["write"], by=user)
    token_revoke(token=revoked_token, by=user)
    expired = token_issue(
        user=user,
        name="expired",
        scopes=["write"],
        by=user,
        expires_at=timezone.now() - dt.timedelta(minutes=1),
    )[1]
    before = written()
    for bad in ("", "clk_nope_nope", live + "x", revoked, expired):
        message = assert_json_error(post(client, form(city, bad)), 403)
        assert "api_key" in message
        assert_xml_error(post(client, form(city, bad), fmt="xml"), 403)
    assert "write scope" in assert_json_error(post(client, form(city, read_only)), 403)
    assert written() == before


def test_api_key_may_come_in_the_query_string(client, city, key) -> None:
    data = {k: v for k, v in form(city, key).items() if k != "api_key"}
    assert client.post(f"/open311/v2/requests.json?api_key={key}", data).status_code == 201


def test_a_json_body_is_refused(client, city, key) -> None:
    response = client.post(
        "/open311/v2/requests.json", form(city, key), content_type="application/json"
    )
    assert "form-encoded" in assert_json_error(response, 400)


def test_a_broken_multipart_body_is_400(client, city, key) -> None:
    response = client.generic(
        "POST", "/open311/v2/requests.xml", b"--x\r\nnonsense", content_type="multipart/form-data"
    )
    assert "could not be read" in assert_xml_error(response, 400)


def test_jurisdiction_on_post(client, city, key) -> None:
    assert post(client, form(city, key, jurisdiction_id="650100")).status_code == 201
    before = written()
    assert_json_error(
        post(client, form(city, key, jurisdiction_id="elsewhere", description="另一处")), 404
    )
    assert written() == before


def test_a_token_is_limited_by_its_own_rate(client, city) -> None:
    user, _key = integration()
    _token, slow = token_issue(user=user, name="slow", scopes=["write"], by=user, rate_per_minute=1)
    assert post(client, form(city, slow)).status_code == 201
    refused = post(client, form(city, slow, description="再报一次"), fmt="xml")
    assert_xml_error(refused, 429)
    assert int(refused["Retry-After"]) >= 1


def test_errors_speak_the_callers_language(client, city, key) -> None:
    data = {**form(city, key), "lat": "39.9", "long": "116.4"}
    assert "outside every grid" in assert_json_error(post(client, data), 400)
    chinese = assert_json_error(post(client, data, HTTP_ACCEPT_LANGUAGE="zh-hans"), 400)
    assert "网格" in chinese


# ---- held for moderation, then tokens -----------------------------------------------------

SPAM = "垃圾很多 <script>alert(1)</script>"


def test_a_held_report_answers_a_token_and_never_both(client, city, key) -> None:
    cases_before = Case.objects.count()
    response = post(client, form(city, key, description=SPAM, account_id="wx-7"))
    assert response.status_code == 202, response.content
    body = parse_json(response)
    assert list(body[0]) == HELD_FIELDS and "service_request_id" not in body[0]
    assert body[0]["account_id"] == "wx-7"
    held = HeldReport.objects.get(token=body[0]["token"])
    assert held.channel == "open311" and held.original_description == SPAM
    assert held.status == HeldStatus.HELD
    assert Case.objects.count() == cases_before

    root = parse_xml(post(client, form(city, key, description=SPAM + " 2"), fmt="xml"))
    assert tags(root[0]) == HELD_FIELDS and root[0].findtext("token")


def test_a_token_turns_into_a_service_request_id_once_released(client, city, key) -> None:
    token = parse_json(post(client, form(city, key, description=SPAM)))[0]["token"]
    waiting = parse_json(get(client, f"tokens/{token}", "json"))
    assert waiting == [{"service_request_id": None, "token": token}]
    root = parse_xml(get(client, f"tokens/{token}", "xml"))
    assert root.tag == "service_requests" and tags(root[0]) == TOKEN_FIELDS
    assert root[0].find("service_request_id").text is None

    held_release(
        held=HeldReport.objects.get(token=token),
        by=city.users["dispatcher"],
        description="垃圾很多",
    )
    released = parse_json(get(client, f"tokens/{token}", "json"))
    ticket = released[0]["service_request_id"]
    assert ticket and released[0]["token"] == token
    assert (
        parse_xml(get(client, f"tokens/{token}", "")).findtext("request/service_request_id")
        == ticket
    )
    request = parse_json(get(client, f"requests/{ticket}", "json"))[0]
    assert request["description"] == "垃圾很多"


def test_a_rejected_or_unknown_token_is_404(client, city, key) -> None:
    token = parse_json(post(client, form(city, key, description=SPAM)))[0]["token"]
    held_reject(
        held=HeldReport.objects.get(token=token), by=city.users["dispatcher"], reason="广告"
    )
    assert "not published" in assert_json_error(get(client, f"tokens/{token}", "json"), 404)
    assert_xml_error(get(client, f"tokens/{token}", "xml"), 404)
    assert_json_error(get(client, "tokens/unknown-token", "json"), 404)
    assert_json_error(client.get("/open311/v2/tokens/%00.json"), 404)


def test_held_reports_are_not_listed(client, city, key) -> None:
    post(client, form(city, key, description=SPAM))
    assert parse_json(get(client, "requests", "json")) == []


# ---- photos ---------------------------------------------------------------------------------


def _jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (40, 30), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


class _Photos(BaseHTTPRequestHandler):
    seen: list[str] = []
    body = b""

    def do_GET(self) -> None:  # noqa: N802
        type(self).seen.append(self.path)
        if self.path.startswith("/missing"):
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def photo_server() -> Iterator[str]:
    _Photos.seen = []
    _Photos.body = _jpeg_with_exif()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Photos)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_media_url_is_fetched_checked_and_served_as_our_own_copy(
    client, city, key, settings, photo_server
) -> None:
    settings.CIVICLOOP = {**settings.CIVICLOOP, "OPEN311_MEDIA_ALLOW_PRIVATE": True}
    response = post(client, form(city, key, media_url=f"{photo_server}/p/cover.jpg"))
    assert response.status_code == 201, response.content
    assert _Photos.seen == ["/p/cover.jpg"]
    ticket = parse_json(response)[0]["service_request_id"]
    photo = Photo.objects.get(case__reports__ticket_no=ticket)
    media_url = parse_json(get(client, f"requests/{ticket}", "json"))[0]["media_url"]
    assert media_url == f"http://testserver{photo.image.url}"
    served = client.get(photo.image.url)
    public = Image.open(io.BytesIO(b"".join(served.streaming_content)))
    assert not public.getexif()  # EXIF stripped from what anyone can see
    assert photo.exif["make"] == "SecretCam"  # kept privately, with the original


def test_media_url_on_a_private_address_is_refused_without_a_request(
    client, city, key, photo_server
) -> None:
    before = written()
    message = assert_json_error(
        post(client, form(city, key, media_url=f"{photo_server}/p/cover.jpg")), 400
    )
    assert "public internet" in message
    assert _Photos.seen == [] and written() == before


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("ftp://example.org/a.jpg", "http"),
        ("http://user:pw@example.org/a.jpg", "credentials"),
        ("http://[::1/a.jpg", "valid URL"),
        ("http://example.org:99999/a.jpg", "valid URL"),
    ],
)
def test_bad_media_urls_are_400(client, city, key, url, needle) -> None:
    assert needle in assert_json_error(post(client, form(city, key, media_url=url)), 400)


def test_media_url_answering_an_error_or_not_a_photo_is_400(
    client, city, key, settings, photo_server
) -> None:
    settings.CIVICLOOP = {**settings.CIVICLOOP, "OPEN311_MEDIA_ALLOW_PRIVATE": True}
    before = written()
    assert "404" in assert_json_error(
        post(client, form(city, key, media_url=f"{photo_server}/missing.jpg")), 400
    )
    _Photos.body = b"<html>not a photo</html>"
    assert_json_error(post(client, form(city, key, media_url=f"{photo_server}/page.html")), 400)
    assert written() == before


def test_media_fetching_can_be_switched_off(client, city, key, settings) -> None:
    settings.CIVICLOOP = {**settings.CIVICLOOP, "OPEN311_MEDIA_FETCH": False}
    assert "does not fetch" in assert_json_error(
        post(client, form(city, key, media_url="https://example.org/a.jpg")), 400
    )


def test_a_photo_may_also_be_uploaded_as_media(client, city, key) -> None:
    response = post(client, {**form(city, key), "media": jpeg_upload()})
    assert response.status_code == 201, response.content
    ticket = parse_json(response)[0]["service_request_id"]
    assert parse_json(get(client, f"requests/{ticket}", "json"))[0]["media_url"].startswith(
        "http://testserver/media/"
    )


def test_nothing_is_fetched_for_an_otherwise_bad_request(
    client, city, key, settings, photo_server
) -> None:
    settings.CIVICLOOP = {**settings.CIVICLOOP, "OPEN311_MEDIA_ALLOW_PRIVATE": True}
    data = form(city, key, email="not-an-address", media_url=f"{photo_server}/p/cover.jpg")
    assert "e-mail" in assert_json_error(post(client, data), 400)
    assert _Photos.seen == []
