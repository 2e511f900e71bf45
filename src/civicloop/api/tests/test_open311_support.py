"""What the Open311 tests share: the specification's element names and order, calls in
both formats, and an integration account with an API key. (No tests of its own.)"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from django.test import Client

from civicloop.api.tokens import token_issue
from civicloop.org.models import User

BASE = "/open311/v2"
XML_TYPE = "text/xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"

# Element names and order, as the GeoReport v2 specification lists them.
DISCOVERY_FIELDS = ["changeset", "contact", "key_service", "endpoints"]
ENDPOINT_FIELDS = ["specification", "url", "changeset", "type", "formats"]
SERVICE_FIELDS = [
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
]
DEFINITION_FIELDS = ["service_code", "attributes"]
ATTRIBUTE_FIELDS = [
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
]
VALUE_FIELDS = ["key", "name"]
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
CREATED_FIELDS = ["service_request_id", "service_notice", "account_id"]
HELD_FIELDS = ["token", "service_notice", "account_id"]
TOKEN_FIELDS = ["service_request_id", "token"]
ERROR_FIELDS = ["code", "description"]


@pytest.fixture
def generous_limits(settings: Any) -> None:
    """Tests call far more often than a client may; the limit has its own test."""
    settings.CIVICLOOP = {**settings.CIVICLOOP, "API_IP_RATE_PER_MINUTE": 100_000}


def tags(element: ET.Element) -> list[str]:
    return [child.tag for child in element]


def parse_xml(response: Any) -> ET.Element:
    assert response["Content-Type"] == XML_TYPE, response["Content-Type"]
    body = response.content
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n'), body[:60]
    return ET.fromstring(body)


def parse_json(response: Any) -> Any:
    assert response["Content-Type"] == JSON_TYPE, response["Content-Type"]
    return json.loads(response.content.decode("utf-8"))


def get(client: Client, path: str, fmt: str = "json", **params: Any) -> Any:
    suffix = f".{fmt}" if fmt else ""
    return client.get(f"{BASE}/{path}{suffix}", params)


def post(client: Client, data: dict[str, Any], fmt: str = "json", **extra: Any) -> Any:
    suffix = f".{fmt}" if fmt else ""
    return client.post(f"{BASE}/requests{suffix}", data, **extra)


def assert_xml_error(response: Any, status: int) -> str:
    assert response.status_code == status, response.content
    root = parse_xml(response)
    assert root.tag == "errors"
    assert tags(root) == ["error"]
    assert tags(root[0]) == ERROR_FIELDS
    assert root[0].findtext("code") == str(status)
    description = root[0].findtext("description") or ""
    assert description
    return description


def assert_json_error(response: Any, status: int) -> str:
    assert response.status_code == status, response.content
    body = parse_json(response)
    assert isinstance(body, list) and len(body) == 1
    assert list(body[0]) == ERROR_FIELDS
    assert body[0]["code"] == status
    assert isinstance(body[0]["description"], str) and body[0]["description"]
    return body[0]["description"]


def integration(
    username: str = "open311-app", scopes: tuple[str, ...] = ("read", "write"), **kw: Any
) -> tuple[User, str]:
    """An account without roles (a WeChat mini-program, say) and a live API key for it."""
    user = User.objects.filter(username=username).first() or User.objects.create_user(
        username=username
    )
    _token, key = token_issue(user=user, name=f"{username} key", scopes=scopes, by=user, **kw)
    return user, key
