"""Open311 GeoReport v2, read side, checked against the specification
(wiki.open311.org/GeoReport_v2): discovery, services, service definitions, requests and
one request, in XML (also without a suffix) and JSON; element names and order; statuses;
date filters and their 90-day limit; service_request_id overriding every filter;
jurisdiction_id; the error bodies; the rate limit; no contact details, ever."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.utils import timezone

from civicloop.cases.actions import case_dispatch, case_register
from civicloop.cases.models import Category, State
from civicloop.testing import T0, Loop, jpeg_upload

from .test_open311_support import (
    ATTRIBUTE_FIELDS,
    DEFINITION_FIELDS,
    DISCOVERY_FIELDS,
    ENDPOINT_FIELDS,
    REQUEST_FIELDS,
    SERVICE_FIELDS,
    VALUE_FIELDS,
    assert_json_error,
    assert_xml_error,
    generous_limits,  # noqa: F401  (fixture)
    get,
    parse_json,
    parse_xml,
    tags,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_limits")]

ISO_WITH_ZONE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:Z|[+-]\d\d:\d\d)$")
AROUND_T0 = {
    "start_date": (T0 - dt.timedelta(days=1)).isoformat(),
    "end_date": (T0 + dt.timedelta(days=30)).isoformat(),
}


def _local(value: dt.datetime) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds")


# ---- discovery ------------------------------------------------------------------------------


def test_discovery_in_both_formats_and_xml_without_a_suffix(client, city) -> None:
    for fmt in ("xml", ""):
        root = parse_xml(get(client, "discovery", fmt))
        assert root.tag == "discovery"
        assert tags(root) == DISCOVERY_FIELDS
        assert tags(root.find("endpoints")) == ["endpoint"]
        endpoint = root.find("endpoints/endpoint")
        assert tags(endpoint) == ENDPOINT_FIELDS
        assert endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint.findtext("url") == "http://testserver/open311/v2"
        assert endpoint.findtext("type") == "production"
        assert [f.text for f in endpoint.find("formats")] == ["text/xml", "application/json"]
        assert all(child.tag == "format" for child in endpoint.find("formats"))
        assert ISO_WITH_ZONE.match(root.findtext("changeset"))
    body = parse_json(get(client, "discovery", "json"))
    assert list(body) == DISCOVERY_FIELDS
    assert list(body["endpoints"][0]) == ENDPOINT_FIELDS
    assert body["endpoints"][0]["formats"] == ["text/xml", "application/json"]


# ---- services -------------------------------------------------------------------------------


def test_services_list_every_active_category_with_the_spec_fields(client, city) -> None:
    Category.objects.filter(code="C0199").update(active=False)
    active = list(Category.objects.filter(active=True).values_list("code", flat=True))
    root = parse_xml(get(client, "services", "xml"))
    assert root.tag == "services"
    assert set(tags(root)) == {"service"}
    assert sorted(s.findtext("service_code") for s in root) == sorted(active)
    for service in root:
        assert tags(service) == SERVICE_FIELDS
        assert service.findtext("metadata") in ("true", "false")
        assert service.findtext("type") == "realtime"
    by_code = {s.findtext("service_code"): s for s in root}
    cover = by_code["C0101"]
    assert cover.findtext("service_name") == "Water supply manhole cover"  # English caller
    assert cover.findtext("metadata") == "true"
    assert "公用设施" in cover.findtext("group")
    assert "上水井盖" in cover.findtext("keywords")
    assert "2 hours" in cover.findtext("description")  # the GB/T 30428 time limit
    assert by_code["E0201"].findtext("metadata") == "false"  # no questions for illegal ads

    body = parse_json(get(client, "services", "json"))
    assert len(body) == len(active)
    assert all(list(s) == SERVICE_FIELDS for s in body)
    assert {s["service_code"]: s["metadata"] for s in body}["C0101"] is True


def test_service_names_follow_the_callers_language(client, city) -> None:
    body = parse_json(client.get("/open311/v2/services.json", HTTP_ACCEPT_LANGUAGE="zh-hans"))
    assert {s["service_code"]: s["service_name"] for s in body}["C0101"] == "上水井盖"


def test_a_service_definition_lists_its_attributes_in_order(client, city) -> None:
    root = parse_xml(get(client, "services/C0101", "xml"))
    assert root.tag == "service_definition"
    assert tags(root) == DEFINITION_FIELDS
    assert root.findtext("service_code") == "C0101"
    attributes = root.find("attributes")
    assert set(tags(attributes)) == {"attribute"}
    codes = [a.findtext("code") for a in attributes]
    assert codes == ["cover_state", "component_id"]
    cover, component = list(attributes)
    assert tags(cover) == [*ATTRIBUTE_FIELDS, "values"]
    assert tags(component) == ATTRIBUTE_FIELDS  # values only for list types
    assert cover.findtext("variable") == "true"
    assert cover.findtext("datatype") == "singlevaluelist"
    assert cover.findtext("required") == "true"
    assert [a.findtext("order") for a in attributes] == ["1", "2"]
    assert all(tags(v) == VALUE_FIELDS for v in cover.find("values"))
    assert [v.findtext("key") for v in cover.find("values")][:2] == ["missing", "broken"]
    assert component.findtext("datatype") == "string"

    body = parse_json(get(client, "services/C0101", "json"))
    assert list(body) == DEFINITION_FIELDS
    first = body["attributes"][0]
    assert list(first) == [*ATTRIBUTE_FIELDS, "values"]
    assert first["variable"] is True and first["required"] is True and first["order"] == 1
    assert first["values"][0] == {"key": "missing", "name": "Missing"}


def test_an_informational_attribute_is_not_variable(client, city) -> None:
    body = parse_json(get(client, "services/E0403", "json"))  # gas pipe rupture
    notice = body["attributes"][0]
    assert notice["code"] == "emergency_notice" and notice["variable"] is False
    assert "119" in notice["description"]


def test_a_service_without_attributes_has_an_empty_definition(client, city) -> None:
    root = parse_xml(get(client, "services/E0201", "xml"))
    assert tags(root) == DEFINITION_FIELDS and len(root.find("attributes")) == 0
    assert parse_json(get(client, "services/E0201", "json")) == {
        "service_code": "E0201",
        "attributes": [],
    }


@pytest.mark.parametrize("code", ["NOPE", "C0199x", "%00", "a" * 80])
def test_an_unknown_service_is_404_in_both_formats(client, city, code: str) -> None:
    Category.objects.filter(code="C0199").update(active=False)
    assert "not found" in assert_xml_error(client.get(f"/open311/v2/services/{code}.xml"), 404)
    assert_json_error(client.get(f"/open311/v2/services/{code}.json"), 404)
    assert_json_error(client.get("/open311/v2/services/C0199.json"), 404)  # inactive


def test_an_unknown_format_or_resource_is_a_404_error_body(client, city) -> None:
    assert "format" in assert_xml_error(client.get("/open311/v2/services.html"), 404)
    assert_xml_error(client.get("/open311/v2/nothing/here"), 404)
    assert_json_error(client.get("/open311/v2/nothing.json"), 404)


def test_a_wrong_method_is_refused_with_an_error_body(client, city) -> None:
    response = client.put("/open311/v2/services.json")
    assert_json_error(response, 405)
    assert response["Allow"] == "GET, HEAD"
    assert client.head("/open311/v2/services.xml").status_code == 200


# ---- requests -------------------------------------------------------------------------------


@pytest.fixture
def cases(city) -> dict[str, Any]:
    """One case per interesting state, reported from T0 on (the Loop's clock)."""
    loop = Loop(city)
    made = {
        "reported": loop.report(
            description="小区门口垃圾堆放，联系我 13912345678 或 me@example.com",
            name="王五",
            phone="13800000000",
            email="wangwu@example.com",
            photos=[jpeg_upload()],
        ).case,
        "dispatched": loop.to(State.DISPATCHED, category="E0113", grid="g2"),
        "closed": loop.to(State.CLOSED),
        "rejected": loop.to(State.REJECTED, photos=[jpeg_upload("r.jpg")]),
        "voided": loop.to(State.VOIDED),
        "deferred": loop.to(State.DEFERRED),
    }
    return made


def _by_id(body: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["service_request_id"]: r for r in body}


def test_requests_in_both_formats_with_the_spec_fields_in_order(client, cases) -> None:
    root = parse_xml(get(client, "requests", "xml", **AROUND_T0))
    assert root.tag == "service_requests"
    assert set(tags(root)) == {"request"}
    assert len(root) == len(cases)
    for request in root:
        assert tags(request) == REQUEST_FIELDS
    assert (
        parse_xml(get(client, "requests", "", **AROUND_T0)).tag == "service_requests"
    )  # XML without suffix
    body = parse_json(get(client, "requests", "json", **AROUND_T0))
    assert [list(r) for r in body] == [REQUEST_FIELDS] * len(cases)
    # Newest first.
    assert [r["requested_datetime"] for r in body] == sorted(
        (r["requested_datetime"] for r in body), reverse=True
    )


def test_states_map_to_open_and_closed_by_their_kind(client, cases) -> None:
    body = _by_id(parse_json(get(client, "requests", "json", **AROUND_T0)))
    expected = {
        "reported": "open",
        "dispatched": "open",
        "deferred": "open",
        "closed": "closed",
        "rejected": "closed",
        "voided": "closed",
    }
    for key, status in expected.items():
        assert body[cases[key].ticket_no]["status"] == status, key


def test_a_request_carries_deadline_unit_dates_place_and_photo(client, cases) -> None:
    case = cases["dispatched"]
    case.refresh_from_db()
    row = _by_id(parse_json(get(client, "requests", "json", **AROUND_T0)))[case.ticket_no]
    assert row["expected_datetime"] == _local(case.deadline_at)
    assert ISO_WITH_ZONE.match(row["expected_datetime"]) and row["expected_datetime"].endswith(
        "+08:00"
    )
    assert row["agency_responsible"] == case.unit.name
    assert row["service_code"] == "E0113"
    assert row["service_name"] == "Garbage piled up"
    assert row["requested_datetime"] == _local(case.reported_at)
    assert row["updated_datetime"] == _local(case.events.order_by("-created_at").first().created_at)
    assert row["status_notes"] == "Sent to the unit responsible."
    assert row["address_id"] == case.grid.code
    assert row["address"] == case.grid.name  # no address given: the grid names the place
    assert row["lat"] == pytest.approx(case.lat) and row["long"] == pytest.approx(case.lon)
    assert row["zipcode"] is None
    assert "hours" in row["service_notice"]

    reported = _by_id(parse_json(get(client, "requests", "json", **AROUND_T0)))[
        cases["reported"].ticket_no
    ]
    assert reported["expected_datetime"] is None and reported["agency_responsible"] is None
    photo = cases["reported"].photos.get()
    assert reported["media_url"] == f"http://testserver{photo.image.url}"
    assert client.get(photo.image.url).status_code == 200  # the public, EXIF-stripped copy

    xml = parse_xml(get(client, "requests", "xml", **AROUND_T0))
    by_ticket = {r.findtext("service_request_id"): r for r in xml}
    assert by_ticket[cases["reported"].ticket_no].find("expected_datetime").text is None
    assert by_ticket[case.ticket_no].findtext("long") == str(case.lon)


def test_closed_cases_tell_why_and_rejected_ones_hide_text_and_photos(client, cases) -> None:
    body = _by_id(parse_json(get(client, "requests", "json", **AROUND_T0)))
    closed = body[cases["closed"].ticket_no]
    assert closed["status_notes"] == "Checked on site and closed."
    assert closed["media_url"]  # the after-photo of the feedback
    rejected = body[cases["rejected"].ticket_no]
    assert rejected["status_notes"] == "Not registered. 重复上报，已有同类工单"
    assert rejected["description"] is None and rejected["media_url"] is None
    voided = body[cases["voided"].ticket_no]
    assert voided["status_notes"] == "Voided." and voided["description"] is None


def test_no_reporter_contact_ever_appears(client, cases) -> None:
    for fmt in ("xml", "json"):
        for response in (
            get(client, "requests", fmt, **AROUND_T0),
            get(client, f"requests/{cases['reported'].ticket_no}", fmt),
        ):
            text = response.content.decode("utf-8")
            for secret in (
                "王五",
                "13800000000",
                "wangwu@example.com",
                "13912345678",
                "me@example.com",
            ):
                assert secret not in text, (fmt, secret)
    row = _by_id(parse_json(get(client, "requests", "json", **AROUND_T0)))[
        cases["reported"].ticket_no
    ]
    assert row["description"] == "小区门口垃圾堆放，联系我 *** 或 ***"


def test_the_default_is_the_last_90_days(client, city) -> None:
    now = timezone.now()
    recent = Loop(city, t0=now - dt.timedelta(days=2)).report().case
    old = Loop(city, t0=now - dt.timedelta(days=95)).report(detect_duplicates=False).case
    ids = [r["service_request_id"] for r in parse_json(get(client, "requests", "json"))]
    assert recent.ticket_no in ids and old.ticket_no not in ids


def test_date_filters_select_by_the_requested_time(client, city) -> None:
    loop = Loop(city)
    first = loop.report().case
    loop.tick(60 * 24 * 3)
    second = loop.report(detect_duplicates=False).case
    middle = (T0 + dt.timedelta(days=2)).isoformat()

    def ids(**p: str) -> list[str]:
        return [r["service_request_id"] for r in parse_json(get(client, "requests", "json", **p))]

    assert ids(start_date=middle) == [second.ticket_no]
    assert ids(end_date=middle) == [first.ticket_no]
    assert ids(start_date=T0.isoformat(), end_date=(T0 + dt.timedelta(days=5)).isoformat()) == [
        second.ticket_no,
        first.ticket_no,
    ]
    utc = (T0 - dt.timedelta(hours=1)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(start_date=utc, end_date=middle) == [first.ticket_no]


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        (
            {"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-05-01T00:00:00+08:00"},
            "90 days",
        ),
        (
            {"start_date": "2026-05-01T00:00:00+08:00", "end_date": "2026-01-01T00:00:00+08:00"},
            "before",
        ),
        ({"start_date": "2026-11-01T00:00:00"}, "time zone"),
        ({"end_date": "yesterday"}, "ISO 8601"),
        ({"start_date": "9999-12-01T00:00:00Z"}, "years"),
        ({"status": "pending"}, "status"),
        ({"status": "open,closed,open,x"}, "status"),
        ({"service_code": "NOPE"}, "not found"),
        ({"service_code": "C0101,\u0000"}, "not allowed"),
        ({"page": "0"}, "page"),
        ({"page_size": "1001"}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"service_request_id": "a b"}, "service_request_id"),
    ],
)
def test_bad_filters_are_400_in_both_formats(
    client, city, query: dict[str, str], needle: str
) -> None:
    assert needle in assert_json_error(get(client, "requests", "json", **query), 400)
    assert needle in assert_xml_error(get(client, "requests", "xml", **query), 400)


