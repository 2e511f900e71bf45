"""API tokens: issued once, stored hashed, checked in constant time, revocable (api/tokens.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from civicloop.api.models import ApiToken, Scope
from civicloop.api.tokens import token_for_key, token_issue, token_revoke
from civicloop.core.errors import PermissionRefused, ValidationFailed

pytestmark = pytest.mark.django_db


def test_issue_returns_a_working_key_and_stores_only_its_hash(city):
    dispatcher = city.users["dispatcher"]
    token, key = token_issue(user=dispatcher, name="12345 bridge", scopes=["read", "write"], by=dispatcher)
    assert key.startswith(f"clk_{token.prefix}_")
    assert key.split("_", 2)[2] not in token.key_hash
    assert token_for_key(key) == token
    assert token.has_scope(Scope.READ) and token.has_scope(Scope.WRITE) and not token.has_scope(Scope.ADMIN)


@pytest.mark.parametrize("key", ["", "clk_", "clk_abc", "nonsense", "clk_00000000_wrong"])
def test_malformed_or_unknown_keys_find_nothing(city, key):
    dispatcher = city.users["dispatcher"]
    token_issue(user=dispatcher, name="x", scopes=["read"], by=dispatcher)
    assert token_for_key(key) is None


def test_a_wrong_secret_with_a_real_prefix_finds_nothing(city):
    dispatcher = city.users["dispatcher"]
    token, key = token_issue(user=dispatcher, name="x", scopes=["read"], by=dispatcher)
    assert token_for_key(f"clk_{token.prefix}_not-the-secret") is None


def test_revoked_expired_and_inactive_tokens_stop_working(city):
    dispatcher = city.users["dispatcher"]
    revoked, revoked_key = token_issue(user=dispatcher, name="a", scopes=["read"], by=dispatcher)
    token_revoke(token=revoked, by=dispatcher)
    assert token_for_key(revoked_key) is None
    _expired, expired_key = token_issue(
        user=dispatcher, name="b", scopes=["read"], by=dispatcher, expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert token_for_key(expired_key) is None
    _live, live_key = token_issue(user=dispatcher, name="c", scopes=["read"], by=dispatcher)
    dispatcher.is_active = False
    dispatcher.save(update_fields=["is_active"])
    assert token_for_key(live_key) is None


def test_scopes_names_and_rates_are_checked(city):
    dispatcher = city.users["dispatcher"]
    with pytest.raises(ValidationFailed):
        token_issue(user=dispatcher, name="x", scopes=[], by=dispatcher)
    with pytest.raises(ValidationFailed):
        token_issue(user=dispatcher, name="x", scopes=["root"], by=dispatcher)
    with pytest.raises(ValidationFailed):
        token_issue(user=dispatcher, name=" ", scopes=["read"], by=dispatcher)
    with pytest.raises(ValidationFailed):
        token_issue(user=dispatcher, name="x", scopes=["read"], by=dispatcher, rate_per_minute=0)
    assert not ApiToken.objects.exists()


def test_only_an_administrator_grants_admin_or_issues_for_others(city, django_user_model):
    dispatcher, unit_staff = city.users["dispatcher"], city.users["unit_staff"]
    with pytest.raises(PermissionRefused):
        token_issue(user=dispatcher, name="x", scopes=["admin"], by=dispatcher)
    with pytest.raises(PermissionRefused):
        token_issue(user=unit_staff, name="x", scopes=["read"], by=dispatcher)
    admin = django_user_model.objects.create_superuser("root", "root@example.org", "pw")
    token, _key = token_issue(user=unit_staff, name="vendor", scopes=["admin"], by=admin)
    assert token.has_scope(Scope.WRITE)
    with pytest.raises(PermissionRefused):
        token_revoke(token=token, by=dispatcher)
