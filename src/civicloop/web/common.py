"""Small helpers every page module shares: the HTTP status of an engine refusal,
whether a request came from htmx, and the link to the one case page."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from civicloop.core.errors import (
    CivicError,
    ConflictError,
    NotFoundOrForbidden,
    PermissionRefused,
    RateLimited,
)


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def http_status(exc: CivicError) -> int:
    """404 for "no such case or not yours", 403 for "not your role", 409 for a stale
    copy, 429 for too many requests, 400 for everything the user can correct in the form."""
    if isinstance(exc, RateLimited):
        return 429
    if isinstance(exc, NotFoundOrForbidden):
        return 404
    if isinstance(exc, PermissionRefused):
        return 403
    if isinstance(exc, ConflictError):
        return 409
    return 400


def case_url(case_id: int) -> str:
    """The one case page every staff role shares."""
    return reverse("web:case", kwargs={"case_id": case_id})