def test_status_and_service_code_filters(client, cases) -> None:
    def ids(**p: str) -> set[str]:
        return {
            r["service_request_id"]
            for r in parse_json(get(client, "requests", "json", **AROUND_T0, **p))
        }

    closed = {cases[k].ticket_no for k in ("closed", "rejected", "voided")}
    everything = {c.ticket_no for c in cases.values()}
    assert ids(status="closed") == closed
    assert ids(status="open") == everything - closed
    assert ids(status="open,closed") == ids(status="Closed,OPEN") == everything
    assert ids(service_code="E0113") == {cases["dispatched"].ticket_no}
    assert ids(service_code="E0113,E0102") == everything


def test_service_request_id_overrides_every_other_parameter(client, cases) -> None:
    wanted = [cases["closed"].ticket_no, cases["dispatched"].ticket_no, "20000101-000001"]
    response = get(
        client,
        "requests",
        "json",
        service_request_id=",".join(wanted),
        status="open",
        service_code="C0101",
        start_date="2020-01-01T00:00:00Z",
        end_date="2020-01-02T00:00:00Z",
        page_size="1",
    )
    assert [r["service_request_id"] for r in parse_json(response)] == wanted[
        :2
    ]  # in the order asked; unknown left out
    root = parse_xml(
        get(client, "requests", "xml", service_request_id=wanted[1], start_date="nonsense")
    )
    assert [r.findtext("service_request_id") for r in root] == [wanted[1]]


