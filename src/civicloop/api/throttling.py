"""Request limits for the API: per token (its ``rate_per_minute``), else per client IP.

Counted in the database by core/ratelimit.py, so every worker process shares them.
A refusal is DRF's ``Throttled``: 429 with ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from civicloop.core import ratelimit

from .models import ApiToken

WINDOW_S = 60


def client_ip(request: Any) -> str:
    # REMOTE_ADDR only; behind a proxy, the proxy sets it (gunicorn --forwarded-allow-ips).
    meta = getattr(request, "META", {})
    return str(meta.get("REMOTE_ADDR") or "unknown")


class TokenOrIpThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._wait: int | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, ApiToken):
            decision = ratelimit.hit("api-token", str(request.auth.pk), limit=request.auth.rate_per_minute, window_s=WINDOW_S)
        else:
            limit = int(settings.CIVICLOOP.get("API_IP_RATE_PER_MINUTE", 60))
            decision = ratelimit.hit("api-ip", client_ip(request), limit=limit, window_s=WINDOW_S)
        self._wait = decision.retry_after or None
        return decision.allowed

    def wait(self) -> int | None:
        return self._wait
