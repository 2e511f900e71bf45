"""Who may call the REST API: tokens (missing, unknown, malformed, revoked, expired, of an
inactive user → 401), scopes per method (read for GET, write for POST → 403 without), the
session of a staff member trying calls in /api/v1/docs, and the request limits per token
and per IP address (429 with Retry-After)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from civicloop.api.models import ApiToken
from civicloop.api.tokens import token_revoke
from civicloop.cases.models import Case, State
from civicloop.core import ratelimit

pytestmark = pytest.mark.django_db

LIST = "/api/v1/cases/"


def bearer(key: str, **kw: Any) -> APIClient:
    client = APIClient(**kw)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def frozen_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    """All requests of the test fall into one rate-limit window, wherever the clock stands."""
    moment = timezone.now().replace(second=10, microsecond=0)
    monkeypatch.setattr(ratelimit, "timezone", SimpleNamespace(now=lambda: moment))


def test_without_a_token_the_case_list_is_401_with_the_bearer_challenge(api):
    response = api(None).get(LIST)
    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "message": response.json()["message"],
        "field": None,
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "header",
    ["Bearer clk_00000000_nope", "Bearer nonsense", "Bearer", "Bearer a b", "Token clk_12345678_x"],
)
def test_unknown_and_malformed_tokens_are_401(api, generous_limits, city, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(LIST)
    assert response.status_code == 401 and response.json()["code"] == "authentication_failed"
    # A bad token is refused even where anonymous callers are welcome.
    assert client.get("/api/v1/categories/").status_code == 401


def test_revoked_expired_and_inactive_users_tokens_are_401(city, token_for, generous_limits):
    revoked = token_for("dispatcher")
    token_revoke(
        token=ApiToken.objects.get(prefix=revoked.split("_")[1]), by=city.users["dispatcher"]
    )
    expired = token_for("dispatcher", expires_at=timezone.now() - dt.timedelta(minutes=1))
    inactive = token_for("leader")
    city.users["leader"].is_active = False
    city.users["leader"].save(update_fields=["is_active"])
    for key in (revoked, expired, inactive):
        response = bearer(key).get(LIST)
        assert response.status_code == 401 and "revoked or expired" in response.json()["message"]


def test_a_read_token_reads_but_may_not_write(api, city, loop):
    case = loop.to(State.REPORTED)
    reader = api("dispatcher", scopes=["read"])
    assert reader.get(LIST).status_code == 200
    response = reader.post(
        f"/api/v1/cases/{case.pk}/actions/register/", {"version": case.version}, format="json"
    )
    assert response.status_code == 403 and "write" in response.json()["message"]
    lat, lon = city.point_in("g1")
    response = reader.post(
        LIST, {"category": "E0102", "lat": lat, "lon": lon, "description": "x"}, format="json"
    )
    assert response.status_code == 403
    assert Case.objects.get(pk=case.pk).version == case.version and Case.objects.count() == 1


def test_a_write_token_also_reads(api, loop):
    loop.to(State.REPORTED)
    assert api("dispatcher", scopes=["write"]).get(LIST).status_code == 200


def test_me_tells_who_the_token_acts_as(api, city):
    body = api("unit_staff", scopes=["read"]).get("/api/v1/me/").json()
    assert (
        body["username"] == "unit_staff" and body["is_staff"] is True and body["is_admin"] is False
    )
    assert body["roles"] == [
        {
            "role": "unit_staff",
            "role_label": "Handling unit staff",
            "area": None,
            "unit": {"code": "U-HWC", "name": "市环境卫生管理处"},
        }
    ]
    assert (
        body["scopes"] == ["read"]
        and body["token"]["scopes"] == ["read"]
        and body["token"]["prefix"]
    )
    body = api("admin", scopes=["admin"]).get("/api/v1/me/").json()
    assert body["is_admin"] is True and body["scopes"] == ["read", "write", "admin"]
    assert api(None).get("/api/v1/me/").status_code == 401


def test_a_logged_in_staff_member_may_try_calls_with_his_session(city, generous_limits, loop):
    loop.to(State.REPORTED)
    client = APIClient()
    client.force_login(city.users["dispatcher"])
    assert client.get(LIST).status_code == 200
    body = client.get("/api/v1/me/").json()
    assert body["token"] is None and body["scopes"] == ["read", "write"]


# ---- request limits ---------------------------------------------------------------------------------


def test_a_token_past_its_rate_gets_429_with_retry_after(
    city, token_for, generous_limits, frozen_minute
):
    client = bearer(token_for("dispatcher", rate=2))
    assert [client.get("/api/v1/categories/").status_code for _ in range(2)] == [200, 200]
    response = client.get("/api/v1/categories/")
    assert response.status_code == 429 and response.json()["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60
    # Another token of the same user has its own count; the limit is per token.
    assert bearer(token_for("dispatcher", rate=2)).get("/api/v1/categories/").status_code == 200


def test_anonymous_callers_are_limited_per_ip_address(settings, city, frozen_minute):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "API_IP_RATE_PER_MINUTE": 2}
    here, there = APIClient(REMOTE_ADDR="10.0.0.1"), APIClient(REMOTE_ADDR="10.0.0.2")
    assert [here.get("/api/v1/categories/").status_code for _ in range(2)] == [200, 200]
    response = here.get("/api/v1/categories/")
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert there.get("/api/v1/categories/").status_code == 200


def test_a_token_is_not_limited_by_its_ip_address(settings, city, token_for, frozen_minute):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "API_IP_RATE_PER_MINUTE": 1}
    client = bearer(token_for("dispatcher", rate=100), REMOTE_ADDR="10.0.0.3")
    assert {client.get("/api/v1/categories/").status_code for _ in range(3)} == {200}


def test_anonymous_reports_are_limited_per_ip_address_and_hour(settings, city):
    settings.CIVICLOOP = {
        **settings.CIVICLOOP,
        "API_IP_RATE_PER_MINUTE": 1000,
        "REPORT_RATE_PER_HOUR": 1,
    }
    client = APIClient(REMOTE_ADDR="10.0.0.9")
    lat, lon = city.point_in("g1")
    body = {"category": "E0102", "lat": lat, "lon": lon, "description": "垃圾"}
    assert client.post(LIST, body, format="json").status_code == 201
    before = Case.objects.count()
    response = client.post(
        LIST, {**body, "description": "又一堆垃圾", "category": "E0103"}, format="json"
    )
    assert response.status_code == 429 and response.json()["code"] == "rate_limited"
    assert int(response["Retry-After"]) >= 1 and Case.objects.count() == before
