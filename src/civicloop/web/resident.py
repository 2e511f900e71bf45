"""The resident's side, phone first, no account needed: report a problem, follow and rate
it by ticket, see what is already reported nearby.

Thin layers: the forms parse; a report goes through ``moderation.actions.report_submit``
(the per-connection limit, the spam checks, then ``cases.actions.case_report``, which decides
category, grid, duplicates, photos and contact checks); ``cases.selectors`` reads. A report
held by the spam checks has no ticket: the resident gets its reference instead. What is
shown publicly never names a reporter: the ticket page is ``selectors.public_case_by_ticket``
and the map of open problems carries only category, state and reported date.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicloop.cases import actions, selectors
from civicloop.cases.categories_search import category_search as search_categories
from civicloop.cases.models import Case, Category, Report, Source
from civicloop.cases.workflow import OPEN_STATES
from civicloop.core.errors import CivicError, ErrorCode, NotFoundOrForbidden, RateLimited
from civicloop.moderation.actions import report_submit
from civicloop.moderation.models import Channel, HeldStatus
from civicloop.moderation.selectors import held_by_token
from civicloop.org import policy
from civicloop.org.models import Role

from .common import http_status
from .resident_forms import RateForm, ReportForm
from .views import render_ticket, ticket_missing

# Most points one map answer carries (newest first); the page says when there are more.
MAX_MAP_POINTS = 2000
CATEGORY_RESULTS = 10


# ---- categories as the resident sees them ---------------------------------------------


@dataclass(frozen=True)
class CategoryOption:
    code: str
    name: str
    big_name: str
    secondary: str
    checked: bool


def _option(category: Category, selected: str) -> CategoryOption:
    # Category names are data in Chinese; the English name is shown beside it in English.
    english = (get_language() or "").startswith("en")
    return CategoryOption(
        code=category.code,
        name=category.name,
        big_name=category.big_name,
        secondary=category.name_en if english else "",
        checked=category.code == selected,
    )


def _category_options(q: str, selected: str) -> list[CategoryOption]:
    found = search_categories(q=q, limit=CATEGORY_RESULTS)
    selected = (selected or "").strip().upper()
    # The category already picked stays on the list whatever is typed next.
    if selected and selected not in {c.code for c in found}:
        chosen = Category.objects.filter(code=selected, active=True).first()
        if chosen is not None:
            found = [chosen, *found]
    return [_option(c, selected) for c in found]


@require_GET
def category_search(request: HttpRequest) -> HttpResponse:
    """htmx: the category radio buttons for what the resident typed (Chinese, pinyin, initials)."""
    q = request.GET.get("q", "")
    options = _category_options(q, request.GET.get("category", ""))
    return render(request, "web/resident/_categories.html", {"options": options, "q": q.strip()})


# ---- open problems of a category nearby ----------------------------------------------------


@dataclass(frozen=True)
class NearbyCase:
    pk: int
    category: str
    state_label: str
    reported_at: dt.datetime
    distance_m: int
    reporter_count: int
    address: str


def _nearby_cases(category_code: str, lat: Any, lon: Any) -> list[tuple[Case, float]]:
    """Open cases of that category near the point (the engine's duplicate rule), nearest first."""
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError):
        return []
    if not (math.isfinite(lat_f) and math.isfinite(lon_f) and -90 <= lat_f <= 90 and -180 <= lon_f <= 180):
        return []
    category = Category.objects.filter(code=(category_code or "").strip().upper(), active=True).first()
    if category is None:
        return []
    return selectors.nearby_open_cases(category_id=category.pk, lat=lat_f, lon=lon_f)


def _nearby(category_code: str, lat: Any, lon: Any) -> list[NearbyCase]:
    # Only what helps to recognise the problem: never a description, a photo or a reporter.
    return [
        NearbyCase(
            pk=case.pk,
            category=case.category.name,
            state_label=case.get_state_display(),
            reported_at=case.reported_at,
            distance_m=round(distance),
            reporter_count=case.reporter_count,
            address=case.address,
        )
        for case, distance in _nearby_cases(category_code, lat, lon)
    ]


