"""No input makes Open311 fail: random paths, query strings and form bodies (hypothesis)
against every endpoint always get an answer of the specification's kind — a document or
its error list, parseable, in the asked format — and never a server error."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote, unquote

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from civicloop.api.open311 import media
from civicloop.testing import Loop

from .test_open311_support import ERROR_FIELDS, generous_limits, integration  # noqa: F401  (fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_limits")]

EXPECTED = {200, 201, 202, 400, 403, 404, 405, 429}
FUZZ = hsettings(
    max_examples=150,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Any text a client could send (lone surrogates cannot be encoded into a request at all).
anything = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
likely = st.sampled_from(
    [
        "",
        "0",
        "-1",
        "1",
        "1000",
        "1001",
        "99999999999999999999",
        "1e309",
        "nan",
        "inf",
        "-0",
        "open",
        "closed",
        "open,closed",
        ",,",
        "C0101",
        "E0102,C0101",
        "E0403",
        "2026-11-17T10:00:00+08:00",
        "2026-11-17T10:00:00Z",
        "2026-11-17",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+14:00",
        "2999-12-31T00:00:00Z",
        "1900-01-01T00:00:00+14:00",
        "41.169",
        "80.263",
        "650102001001001",
        "compound:1",
        "backstreet:0",
        "missing",
        "pedestrians",
        "幸福小区",
        "http://example.invalid/a.jpg",
        "\x00",
        "<a>&amp;</a>",
    ]
)
value = st.one_of(likely, anything)
known = st.sampled_from(
    [
        "service_request_id",
        "service_code",
        "start_date",
        "end_date",
        "status",
        "page",
        "page_size",
        "jurisdiction_id",
        "api_key",
        "lat",
        "long",
        "address_string",
        "address_id",
        "email",
        "device_id",
        "account_id",
        "first_name",
        "last_name",
        "phone",
        "description",
        "media_url",
        "attribute[cover_state]",
        "attribute[affected][]",
        "attribute[area_m2]",
        "attribute[observed_at]",
        "attribute[component_id]",
        "attribute[]",
        "attribute[x][y]",
    ]
)
fields = st.dictionaries(
    st.one_of(known, anything.filter(bool)),
    st.one_of(value, st.lists(value, max_size=3)),
    max_size=8,
)
segment = st.one_of(st.sampled_from(["C0101", "E0102", "20261117-000001", "x"]), anything)
paths = st.one_of(
    st.sampled_from(["discovery", "services", "requests"]),
    st.builds(lambda s: f"services/{quote(s, safe='')}", segment),
    st.builds(lambda s: f"requests/{quote(s, safe='')}", segment),
    st.builds(lambda s: f"tokens/{quote(s, safe='')}", segment),
    st.builds(lambda s: quote(s, safe="/"), anything),
)
suffixes = st.sampled_from([".xml", ".json", "", ".html", ".JSON"])


def _check(response: Any, path: str) -> None:
    """``path``: the resource as the server decodes it; only a .json one answers JSON."""
    assert response.status_code in EXPECTED, (response.status_code, response.content[:300])
    content_type = response["Content-Type"]
    if content_type.startswith("application/json"):
        assert content_type == "application/json; charset=utf-8"
        assert path.lower().endswith(".json"), path
        body = json.loads(response.content.decode("utf-8"))
        if response.status_code >= 400:
            assert isinstance(body, list) and [list(e) for e in body] == [ERROR_FIELDS]
            assert body[0]["code"] == response.status_code
    else:
        assert content_type == "text/xml; charset=utf-8", content_type
        assert not path.lower().endswith(".json") or response.status_code == 405, path
        root = ET.fromstring(response.content)
        if response.status_code >= 400:
            assert root.tag == "errors" and [c.tag for c in root[0]] == ERROR_FIELDS
            assert root[0].findtext("code") == str(response.status_code)


@pytest.fixture
def no_network(monkeypatch: Any) -> None:
    def refuse(host: str, port: int) -> list[str]:
        raise OSError("no network in tests")

    monkeypatch.setattr(media, "resolve", refuse)


@pytest.fixture
def some_cases(city) -> None:
    loop = Loop(city)
    loop.report(name="张三", phone="13800000000")
    loop.to("closed")
    loop.to("rejected")


@FUZZ
@given(path=paths, suffix=suffixes, query=fields)
def test_any_get_is_answered_in_the_spec_format(
    client, some_cases, no_network, path: str, suffix: str, query: dict[str, Any]
) -> None:
    response = client.get(f"/open311/v2/{path}{suffix}", query)
    _check(response, unquote(path + suffix))
    assert "13800000000" not in response.content.decode("utf-8")


@FUZZ
@given(suffix=st.sampled_from([".xml", ".json", ""]), body=fields, use_key=st.booleans())
def test_any_post_is_answered_in_the_spec_format(
    client, city, no_network, suffix: str, body: dict[str, Any], use_key: bool
) -> None:
    if use_key:
        body = {**body, "api_key": integration(rate_per_minute=100_000)[1]}
    _check(client.post(f"/open311/v2/requests{suffix}", body), f"requests{suffix}")


@FUZZ
@given(
    raw=st.binary(max_size=200),
    content_type=st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "multipart/form-data; boundary=x",
            "text/plain",
            "",
        ]
    ),
)
def test_any_post_body_is_answered_in_the_spec_format(
    client, city, raw: bytes, content_type: str
) -> None:
    _check(
        client.generic("POST", "/open311/v2/requests.json", raw, content_type=content_type),
        "requests.json",
    )


@FUZZ
@given(
    service=st.sampled_from(["E0102", "C0101", "E0403", "E0113", "E0301", "E0408", "C0118"]),
    grid=st.sampled_from(["g1", "g2", "g3", "g4"]),
    overrides=fields,
)
def test_any_change_to_a_valid_post_is_answered_in_the_spec_format(
    client, city, no_network, service: str, grid: str, overrides: dict[str, Any]
) -> None:
    """Starting from a form that would be accepted, so the checks deep inside (attributes,
    contacts, moderation, the case engine) see the odd values too."""
    lat, lon = city.point_in(grid)
    answers = {
        "C0101": {"attribute[cover_state]": "missing"},
        "C0118": {"attribute[lamp_state]": "dark"},
    }
    body = {
        "api_key": integration(rate_per_minute=100_000)[1],
        "service_code": service,
        "lat": str(lat),
        "long": str(lon),
        "description": "路面有问题",
        **answers.get(service, {}),
        **overrides,
    }
    _check(client.post("/open311/v2/requests.json", body), "requests.json")
