"""Fixtures of the REST API tests: tokens of the test city's personas and clients using them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from civicloop.api.tokens import token_issue
from civicloop.testing import Loop, TestCity

TokenFactory = Callable[..., str]
ClientFactory = Callable[..., APIClient]


@pytest.fixture
def generous_limits(settings: Any) -> None:
    """Limits no test reaches unless it means to."""
    settings.CIVICLOOP = {
        **settings.CIVICLOOP,
        "API_IP_RATE_PER_MINUTE": 100_000,
        "REPORT_RATE_PER_HOUR": 100_000,
    }


@pytest.fixture
def token_for(city: TestCity) -> TokenFactory:
    """The full key of a new token acting as the persona ``key``."""

    def make(
        key: str,
        scopes: Iterable[str] = ("read", "write"),
        *,
        rate: int = 100_000,
        expires_at: dt.datetime | None = None,
        name: str = "",
    ) -> str:
        user = city.users[key]
        by = city.users["admin"] if "admin" in scopes else user
        _token, raw = token_issue(
            user=user,
            name=name or f"test {key}",
            scopes=list(scopes),
            by=by,
            rate_per_minute=rate,
            expires_at=expires_at,
        )
        return raw

    return make


@pytest.fixture
def api(token_for: TokenFactory, generous_limits: None) -> ClientFactory:
    """``api("dispatcher")``: a client with a read+write token of that persona; ``api(None)``: anonymous."""

    def make(key: str | None, scopes: Iterable[str] = ("read", "write"), **kw: Any) -> APIClient:
        client = APIClient(**kw)
        if key is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(key, scopes)}")
        return client

    return make


@pytest.fixture
def loop(city: TestCity) -> Loop:
    # Three weeks back: look-backs are due and clocks have run out by "now".
    return Loop(city, t0=timezone.now() - dt.timedelta(days=21))
