"""How the REST API describes itself in ``/api/v1/openapi.json`` (drf-spectacular).

- ``ErrorSerializer``: the one error body of ``api/errors.py``; every operation lists the
  error statuses it can answer with (``error_responses``), so a client (and schemathesis)
  can rely on the document for every status, not only the happy one.
- ``TokenAuthScheme``: ``Authorization: Bearer clk_…`` as an HTTP bearer scheme.
- ``CivicAutoSchema``: marks operations anonymous callers may use (``anonymous_allowed``)
  with the empty security requirement.
- ``only_api_v1``: the document covers ``/api/v1/`` only (Open311 has its own specification).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

PREFIX = "/api/v1/"

ERROR_DESCRIPTIONS = {
    400: "The input cannot be used: bad JSON, a missing or wrong field, or a refusal of the engine "
    "(unknown category, point outside every grid, an action the case's state does not allow).",
    401: "No token, or the token is unknown, revoked or expired.",
    403: "The token lacks the scope, or the caller's role may not do this.",
    404: "No such object, or it is outside the caller's area or unit (the same answer for both).",
    406: "The Accept header asks for something other than JSON.",
    409: "The case changed since the caller read it (its `version`): read it again and retry.",
    415: "The body is neither JSON nor form data (multipart/form-data for photos), or cannot be read as such.",
    429: "Too many requests from this token or address; see the Retry-After header.",
}


class ErrorSerializer(serializers.Serializer):
    """Every refusal: a stable machine ``code``, a readable (translated) ``message`` and the
    input ``field`` it concerns. Validation errors add ``errors``: every field's messages."""

    code = serializers.CharField(
        help_text="Stable identifier, e.g. invalid, not_found, conflict, outside_grid."
    )
    message = serializers.CharField(
        help_text="What went wrong, for a person (in the request's language)."
    )
    field = serializers.CharField(allow_null=True, help_text="The input field concerned, if any.")
    errors = serializers.JSONField(
        required=False, help_text="Validation errors per field (400 only)."
    )


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in codes
    }


# Every operation can meet a bad token (401), a missing scope (403), an Accept header asking for
# something else than JSON (406) and the rate limit (429); every body an unusable media type (415).
COMMON = (401, 403, 406, 429)
BODY = 415


class TokenAuthScheme(OpenApiAuthenticationExtension):
    target_class = "civicloop.api.auth.TokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        scheme = build_bearer_security_scheme_object(
            "Authorization", "Bearer", "clk_<prefix>_<secret>"
        )
        return {
            **scheme,
            "description": "An API token: `Authorization: Bearer clk_…` (civicloop manage api_token).",
        }


class CivicAutoSchema(AutoSchema):
    def get_auth(self) -> list[dict[str, Any]]:
        auths = super().get_auth()
        allowed = getattr(self.view, "anonymous_allowed", False)
        if allowed is True or (isinstance(allowed, set | tuple | list) and self.method in allowed):
            auths.append({})
        return auths


def only_api_v1(
    endpoints: list[tuple[str, str, str, Any]], **kwargs: Any
) -> list[tuple[str, str, str, Any]]:
    """Preprocessing hook: describe /api/v1/ only, not other DRF views of the site."""
    return [
        e
        for e in endpoints
        if e[0].startswith(PREFIX) and e[0] not in {f"{PREFIX}openapi.json", f"{PREFIX}docs"}
    ]
