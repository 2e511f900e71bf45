"""One error body for the REST API: ``{"code": "...", "message": "...", "field": ...}``.

CivicError refusals from actions keep their readable (translated) message and stable
code; DRF's own errors (validation, authentication, throttling) are mapped onto the same shape.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from civicloop.core.errors import CivicError, RateLimited
from civicloop.web.common import http_status


def _first_message(detail: Any) -> tuple[str, str | None]:
    if isinstance(detail, dict):
        for field, value in detail.items():
            message, _inner = _first_message(value)
            return message, None if field == "non_field_errors" else str(field)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail), None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, CivicError):
        body: dict[str, Any] = {"code": str(exc.code), "message": exc.message, "field": exc.field}
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return Response(body, status=http_status(exc), headers=headers)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        message, field = _first_message(exc.detail)
        response.data = {"code": "invalid", "message": message, "field": field, "errors": exc.detail}
    elif isinstance(exc, exceptions.APIException):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "error"
        response.data = {"code": code, "message": str(exc.detail), "field": None}
    return response