def test_pages_with_page_and_page_size(client, cases) -> None:
    first = get(client, "requests", "json", page_size="4", **AROUND_T0)
    assert len(parse_json(first)) == 4
    assert 'rel="next"' in first["Link"] and "page=2" in first["Link"]
    second = get(client, "requests", "json", page_size="4", page="2", **AROUND_T0)
    assert len(parse_json(second)) == 2 and not second.has_header("Link")
    seen = [r["service_request_id"] for r in parse_json(first) + parse_json(second)]
    assert sorted(seen) == sorted(c.ticket_no for c in cases.values())


def test_the_list_loads_in_a_fixed_number_of_queries(client, city) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    loop = Loop(city)
    loop.to(State.CLOSED)
    with CaptureQueriesContext(connection) as one:
        assert len(parse_json(get(client, "requests", "json", **AROUND_T0))) == 1
    for _ in range(12):
        loop.to(State.CLOSED)
    with CaptureQueriesContext(connection) as thirteen:
        assert len(parse_json(get(client, "requests", "json", **AROUND_T0))) == 13
    # The rate-limit counter's row exists by the second call: at most as many queries.
    assert len(thirteen) <= len(one)


# ---- one request ----------------------------------------------------------------------------


def test_one_request_is_a_one_element_list(client, cases) -> None:
    ticket = cases["closed"].ticket_no
    root = parse_xml(get(client, f"requests/{ticket}", "xml"))
    assert root.tag == "service_requests" and tags(root) == ["request"]
    assert tags(root[0]) == REQUEST_FIELDS and root[0].findtext("service_request_id") == ticket
    assert parse_xml(get(client, f"requests/{ticket}", "")).tag == "service_requests"
    body = parse_json(get(client, f"requests/{ticket}", "json"))
    assert len(body) == 1 and body[0]["status"] == "closed"


