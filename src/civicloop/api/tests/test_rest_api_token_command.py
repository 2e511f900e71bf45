"""``civicloop manage api_token``: issue a token (key printed once), list, revoke by prefix."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from civicloop.api.models import ApiToken

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("api_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_issue_prints_a_working_key_once_and_stores_only_its_hash(city, generous_limits):
    out, err = run(
        "--user",
        "dispatcher",
        "--name",
        "12345 hotline bridge",
        "--scopes",
        "read,write",
        "--rate",
        "600",
    )
    key = out.strip()
    token = ApiToken.objects.get()
    assert key.startswith(f"clk_{token.prefix}_") and key not in err and token.key_hash not in key
    assert (
        token.user == city.users["dispatcher"]
        and token.scopes == ["read", "write"]
        and token.rate_per_minute == 600
    )
    assert token.name == "12345 hotline bridge" and "shown only now" in err
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/me/").json()["username"] == "dispatcher"


def test_issue_with_an_expiry(city):
    run("--user", "unit_staff", "--name", "vendor", "--expires-days", "30")
    token = ApiToken.objects.get()
    assert token.scopes == ["read"] and token.expires_at is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--name", "x"), "--user"),
        (("--user", "nobody", "--name", "x"), "No user"),
        (("--user", "dispatcher"), "--name"),
        (("--user", "dispatcher", "--name", "x", "--scopes", "read,fly"), "scope"),
        (("--user", "dispatcher", "--name", "x", "--scopes", ""), "scope"),
        (("--user", "dispatcher", "--name", "x", "--scopes", "admin"), "administrator"),
        (("--user", "dispatcher", "--name", "x", "--rate", "0"), "between"),
        (("--user", "dispatcher", "--name", "x" * 101), "100 characters"),
        (("--user", "dispatcher", "--name", "x", "--expires-days", "0"), "at least 1"),
        (("--revoke", "ffffffff"), "No token"),
    ],
)
def test_bad_arguments_are_refused_and_nothing_is_issued(city, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert ApiToken.objects.count() == 0


def test_a_superuser_may_hold_an_admin_token(city):
    run("--user", "admin", "--name", "ops", "--scopes", "admin")
    assert ApiToken.objects.get().scopes == ["admin"]


def test_revoke_by_prefix_stops_the_key(city, generous_limits):
    key = run("--user", "dispatcher", "--name", "bridge", "--scopes", "read")[0].strip()
    prefix = ApiToken.objects.get().prefix
    out, _err = run("--revoke", prefix)
    assert "revoked" in out and ApiToken.objects.get().revoked_at is not None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/me/").status_code == 401
    assert "already" in run("--revoke", prefix)[0]


def test_list_shows_tokens_without_their_keys(city):
    key = run("--user", "dispatcher", "--name", "bridge")[0].strip()
    run("--user", "leader", "--name", "dashboard")
    out, _err = run("--list")
    assert "bridge" in out and "dashboard" in out and key not in out
    out, _err = run("--list", "--user", "leader")
    assert "dashboard" in out and "bridge" not in out
