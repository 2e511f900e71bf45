"""Reads for Open311: services, service requests and held-report tokens.

Requests start from ``policy.public_cases()`` (what anyone may list) and load in a fixed
number of queries however many are asked for: the cases with their category, unit and grid
and three annotations (the latest public status step, the latest change, the first photo),
then those steps and photos in one query each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from civicloop.cases.models import Case, CaseEvent, Category, Photo, Report
from civicloop.moderation.models import HeldReport
from civicloop.org import policy
from civicloop.places.models import Area, AreaKind

from .mapping import STATUS_EVENTS, RequestRow, states_for

MAX_WINDOW = dt.timedelta(days=90)
MAX_REQUESTS = 1000  # the specification's default cap, and the largest page
FALLBACK_JURISDICTION = "civicloop.local"  # no configured one and no city in the area tree


def jurisdiction() -> str:
    """The one jurisdiction_id this server answers for: ``CIVICLOOP["OPEN311_JURISDICTION"]``,
    else the city's GB/T 2260 division code (the city area of the area tree)."""
    configured = str(settings.CIVICLOOP.get("OPEN311_JURISDICTION") or "")
    if configured:
        return configured
    city = (
        Area.objects.filter(kind=AreaKind.CITY)
        .order_by("code")
        .values_list("code", flat=True)
        .first()
    )
    return city or FALLBACK_JURISDICTION


def services() -> list[Category]:
    return list(
        Category.objects.filter(active=True).order_by("family", "big_code", "small_code", "code")
    )


def service_get(code: str) -> Category | None:
    return Category.objects.filter(code=code, active=True).first()


def service_codes_known(codes: Sequence[str]) -> set[str]:
    return set(Category.objects.filter(code__in=list(codes)).values_list("code", flat=True))


def _annotated(qs: QuerySet[Case]) -> QuerySet[Case]:
    latest_step = CaseEvent.objects.filter(
        case=OuterRef("pk"), kind__in=sorted(STATUS_EVENTS)
    ).order_by("-created_at", "-id")
    latest_change = CaseEvent.objects.filter(case=OuterRef("pk")).order_by("-created_at", "-id")
    first_photo = Photo.objects.filter(case=OuterRef("pk")).order_by("created_at", "id")
    return qs.select_related("category", "unit", "grid").annotate(
        status_event_id=Subquery(latest_step.values("id")[:1]),
        changed_at=Subquery(latest_change.values("created_at")[:1]),
        photo_id=Subquery(first_photo.values("id")[:1]),
    )


def _rows(pairs: list[tuple[str, Case, Report | None]]) -> list[RequestRow]:
    event_ids = [c.status_event_id for _t, c, _r in pairs if c.status_event_id]  # type: ignore[attr-defined]
    photo_ids = [c.photo_id for _t, c, _r in pairs if c.photo_id]  # type: ignore[attr-defined]
    events = CaseEvent.objects.in_bulk(event_ids) if event_ids else {}
    photos = Photo.objects.in_bulk(photo_ids) if photo_ids else {}
    return [
        RequestRow(
            service_request_id=ticket,
            case=case,
            description=report.description if report is not None else case.description,
            requested_at=report.created_at if report is not None else case.reported_at,
            updated_at=case.changed_at,  # type: ignore[attr-defined]
            status_event=events.get(case.status_event_id),  # type: ignore[attr-defined]
            photo=photos.get(case.photo_id),  # type: ignore[attr-defined]
        )
        for ticket, case, report in pairs
    ]


def requests_by_id(ids: Sequence[str]) -> list[RequestRow]:
    """The requests with these ticket numbers, in the order asked; unknown ones are left out.

    A reporter's ticket finds the case it belongs to (answered under that ticket, with that
    reporter's own words); a case's own ticket number is also accepted (imported cases)."""
    reports = {
        r.ticket_no: r
        for r in Report.objects.filter(ticket_no__in=list(ids)).only(
            "ticket_no", "case_id", "description", "created_at"
        )
    }
    case_ids = {r.case_id for r in reports.values()}
    by_case_ticket = [i for i in ids if i not in reports]
    cases: dict[int, Case] = {}
    if case_ids:
        cases = {c.pk: c for c in _annotated(policy.public_cases().filter(pk__in=case_ids))}
    own: dict[str, Case] = {}
    if by_case_ticket:
        own = {
            c.ticket_no: c
            for c in _annotated(policy.public_cases().filter(ticket_no__in=by_case_ticket))
        }
    pairs: list[tuple[str, Case, Report | None]] = []
    for ticket in ids:
        report = reports.get(ticket)
        if report is not None and report.case_id in cases:
            pairs.append((ticket, cases[report.case_id], report))
        elif ticket in own:
            pairs.append((ticket, own[ticket], None))
    return _rows(pairs)


@dataclass(frozen=True)
class RequestQuery:
    start: dt.datetime
    end: dt.datetime
    service_codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    page: int = 1
    page_size: int = MAX_REQUESTS


def default_window(
    *, start: dt.datetime | None, end: dt.datetime | None, now: dt.datetime | None = None
) -> tuple[dt.datetime, dt.datetime]:
    """Fill in what the client left out: the 90 days before ``end``, or after ``start``,
    or up to now."""
    now = now or timezone.now()
    if start is None and end is None:
        return now - MAX_WINDOW, now
    if start is None:
        assert end is not None
        return end - MAX_WINDOW, end
    if end is None:
        return start, start + MAX_WINDOW
    return start, end


def requests_list(query: RequestQuery) -> tuple[list[RequestRow], bool]:
    """Newest first; returns the page and whether another page follows."""
    qs = policy.public_cases().filter(reported_at__gte=query.start, reported_at__lte=query.end)
    if query.service_codes:
        qs = qs.filter(category__code__in=list(query.service_codes))
    if query.statuses:
        states = sorted({s for status in query.statuses for s in states_for(status)})
        qs = qs.filter(state__in=states)
    offset = (query.page - 1) * query.page_size
    cases = list(
        _annotated(qs).order_by("-reported_at", "-id")[offset : offset + query.page_size + 1]
    )
    more = len(cases) > query.page_size
    return _rows([(c.ticket_no, c, None) for c in cases[: query.page_size]]), more


def held_by_token(token: str) -> HeldReport | None:
    return HeldReport.objects.select_related("report").filter(token=token).first()