def test_a_joined_report_is_found_under_its_own_ticket(client, city) -> None:
    loop = Loop(city)
    first = loop.report(description="垃圾没人清")
    joined = loop.report(by="resident2", description="同一处垃圾又多了")
    assert joined.case_id == first.case_id and joined.ticket_no != first.ticket_no
    body = parse_json(get(client, f"requests/{joined.ticket_no}", "json"))
    assert body[0]["service_request_id"] == joined.ticket_no
    assert body[0]["description"] == "同一处垃圾又多了"
    listed = [
        r["service_request_id"] for r in parse_json(get(client, "requests", "json", **AROUND_T0))
    ]
    assert listed == [first.ticket_no]  # a case is listed once, under its own ticket


@pytest.mark.parametrize("ticket", ["20261117-999999", "nonsense", "%00", "x" * 70])
def test_an_unknown_request_is_404(client, city, ticket: str) -> None:
    assert_json_error(client.get(f"/open311/v2/requests/{ticket}.json"), 404)
    assert_xml_error(client.get(f"/open311/v2/requests/{ticket}.xml"), 404)


# ---- jurisdiction, language, limits ---------------------------------------------------------

READS = ["discovery", "services", "services/C0101", "requests"]


@pytest.mark.parametrize("path", READS)
def test_jurisdiction_id_is_the_citys_code_and_a_wrong_one_is_404(client, city, path: str) -> None:
    assert get(client, path, "json", jurisdiction_id="650100").status_code == 200  # 示范市
    assert get(client, path, "json").status_code == 200  # optional: one jurisdiction only
    assert "650100" in assert_json_error(get(client, path, "json", jurisdiction_id="110000"), 404)
    assert_xml_error(get(client, path, "xml", jurisdiction_id="110000"), 404)