@require_GET
def report_nearby(request: HttpRequest) -> HttpResponse:
    """htmx: open problems of the chosen category near the pin, each one joinable."""
    found = _nearby(request.GET.get("category", ""), request.GET.get("lat"), request.GET.get("lon"))
    return render(request, "web/resident/_nearby.html", {"nearby": found, "join": request.GET.get("join", "")})


# ---- reporting -------------------------------------------------------------------------


def _source_for(user: Any) -> str:
    return Source.GRID_WORKER if policy.has_role(user, Role.GRID_WORKER) else Source.RESIDENT


# Where a refusal of the engine is shown on the report form.
_LOCATION_FIELDS = {"location": "lat", "lat": "lat", "lon": "lon"}


def _show_error(form: Any, exc: CivicError) -> None:
    field = exc.field
    if exc.code in {ErrorCode.BAD_FILE, ErrorCode.FILE_TOO_LARGE}:
        field = "photos"
    field = _LOCATION_FIELDS.get(field or "", field)
    form.add_error(field if field in form.fields else None, exc.message)


def _typed(data: Any) -> dict[str, str]:
    """What was typed, to fill an unbound form again (no validation messages yet)."""
    return {k: data.get(k, "") for k in ("category", "lat", "lon", "address", "description", "name", "phone", "email", "join")}


