"""Open311 GeoReport v2 endpoints (wiki.open311.org/GeoReport_v2): thin views over
``selectors`` (reads), ``intake`` (POST → ``moderation.actions.report_submit``) and
``mapping`` (our nouns as the specification's documents).

Every endpoint answers in XML (the required format, also without a suffix) or JSON by
suffix, accepts ``jurisdiction_id`` (optional: this server answers for one jurisdiction,
``selectors.jurisdiction()``; another one is 404), is rate-limited like the REST API
(per API key, else per client IP; 429 with Retry-After), and reports every failure as the
specification's error list, in the caller's language (Accept-Language).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
)
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from civicloop.api.models import ApiToken, Scope
from civicloop.api.throttling import WINDOW_S, client_ip
from civicloop.api.tokens import token_for_key
from civicloop.core import ratelimit
from civicloop.core.errors import CivicError, RateLimited
from civicloop.moderation.models import HeldStatus
from civicloop.web.common import http_status

from . import mapping, params, selectors
from .intake import request_post
from .render import FORMATS, JSON, MEDIA_TYPES, XML, document, error_document

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When these documents last changed shape (the discovery document's "changeset").
CHANGESET = "2026-11-23T00:00:00Z"
MAX_IDS = 100
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


@dataclass
class Call:
    request: HttpRequest
    fmt: str
    data: QueryDict  # the query string for GET, the form for POST
    token: ApiToken | None  # from api_key, when one was given and is live

    def absolute(self, path: str) -> str:
        return self.request.build_absolute_uri(path)


def _status_for(exc: CivicError) -> int:
    # The site's mapping, narrowed: the specification knows 400, 403 and 404 only (plus 429).
    status = http_status(exc)
    return status if status in {403, 404, 429} else 400


def _data(request: HttpRequest) -> QueryDict:
    if request.method != "POST":
        return request.GET
    content_type = (request.content_type or "").lower()
    if content_type not in FORM_TYPES:
        raise Open311Error(
            400, _("Send the request form-encoded (application/x-www-form-urlencoded).")
        )
    return request.POST


def _param(call: Call, name: str) -> str | None:
    """A parameter from the form or, for api_key and jurisdiction_id, the query string."""
    value = call.data.get(name)
    if value is None and name in ("api_key", "jurisdiction_id"):
        value = call.request.GET.get(name)
    return value


def _token(call: Call) -> ApiToken | None:
    key = params.text(_param(call, "api_key"), name="api_key", max_length=200)
    return token_for_key(key) if key else None


def _throttle(call: Call) -> None:
    if call.token is not None:
        decision = ratelimit.hit(
            "api-token", str(call.token.pk), limit=call.token.rate_per_minute, window_s=WINDOW_S
        )
    else:
        limit = int(settings.CIVICLOOP.get("API_IP_RATE_PER_MINUTE", 60))
        decision = ratelimit.hit("api-ip", client_ip(call.request), limit=limit, window_s=WINDOW_S)
    if not decision.allowed:
        raise RateLimited(
            _("Too many requests: at most %(limit)d a minute. Try again in %(seconds)d seconds.")
            % {"limit": decision.limit, "seconds": decision.retry_after},
            retry_after=decision.retry_after,
        )


def _check_jurisdiction(call: Call) -> None:
    given = params.text(_param(call, "jurisdiction_id"), name="jurisdiction_id", max_length=200)
    ours = selectors.jurisdiction() if given else ""
    if given and given != ours:
        raise Open311Error(
            404,
            _("jurisdiction_id “%(given)s” was not found; this server answers for “%(ours)s”.")
            % {"given": given, "ours": ours},
        )


def endpoint(*methods: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt  # callers prove themselves with api_key, never with a session cookie
        @functools.wraps(view)
        def handle(request: HttpRequest, fmt: str | None = None, **kwargs: Any) -> HttpResponse:
            fmt = (fmt or XML).lower()
            if fmt not in FORMATS:
                return error_document(
                    XML, 404, _("Unknown format “%(format)s”: use .xml or .json.") % {"format": fmt}
                )
            if request.method not in allowed:
                response = error_document(
                    fmt,
                    405,
                    _("%(method)s is not allowed here; use %(allowed)s.")
                    % {"method": request.method, "allowed": ", ".join(methods)},
                )
                response["Allow"] = ", ".join(sorted(allowed))
                return response
            try:
                data = _data(request)
                call = Call(request=request, fmt=fmt, data=data, token=None)
                call.token = _token(call)
                _throttle(call)
                _check_jurisdiction(call)
                return view(call, **kwargs)
            except Open311Error as exc:
                return error_document(fmt, exc.status, exc.description)
            except RateLimited as exc:
                return error_document(fmt, 429, exc.message, retry_after=exc.retry_after)
            except CivicError as exc:
                return error_document(fmt, _status_for(exc), exc.message)
            except (
                MultiPartParserError,
                RequestDataTooBig,
                TooManyFieldsSent,
                BadRequest,
                SuspiciousOperation,
            ):
                return error_document(fmt, 400, _("The request could not be read."))

        return handle

    return decorate


# ---- discovery and services -----------------------------------------------------------------


@endpoint("GET")
def discovery(call: Call) -> HttpResponse:
    base = call.absolute(reverse("open311:discovery")).rsplit("/discovery", 1)[0]
    contact = settings.CIVICLOOP.get("OPEN311_CONTACT") or _(
        "Questions and bug reports: the city's urban management service centre (12345)."
    )
    return document(
        call.fmt,
        "discovery",
        {
            "changeset": CHANGESET,
            "contact": str(contact),
            "key_service": _(
                "Reading needs no key. To post requests, ask the city's system administrator for an "
                "API key with the write scope (civicloop manage api_token)."
            ),
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": base,
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": list(MEDIA_TYPES),
                }
            ],
        },
    )


@endpoint("GET")
def services(call: Call) -> HttpResponse:
    return document(call.fmt, "services", [mapping.service_doc(c) for c in selectors.services()])


def _not_found(what: str, value: str) -> Open311Error:
    return Open311Error(
        404, _("%(what)s “%(value)s” was not found.") % {"what": what, "value": value}
    )


@endpoint("GET")
def service_definition(call: Call, service_code: str) -> HttpResponse:
    category = (
        selectors.service_get(service_code) if params.IDENTIFIER.match(service_code) else None
    )
    if category is None:
        raise _not_found("service_code", service_code)
    return document(call.fmt, "service_definition", mapping.service_definition_doc(category))


# ---- service requests ---------------------------------------------------------------------


def _requests_document(
    call: Call, rows: list[mapping.RequestRow], *, status: int = 200
) -> HttpResponse:
    return document(
        call.fmt,
        "service_requests",
        [mapping.request_doc(row, absolute=call.absolute) for row in rows],
        status=status,
    )


def _date(call: Call, name: str) -> Any:
    raw = params.text(call.data.get(name), name=name, max_length=64)
    return params.iso_datetime(raw, name=name) if raw else None


def _requests_get(call: Call) -> HttpResponse:
    ids = params.identifier_list(
        call.data.get("service_request_id"), name="service_request_id", max_items=MAX_IDS
    )
    if ids:  # the specification: a list of ids overrides every other parameter
        return _requests_document(call, selectors.requests_by_id(ids))
    codes = params.identifier_list(
        call.data.get("service_code"), name="service_code", max_items=MAX_IDS
    )
    unknown = sorted(set(codes) - selectors.service_codes_known(codes))
    if unknown:
        raise Open311Error(
            400,
            _("service_code “%(code)s” was not found (see services.xml).") % {"code": unknown[0]},
        )
    statuses = [
        s.lower()
        for s in params.identifier_list(call.data.get("status"), name="status", max_items=2)
    ]
    wrong = [s for s in statuses if s not in mapping.STATUSES]
    if wrong:
        raise Open311Error(
            400,
            _("status must be open, closed or both (comma-delimited), not “%(value)s”.")
            % {"value": wrong[0]},
        )
    start, end = selectors.default_window(
        start=_date(call, "start_date"), end=_date(call, "end_date")
    )
    if end < start:
        raise Open311Error(400, _("end_date is before start_date."))
    if end - start > selectors.MAX_WINDOW:
        raise Open311Error(400, _("start_date and end_date may be at most 90 days apart."))
    page = params.positive_int(call.data.get("page"), name="page", default=1, maximum=100_000)
    size = params.positive_int(
        call.data.get("page_size"),
        name="page_size",
        default=selectors.MAX_REQUESTS,
        maximum=selectors.MAX_REQUESTS,
    )
    query = selectors.RequestQuery(
        start=start,
        end=end,
        service_codes=tuple(codes),
        statuses=tuple(statuses),
        page=page,
        page_size=size,
    )
    rows, more = selectors.requests_list(query)
    response = _requests_document(call, rows)
    if more:  # the next page, as a Link header (the page/page_size extension has no element for it)
        following = call.data.copy()
        following["page"] = str(page + 1)
        response["Link"] = (
            f'<{call.absolute(call.request.path)}?{urlencode(list(following.lists()), doseq=True)}>; rel="next"'
        )
    return response


def _requests_post(call: Call) -> HttpResponse:
    if call.token is None:
        raise Open311Error(403, _("api_key is missing, unknown, revoked or expired."))
    if not call.token.has_scope(Scope.WRITE):
        raise Open311Error(
            403, _("This api_key may only read: posting requests needs the write scope.")
        )
    posted = request_post(
        data=call.data, files=call.request.FILES, token=call.token, ip=client_ip(call.request)
    )
    account_id = posted.account_id or None
    report, held = posted.submitted.report, posted.submitted.held
    if report is not None:
        notice = mapping.time_limit_notice(posted.category)
        if report.joined_existing:
            notice = _(
                "%(notice)s The same problem was already reported nearby; your report was added to it."
            ) % {"notice": notice}
        answer = {
            "service_request_id": report.ticket_no,
            "service_notice": notice,
            "account_id": account_id,
        }
        return document(call.fmt, "service_requests", [answer], status=201)
    assert held is not None
    notice = _(
        "Your request is being checked before it is published. Ask tokens/%(token)s for its service_request_id."
    ) % {"token": held.token}
    return document(
        call.fmt,
        "service_requests",
        [{"token": held.token, "service_notice": notice, "account_id": account_id}],
        status=202,
    )


@endpoint("GET", "POST")
def requests(call: Call) -> HttpResponse:
    return _requests_post(call) if call.request.method == "POST" else _requests_get(call)


@endpoint("GET")
def request_detail(call: Call, service_request_id: str) -> HttpResponse:
    rows = (
        selectors.requests_by_id([service_request_id])
        if params.IDENTIFIER.match(service_request_id)
        else []
    )
    if not rows:
        raise _not_found("service_request_id", service_request_id)
    return _requests_document(call, rows[:1])


@endpoint("GET")
def token_detail(call: Call, token: str) -> HttpResponse:
    held = selectors.held_by_token(token) if params.IDENTIFIER.match(token) else None
    if held is None:
        raise _not_found("token", token)
    if held.status == HeldStatus.REJECTED:
        raise Open311Error(
            404,
            _("The request with token “%(token)s” was not published after review.")
            % {"token": token},
        )
    ticket = (
        held.report.ticket_no
        if (held.status == HeldStatus.RELEASED and held.report is not None)
        else None
    )
    # While held, the token is known but has no service_request_id yet: an empty one.
    return document(
        call.fmt, "service_requests", [{"service_request_id": ticket, "token": held.token}]
    )


@csrf_exempt
def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    fmt = JSON if path.lower().endswith(".json") else XML
    return error_document(fmt, 404, _("There is no such Open311 resource; start at discovery.xml."))