def test_a_configured_jurisdiction_replaces_the_citys_code(client, city, settings) -> None:
    settings.CIVICLOOP = {**settings.CIVICLOOP, "OPEN311_JURISDICTION": "shifan.example.gov.cn"}
    assert (
        get(client, "services", "xml", jurisdiction_id="shifan.example.gov.cn").status_code == 200
    )
    assert "shifan.example.gov.cn" in assert_xml_error(
        get(client, "services", "xml", jurisdiction_id="650100"), 404
    )


def test_errors_speak_the_callers_language(client, city) -> None:
    english = assert_json_error(client.get("/open311/v2/requests.json", {"status": "x"}), 400)
    chinese = assert_json_error(
        client.get("/open311/v2/requests.json", {"status": "x"}, HTTP_ACCEPT_LANGUAGE="zh-hans"),
        400,
    )
    assert english.startswith("status must be")
    # Until the catalogue has this message, Chinese callers read the English text; the
    # POST tests check a translated message end to end.
    assert chinese


def test_too_many_requests_is_429_with_retry_after(client, city, settings) -> None:
    settings.CIVICLOOP = {**settings.CIVICLOOP, "API_IP_RATE_PER_MINUTE": 2}
    assert get(client, "services", "json").status_code == 200
    assert get(client, "discovery", "xml").status_code == 200
    refused = get(client, "requests", "xml")
    assert "Too many requests" in assert_xml_error(refused, 429)
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert_json_error(get(client, "services", "json"), 429)