def _render_report(
    request: HttpRequest,
    form: ReportForm,
    *,
    q: str = "",
    status: int = 200,
    top_error: str = "",
    photos_lost: bool = False,
) -> HttpResponse:
    data = form.data if form.is_bound else form.initial
    selected = str(data.get("category", "") or "")
    return render(
        request,
        "web/resident/report.html",
        {
            "form": form,
            "q": q,
            "options": _category_options(q, selected),
            "nearby": _nearby(selected, data.get("lat"), data.get("lon")),
            "join": str(data.get("join", "") or ""),
            "top_error": top_error,
            "photos_lost": photos_lost,
            "location_open": bool(form.is_bound and (form.errors.get("lat") or form.errors.get("lon"))),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def report(request: HttpRequest) -> HttpResponse:
    """Report a problem: where, what kind, what is wrong, optionally photos and a contact."""
    if request.method == "GET":
        initial = {k: request.GET[k] for k in ("lat", "lon", "category") if request.GET.get(k)}
        return _render_report(request, ReportForm(initial=initial))

    photos_lost = bool(request.FILES.getlist("photos"))
    if "search" in request.POST:
        # The category search without JavaScript: show the list again, keep what was typed.
        return _render_report(request, ReportForm(initial=_typed(request.POST)), q=request.POST.get("q", ""), photos_lost=photos_lost)

    form = ReportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_report(request, form, status=400, photos_lost=photos_lost)

    data = form.cleaned_data
    join_case: Case | None = None
    if data["join"].isdigit():
        # Only a case the nearby list offers for this category and pin can be joined.
        candidates = {c.pk: c for c, _distance in _nearby_cases(data["category"], data["lat"], data["lon"])}
        join_case = candidates.get(int(data["join"]))
        if join_case is None:
            form.add_error("join", _("That problem is no longer open near your pin. Send your report as a new one, or pick another."))
            return _render_report(request, form, status=400, photos_lost=photos_lost)

    user = request.user if request.user.is_authenticated else None
    try:
        submitted = report_submit(
            channel=Channel.WEB,
            # REMOTE_ADDR only: a forwarded-for header is whatever the client wants it to be.
            # Behind a reverse proxy, have the proxy set it (e.g. gunicorn --forwarded-allow-ips).
            ip=request.META.get("REMOTE_ADDR") or "",
            category=data["category"],
            lat=data["lat"],
            lon=data["lon"],
            description=data["description"],
            address=data["address"],
            source=_source_for(user),
            by=user,
            name=data["name"],
            phone=data["phone"],
            email=data["email"],
            photos=data["photos"],
            join_case=join_case,
            detect_duplicates=data["join"] != "new",
        )
    except RateLimited as exc:
        response = _render_report(
            request, ReportForm(initial=_typed(request.POST)), status=429, top_error=exc.message, photos_lost=photos_lost
        )
        response["Retry-After"] = str(exc.retry_after)
        return response
    except CivicError as exc:
        _show_error(form, exc)
        return _render_report(request, form, status=http_status(exc), photos_lost=photos_lost)
    if submitted.held is not None:
        # Not published, so there is no ticket yet: the reference says which report it is.
        return redirect("web:report_held", token=submitted.held.token)
    assert submitted.report is not None
    return redirect("web:report_done", ticket_no=submitted.report.ticket_no)


@require_GET
def report_done(request: HttpRequest, ticket_no: str) -> HttpResponse:
    """The ticket number, big and easy to copy, and where to follow it."""
    try:
        view = selectors.public_case_by_ticket(ticket_no=ticket_no)
    except NotFoundOrForbidden as exc:
        return ticket_missing(request, ticket_no, str(exc))
    return render(request, "web/resident/done.html", {"case": view, "joined": view.case_ticket_no != view.ticket_no})


@require_GET
def report_held(request: HttpRequest, token: str) -> HttpResponse:
    """A held report: received and being checked, under its reference; once released, its ticket.

    Only the status is told: never the text, the reasons or the moderator's note."""
    held = held_by_token(token=token)
    if held is None:
        return render(request, "web/resident/held.html", {"token": token, "held": None}, status=404)
    released = held.status == HeldStatus.RELEASED and held.report is not None
    return render(
        request,
        "web/resident/held.html",
        {
            "token": held.token,
            "held": held,
            "released_ticket": held.report.ticket_no if released and held.report else "",
            "rejected": held.status == HeldStatus.REJECTED,
        },
    )


# ---- rating by ticket -----------------------------------------------------------------


def _case_for_ticket(ticket_no: str) -> Case | None:
    report = Report.objects.select_related("case").filter(ticket_no=ticket_no).first()
    return report.case if report is not None else None


@require_POST
def ticket_rate(request: HttpRequest, ticket_no: str) -> HttpResponse:
    """The ticket holder rates the result once the case is closed; "not fixed" flags the look-back."""
    try:
        view = selectors.public_case_by_ticket(ticket_no=ticket_no)
    except NotFoundOrForbidden as exc:
        return ticket_missing(request, ticket_no, str(exc))
    form = RateForm(request.POST)
    if not form.is_valid():
        return render_ticket(request, view, rate_form=form, status=400)
    case = _case_for_ticket(view.ticket_no)
    if case is None:  # deleted in between; the same answer as an unknown ticket
        return ticket_missing(request, ticket_no, _("No case has the ticket number “%(ticket)s”.") % {"ticket": ticket_no})
    try:
        actions.case_rate(
            case=case,
            rating=form.cleaned_data["rating"],
            ticket_no=view.ticket_no,
            by=request.user if request.user.is_authenticated else None,
            unfixed=form.cleaned_data["unfixed"],
            note=form.cleaned_data["note"],
        )
    except CivicError as exc:
        _show_error(form, exc)
        return render_ticket(request, view, rate_form=form, status=http_status(exc))
    messages.success(request, _("Thank you. Your rating was recorded."))
    return redirect("web:ticket_detail", ticket_no=view.ticket_no)


# ---- open problems on a map -------------------------------------------------------------


class BadBbox(ValueError):
    pass


def _bbox(raw: str) -> tuple[float, float, float, float] | None:
    """``min_lon,min_lat,max_lon,max_lat`` in WGS-84 (the GeoJSON / OGC order)."""
    if not raw:
        return None
    parts = raw.split(",")
    if len(parts) != 4:
        raise BadBbox
    try:
        min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
    except ValueError:
        raise BadBbox from None
    values = (min_lon, min_lat, max_lon, max_lat)
    if not all(math.isfinite(v) for v in values):
        raise BadBbox
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise BadBbox
    return values


def _public_open_cases(bbox: tuple[float, float, float, float] | None, *, limit: int = MAX_MAP_POINTS) -> list[dict[str, Any]]:
    """Open cases for anyone to see: position, category, state and reported date, nothing else.

    Public by design (like the front page's counts), so not scoped by the policy;
    the selected columns are the whole of what leaves the database.
    """
    qs = Case.objects.filter(state__in=list(OPEN_STATES))
    if bbox is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        qs = qs.filter(lon__gte=min_lon, lon__lte=max_lon, lat__gte=min_lat, lat__lte=max_lat)
    rows = qs.order_by("-reported_at", "-id").values(
        "lat", "lon", "state", "reported_at", "category__code", "category__name", "category__name_en"
    )[:limit]
    return [dict(row) for row in rows]


def _state_labels() -> dict[str, str]:
    from civicloop.cases.models import State

    return {s.value: str(s.label) for s in State}


@require_GET
def nearby_geojson(request: HttpRequest) -> HttpResponse:
    """Public GeoJSON of open problems (optionally inside ``?bbox=``): no ticket, no text, no person."""
    try:
        bbox = _bbox(request.GET.get("bbox", "").strip())
    except BadBbox:
        return JsonResponse(
            {"error": _("The bbox must be four numbers: min_lon,min_lat,max_lon,max_lat (WGS-84).")}, status=400
        )
    english = (get_language() or "").startswith("en")
    labels = _state_labels()
    features = []
    for row in _public_open_cases(bbox):
        reported = timezone.localtime(row["reported_at"])
        title = row["category__name"] + (f" · {row['category__name_en']}" if english and row["category__name_en"] else "")
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(row["lon"], 5), round(row["lat"], 5)]},
                "properties": {
                    "category": row["category__code"],
                    "title": title,
                    "state": row["state"],
                    "state_label": labels.get(row["state"], row["state"]),
                    "reported_on": reported.date().isoformat(),
                    "subtitle": f"{labels.get(row['state'], row['state'])} · {date_format(reported, 'SHORT_DATE_FORMAT')}",
                },
            }
        )
    response = JsonResponse(
        {
            "type": "FeatureCollection",
            "properties": {"label": _("Open problems"), "truncated": len(features) >= MAX_MAP_POINTS},
            "features": features,
        }
    )
    response["Cache-Control"] = "public, max-age=60"
    response["Vary"] = "Accept-Language, Cookie"
    return response


@require_GET
def nearby(request: HttpRequest) -> HttpResponse:
    """A map of open problems around the resident, clustered, and the newest as a list."""
    latest = _public_open_cases(None, limit=20)
    labels = _state_labels()
    rows = [
        {
            "category": r["category__name"],
            "category_en": r["category__name_en"] if (get_language() or "").startswith("en") else "",
            "state_label": labels.get(r["state"], r["state"]),
            "reported_at": r["reported_at"],
        }
        for r in latest
    ]
    return render(request, "web/resident/nearby.html", {"latest": rows})


urlpatterns = [
    path("report/", report, name="report"),
    path("report/categories/", category_search, name="category_search"),
    path("report/nearby/", report_nearby, name="report_nearby"),
    path("report/done/<str:ticket_no>/", report_done, name="report_done"),
    path("report/received/<str:token>/", report_held, name="report_held"),
    path("t/<str:ticket_no>/rate/", ticket_rate, name="ticket_rate"),
    path("nearby/", nearby, name="nearby"),
    path("nearby/cases.geojson", nearby_geojson, name="nearby_geojson"),
]