def test_dispatching_changes_the_request(client, city) -> None:
    loop = Loop(city)
    case = loop.report().case
    ticket = case.ticket_no
    before = parse_json(get(client, f"requests/{ticket}", "json"))[0]
    d = city.users["dispatcher"]
    case = case_register(case=case, by=d, at=loop.tick())
    case = case_dispatch(case=case, by=d, at=loop.tick())
    after = parse_json(get(client, f"requests/{ticket}", "json"))[0]
    assert before["status"] == after["status"] == "open"
    assert before["agency_responsible"] is None and after["agency_responsible"] == case.unit.name
    assert after["updated_datetime"] > before["updated_datetime"]


def test_text_xml_cannot_carry_is_dropped_not_fatal(client, city) -> None:
    case = (
        Loop(city).report(description="垃圾\x0b堆放\x1f三天").case
    )  # came in through another door
    root = parse_xml(get(client, f"requests/{case.ticket_no}", "xml"))
    assert root.findtext("request/description") == "垃圾堆放三天"
    assert (
        parse_json(get(client, f"requests/{case.ticket_no}", "json"))[0]["description"]
        == "垃圾\x0b堆放\x1f三天"
    )


def test_browser_apps_may_read_from_anywhere(client, city) -> None:
    assert get(client, "services", "json")["Access-Control-Allow-Origin"] == "*"


# ---- attributes are data --------------------------------------------------------------------


def test_the_shipped_attribute_rules_name_real_categories(city) -> None:
    from civicloop.api.open311.attributes import catalogue

    attributes, rules = catalogue()
    codes = set(Category.objects.values_list("code", flat=True))
    for rule in rules:
        assert rule.codes <= codes, rule.codes - codes
        assert rule.codes or rule.family in ("component", "event")
    for attribute in attributes.values():
        assert attribute.description.get("zh-hans") and attribute.description.get("en"), (
            attribute.code
        )
        assert not attribute.variable or (
            attribute.label.get("zh-hans") and attribute.label.get("en")
        ), attribute.code


def test_a_city_can_ship_its_own_questions(client, city, settings, tmp_path) -> None:
    own = tmp_path / "attributes.json"
    own.write_text(
        '{"attributes": {"plate": {"datatype": "string", "required": true, "label": {"en": "Plate"},'
        ' "description": {"zh-hans": "车牌号", "en": "Number plate"}}},'
        ' "rules": [{"codes": ["E0505"], "attributes": ["plate"]}]}',
        encoding="utf-8",
    )
    settings.CIVICLOOP = {**settings.CIVICLOOP, "OPEN311_ATTRIBUTES_FILE": str(own)}
    body = parse_json(get(client, "services/E0505", "json"))
    assert [a["code"] for a in body["attributes"]] == ["plate"]
    assert body["attributes"][0]["description"] == "Number plate"
    assert parse_json(get(client, "services/C0101", "json"))["attributes"] == []


def test_a_broken_attribute_file_is_refused_with_its_reason(settings, tmp_path) -> None:
    from civicloop.api.open311.attributes import AttributeFileError, catalogue

    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"attributes": {"x": {"datatype": "singlevaluelist"}}, "rules": []}', encoding="utf-8"
    )
    settings.CIVICLOOP = {**settings.CIVICLOOP, "OPEN311_ATTRIBUTES_FILE": str(bad)}
    with pytest.raises(AttributeFileError, match="values are required"):
        catalogue()
