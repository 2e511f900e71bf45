"""The life-circle pages (15分钟便民服务圈), for the campaign office and leaders.

* ``/lifecircle/`` (``lifecircle:map``): the map of one kind — compounds covered / not
  covered / not connected, buildings, streets shaded by walking time, the facilities — with
  the what-if (click a candidate site) and the best-site search.
* ``/lifecircle/layers/<layer>.json``: the map's GeoJSON layers (``selectors.*_layer``).
* ``/lifecircle/whatif/`` and ``/lifecircle/best-sites/`` (POST, rate-limited per user).
* ``/lifecircle/coverage/``: coverage per community, street office or district, and
  ``/lifecircle/export.xlsx``.
* ``/lifecircle/gaps/``: the compounds and buildings that miss a kind.
* ``/lifecircle/facilities/``: facilities registered here (add, correct, retire), and OSM
  ones (retire a closed shop), for the campaign office.
* ``/lifecircle/network/``: import an ``.osm.pbf``, follow the import, recompute (the city's
  campaign office and admins).

Every page needs ``policy.may_read_lifecircle`` (otherwise 404, as for a missing page).
Thin: forms parse, ``selectors`` read, ``actions`` write, ``org.policy`` decides.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicloop.core import ratelimit
from civicloop.core.errors import CivicError, RateLimited, ValidationFailed
from civicloop.org import policy
from civicloop.web.common import http_status

from . import actions, excel, selectors
from .forms import (
    ActiveForm,
    FacilityForm,
    FacilitySearchForm,
    KindFilterForm,
    LevelForm,
    NetworkUploadForm,
)
from .models import Facility, FacilityKind, FacilitySource, JobStatus, ReachState

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LAYERS = ("compounds", "buildings", "segments", "facilities")
GAPS_PAGE = 100
FACILITIES_PAGE = 50
NETWORKS_SHOWN = 20
# Share of households: at least GOOD is green, at least FAIR amber, else red.
GOOD, FAIR = 90.0, 60.0
# The street shading (selectors.segments_layer: one band per level, then farther, then
# unreached): the levels run from green to amber whatever their number.
LEVEL_STOPS = ("#1a7f37", "#7cb342", "#f9a825")
FARTHER_COLOUR, UNREACHED_COLOUR = "#e65100", "#9e9e9e"


def reader_required(view: Any) -> Any:
    """Readers of the life circle only; everyone else gets the 404 of a missing page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not policy.may_read_lifecircle(request.user):
            raise Http404(_("The life-circle analysis is for the campaign office and leaders."))
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def _json_error(exc: CivicError) -> JsonResponse:
    response = JsonResponse(
        {"error": exc.message, "field": exc.field or ""}, status=http_status(exc)
    )
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _limit(request: HttpRequest, scope: str, per_minute: int) -> None:
    """Count one request of this user; too many raise ``RateLimited``."""
    decision = ratelimit.hit(scope, str(request.user.pk), limit=per_minute, window_s=60)
    if not decision.allowed:
        raise RateLimited(
            _("Too many requests in a minute (at most %(limit)d). Wait a moment and try again.")
            % {"limit": decision.limit},
            retry_after=decision.retry_after,
        )


def share_cell(share: float | None) -> tuple[str, str]:
    """(text, css class) of a coverage share: green ≥ 90 %, amber ≥ 60 %, red below, "—"
    for an area without households."""
    if share is None:
        return excel.NO_VALUE, "lc-none"
    css = "lc-good" if share >= GOOD else "lc-fair" if share >= FAIR else "lc-poor"
    return f"{share:.1f}%", css


def _admin_url(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


def _shell(request: HttpRequest, tab: str) -> dict[str, Any]:
    """What every life-circle page shows around its content: the tabs and the job status."""
    return {
        "tab": tab,
        "status": selectors.status(),
        "may_manage": policy.may_manage_lifecircle(request.user),
        "may_register": policy.may_register_facilities(request.user),
    }


def level_colours(n: int) -> list[str]:
    """``n`` colours from green (nearest) to amber, interpolated between ``LEVEL_STOPS`` so
    the legend stays right for any number of levels (three levels: exactly the stops)."""
    stops = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in LEVEL_STOPS]
    colours = []
    for i in range(n):
        t = i / (n - 1) * (len(stops) - 1) if n > 1 else 0.0
        j = min(int(t), len(stops) - 2)
        f = t - j
        rgb = (round(a + (b - a) * f) for a, b in zip(stops[j], stops[j + 1], strict=True))
        colours.append("#" + "".join(f"{c:02x}" for c in rgb))
    return colours


def legend_bands(levels: list[int]) -> list[dict[str, str]]:
    """The legend of the street shading, band for band as ``selectors.segments_layer`` makes
    them: one per level (ascending), then farther, then not reached."""
    ordered = sorted(levels)
    bands = [
        {"label": _("≤ %(minutes)d min") % {"minutes": m}, "colour": colour}
        for m, colour in zip(ordered, level_colours(len(ordered)), strict=True)
    ]
    bands += [
        {"label": _("Farther"), "colour": FARTHER_COLOUR},
        {"label": _("Not reached"), "colour": UNREACHED_COLOUR},
    ]
    return bands


def _chosen_kind(kinds: list[FacilityKind], code: str) -> FacilityKind | None:
    for k in kinds:
        if k.code == code:
            return k
    return next((k for k in kinds if k.required), kinds[0] if kinds else None)


# ---- the map ---------------------------------------------------------------------------------


@require_GET
@reader_required
def map_page(request: HttpRequest) -> HttpResponse:
    kinds = selectors.active_kinds()
    kind = _chosen_kind(kinds, request.GET.get("kind", ""))
    data = selectors.current_analysis()
    levels = list(data.levels) if data is not None else list(actions.config()["LEVELS_MINUTES"])
    bands = legend_bands(levels)
    map_setup = {
        "kind": kind.code if kind else "",
        "layer_url": reverse("lifecircle:layer", kwargs={"layer": "LAYER"}),
        "whatif_url": reverse("lifecircle:whatif"),
        "best_url": reverse("lifecircle:best_sites"),
        "bands": bands,
        "text": {
            "households": _("Households"),
            "distance": _("Walking distance"),
            "metres": _("m"),
            "minutes": _("min"),
            "level": _("Life circle"),
            "nearest": _("Nearest facility"),
            "not_connected": str(ReachState.UNREACHABLE.label),
            "not_computed": _("Not computed yet"),
            "beyond": str(ReachState.BEYOND.label),
            "covered": _("Covered"),
            "not_covered": _("Not covered"),
            "compounds": _("Compounds"),
            "buildings": _("Residential buildings"),
            "streets": _("Streets by walking time"),
            "facilities": _("Facilities"),
            "registered": _("Registered in civicloop"),
            "osm": _("OpenStreetMap"),
            "candidate": _("Candidate site"),
            "no_candidates": _(
                "Place at least one candidate site on the map first, or untick “Choose among"
                " my candidate sites”."
            ),
            "site": _("Site %(n)s"),
            "working": _("Computing…"),
            "failed": _("The request failed. Try again."),
        },
    }
    return render(
        request,
        "lifecircle/map.html",
        {
            **_shell(request, "map"),
            "kinds": kinds,
            "kind": kind,
            "max_best_sites": actions.config()["MAX_BEST_SITES"],
            "bands": bands,
            "map_setup": map_setup,
        },
    )


@require_GET
@reader_required
def layer(request: HttpRequest, layer: str) -> JsonResponse:
    """One GeoJSON layer of the map for ``?kind=<code>`` (facilities: all kinds without it)."""
    if layer not in LAYERS:
        return JsonResponse({"error": _("No such layer.")}, status=404)
    code = request.GET.get("kind", "")
    try:
        if layer == "facilities" and not code:
            return JsonResponse(selectors.facilities_layer(request.user))
        kind = selectors.access_kind(code)
        if layer == "compounds":
            data = selectors.compounds_layer(request.user, kind=kind)
        elif layer == "buildings":
            data = selectors.buildings_layer(request.user, kind=kind)
        elif layer == "segments":
            data = selectors.segments_layer(request.user, kind=kind)
        else:
            data = selectors.facilities_layer(request.user, kind=kind)
    except CivicError as exc:
        return _json_error(exc)
    return JsonResponse(data)


@require_POST
@reader_required
def whatif(request: HttpRequest) -> JsonResponse:
    """What a new facility at the clicked point would change (JSON with the rendered panel)."""
    try:
        _limit(request, "lifecircle-whatif", int(actions.config()["WHATIF_PER_MINUTE"]))
        kind = selectors.access_kind(request.POST.get("kind", ""))
        result = selectors.whatif(
            request.user, kind=kind, lon=request.POST.get("lon"), lat=request.POST.get("lat")
        )
    except CivicError as exc:
        return _json_error(exc)
    html = render_to_string("lifecircle/_whatif.html", {"w": result}, request=request)
    return JsonResponse(
        {
            "kind": kind.code,
            "lon": result.lon,
            "lat": result.lat,
            "snap_m": result.snap_m,
            "households_gained": result.households_gained,
            "total_households": result.total_households,
            "covered_before": result.covered_before,
            "covered_after": result.covered_after,
            "share_before": result.share_before,
            "share_after": result.share_after,
            "elapsed_ms": result.elapsed_ms,
            "places": [
                {"name": name, "households": households, "distance_m": metres}
                for name, households, metres in result.places
            ],
            "areas": [
                {
                    "id": a.area_id,
                    "name": a.name,
                    "households": a.households,
                    "before": a.before,
                    "after": a.after,
                    "before_share": a.before_share,
                    "after_share": a.after_share,
                }
                for a in result.areas
            ],
            "html": html,
        }
    )


def parse_candidates(text: str) -> list[tuple[str, str]]:
    """ "lon,lat;lon,lat" → [(lon, lat)] (numbers are checked by the selector)."""
    points = []
    for part in (text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        pieces = [p.strip() for p in part.split(",")]
        if len(pieces) != 2 or not all(pieces):
            raise ValidationFailed(
                _("Give the candidate points as longitude,latitude separated by semicolons."),
                field="candidates",
            )
        points.append((pieces[0], pieces[1]))
    return points


@require_POST
@reader_required
def best_sites(request: HttpRequest) -> JsonResponse:
    """The k sites that bring the most uncovered households within the kind's life circle."""
    try:
        _limit(
            request,
            "lifecircle-best-sites",
            int(actions.config()["BEST_SITES_PER_MINUTE"]),
        )
        kind = selectors.access_kind(request.POST.get("kind", ""))
        candidates = parse_candidates(request.POST.get("candidates", ""))
        result = selectors.best_sites(
            request.user, kind=kind, k=request.POST.get("k"), candidates=candidates or None
        )
    except CivicError as exc:
        return _json_error(exc)
    total = result.total_households
    picks = [
        {
            "n": n,
            "lon": p.lon,
            "lat": p.lat,
            "households_gained": p.households_gained,
            "covered_after": p.covered_after,
            "share_after": round(100.0 * p.covered_after / total, 1) if total else None,
        }
        for n, p in enumerate(result.picks, start=1)
    ]
    html = render_to_string(
        "lifecircle/_best_sites.html",
        {
            "result": result,
            "picks": picks,
            "share_before": round(100.0 * result.covered_before / total, 1) if total else None,
            "own_points": bool(candidates),
        },
        request=request,
    )
    return JsonResponse(
        {
            "kind": kind.code,
            "candidates": result.candidates,
            "total_households": total,
            "covered_before": result.covered_before,
            "elapsed_ms": result.elapsed_ms,
            "picks": picks,
            "html": html,
        }
    )


# ---- coverage and gaps -----------------------------------------------------------------------


@require_GET
@reader_required
def coverage(request: HttpRequest) -> HttpResponse:
    form = LevelForm(request.GET or None)
    level, status = "community", 200
    if form.is_bound:
        if form.is_valid():
            level = form.cleaned_data["level"] or "community"
        else:
            status = 400
    table = selectors.coverage_table(request.user, level=level)
    rows = []
    for r in table.rows:
        rows.append(
            {
                "name": r.area.name,
                "parent": r.parent_name,
                "households": r.households,
                "cells": [
                    share_cell(r.by_kind[k.pk].share if k.pk in r.by_kind else None)
                    for k in table.kinds
                ],
                "all": share_cell(r.all_required.share if r.all_required else None),
                "all_share": r.all_required.share if r.all_required else None,
            }
        )
    chart = {
        "labels": [r["name"] for r in rows],
        "values": [r["all_share"] for r in rows],
        "title": _("Households reaching all required kinds (%)"),
    }
    return render(
        request,
        "lifecircle/coverage.html",
        {
            "form": form,
            "table": table,
            "rows": rows,
            "chart": chart,
            **_shell(request, "coverage"),
            "level": level,
            "good": GOOD,
            "fair": FAIR,
        },
        status=status,
    )


@require_GET
@reader_required
def export_xlsx(request: HttpRequest) -> FileResponse:
    buffer = excel.coverage_workbook(request.user)
    name = f"lifecircle-{timezone.localdate():%Y%m%d}.xlsx"
    return FileResponse(buffer, as_attachment=True, filename=name, content_type=XLSX)


@require_GET
@reader_required
def gaps(request: HttpRequest) -> HttpResponse:
    kinds = selectors.active_kinds()
    form = KindFilterForm(request.GET or None, kinds=kinds)
    kind, status = None, 200
    if form.is_bound:
        if form.is_valid():
            code = form.cleaned_data["kind"]
            kind = next((k for k in kinds if k.code == code), None) if code else None
        else:
            status = 400
    rows = selectors.gaps(request.user, kind=kind)
    page = Paginator(rows, GAPS_PAGE).get_page(request.GET.get("page"))
    shown = [
        {
            "gap": g,
            "state": excel.state_label(state=g.state, kind=g.kind),
            "unreachable": g.state == ReachState.UNREACHABLE,
        }
        for g in page.object_list
    ]
    return render(
        request,
        "lifecircle/gaps.html",
        {
            "form": form,
            "kind": kind,
            "summary": selectors.gap_summary(request.user),
            "rows": shown,
            "page": page,
            "total": page.paginator.count,
            **_shell(request, "gaps"),
        },
        status=status,
    )


# ---- facilities ------------------------------------------------------------------------------


def _registrar(request: HttpRequest) -> None:
    if not policy.may_register_facilities(request.user):
        raise Http404(_("Registering facilities is for the campaign office."))


def _facility(request: HttpRequest, facility_id: int) -> Facility:
    try:
        return actions.access_facility(request.user, facility_id)
    except CivicError as exc:
        raise Http404(exc.message) from exc


def _apply(form: Any, exc: CivicError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _kind_of(kinds: list[FacilityKind], code: str) -> FacilityKind:
    for k in kinds:
        if k.code == code:
            return k
    raise ValidationFailed(_("Choose a kind of facility from the list."), field="kind")


def _facilities_page(
    request: HttpRequest, *, add_form: FacilityForm | None = None, status: int = 200
) -> HttpResponse:
    user = request.user
    kinds = selectors.active_kinds()
    search = FacilitySearchForm(request.GET or None, kinds=kinds, auto_id="search_%s")
    rows = Facility.objects.select_related("kind").order_by("kind__sort_order", "name", "pk")
    source = "civicloop"
    if search.is_bound and search.is_valid():
        data = search.cleaned_data
        source = data["source"] or "civicloop"
        if data["kind"]:
            rows = rows.filter(kind__code=data["kind"])
        if data["q"]:
            rows = rows.filter(Q(name__icontains=data["q"]) | Q(address__icontains=data["q"]))
    elif search.is_bound:
        status = 400
    if source != "all":
        rows = rows.filter(source=source)
    page = Paginator(rows, FACILITIES_PAGE).get_page(request.GET.get("page"))
    items = [
        {"facility": f, "editable": policy.may_edit_facility(user, f.area_path)}
        for f in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "lifecircle/facilities.html",
        {
            "search": search,
            "form": add_form or FacilityForm(kinds=kinds),
            "items": items,
            "page": page,
            "query": query.urlencode(),
            "source": source,
            **_shell(request, "facilities"),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@reader_required
def facilities(request: HttpRequest) -> HttpResponse:
    _registrar(request)
    if request.method == "GET":
        return _facilities_page(request)
    kinds = selectors.active_kinds()
    form = FacilityForm(request.POST, kinds=kinds)
    if not form.is_valid():
        return _facilities_page(request, add_form=form, status=400)
    data = form.cleaned_data
    try:
        facility = actions.facility_create(
            by=request.user,
            kind=_kind_of(kinds, data["kind"]),
            name=data["name"],
            address=data["address"],
            lon=data["lon"],
            lat=data["lat"],
        )
    except CivicError as exc:
        _apply(form, exc)
        return _facilities_page(request, add_form=form, status=http_status(exc))
    messages.success(
        request,
        _("Registered %(name)s. The life circle is recomputed with it.") % {"name": facility.name},
    )
    return redirect("lifecircle:facilities")


@require_http_methods(["GET", "POST"])
@reader_required
def facility_edit(request: HttpRequest, facility_id: int) -> HttpResponse:
    _registrar(request)
    facility = _facility(request, facility_id)
    kinds = selectors.active_kinds()
    if facility.kind not in kinds:
        kinds = [*kinds, facility.kind]
    status = 200
    if request.method == "POST":
        form = FacilityForm(request.POST, kinds=kinds)
        if form.is_valid():
            data = form.cleaned_data
            try:
                actions.facility_update(
                    by=request.user,
                    facility=facility,
                    kind=_kind_of(kinds, data["kind"]),
                    name=data["name"],
                    address=data["address"],
                    lon=data["lon"],
                    lat=data["lat"],
                )
            except CivicError as exc:
                _apply(form, exc)
                status = http_status(exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("lifecircle:facilities")
        else:
            status = 400
    else:
        form = FacilityForm(
            initial={
                "kind": facility.kind.code,
                "name": facility.name,
                "address": facility.address,
                "lon": facility.lon,
                "lat": facility.lat,
            },
            kinds=kinds,
        )
    return render(
        request,
        "lifecircle/facility_edit.html",
        {
            "facility": facility,
            "form": form,
            "from_osm": facility.source == FacilitySource.OSM,
            **_shell(request, "facilities"),
        },
        status=status,
    )


@require_POST
@reader_required
def facility_active(request: HttpRequest, facility_id: int) -> HttpResponse:
    """Retire a facility (closed, moved away) or restore it."""
    _registrar(request)
    facility = _facility(request, facility_id)
    form = ActiveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Retire or restore?"))
        return redirect("lifecircle:facilities")
    try:
        facility = actions.facility_set_active(
            by=request.user, facility=facility, active=form.cleaned_data["active"]
        )
    except CivicError as exc:
        messages.error(request, exc.message)
        return redirect("lifecircle:facilities")
    messages.success(
        request,
        (_("Restored %(name)s.") if facility.active else _("Retired %(name)s."))
        % {"name": str(facility)},
    )
    return redirect("lifecircle:facilities")


# ---- the walking network ---------------------------------------------------------------------


def _manager(request: HttpRequest) -> None:
    if not policy.may_manage_lifecircle(request.user):
        raise Http404(_("Importing the walking network is for the city's campaign office."))


def _network_page(
    request: HttpRequest, *, form: NetworkUploadForm | None = None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "lifecircle/network.html",
        {
            "form": form or NetworkUploadForm(),
            **_shell(request, "network"),
            "networks": list(selectors.networks(request.user)[:NETWORKS_SHOWN]),
            "max_mb": actions.config()["MAX_UPLOAD_BYTES"] // (1024 * 1024),
            "tag_rules_url": _admin_url("admin:lifecircle_tagrule_changelist"),
            "kinds_url": _admin_url("admin:lifecircle_facilitykind_changelist"),
            "running": (JobStatus.QUEUED, JobStatus.RUNNING),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@reader_required
def network(request: HttpRequest) -> HttpResponse:
    _manager(request)
    if request.method == "GET":
        return _network_page(request)
    form = NetworkUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _network_page(request, form=form, status=400)
    try:
        item = actions.network_request(by=request.user, upload=form.cleaned_data["source"])
    except CivicError as exc:
        form.add_error("source" if exc.field in (None, "source") else None, exc.message)
        return _network_page(request, form=form, status=http_status(exc))
    messages.success(
        request,
        _("%(name)s is queued for import; the life circle is recomputed when it is read.")
        % {"name": item.source_name},
    )
    return redirect("lifecircle:network")


@require_GET
@reader_required
def network_progress(request: HttpRequest, network_id: int) -> HttpResponse:
    """One import's state, polled by htmx every 2 s while it is queued or running."""
    _manager(request)
    try:
        item = selectors.access_network(request.user, network_id)
    except CivicError as exc:
        raise Http404(exc.message) from exc
    return render(
        request,
        "lifecircle/_network_progress.html",
        {"n": item, "running": (JobStatus.QUEUED, JobStatus.RUNNING)},
    )


@require_POST
@reader_required
def recompute(request: HttpRequest) -> HttpResponse:
    _manager(request)
    try:
        item = actions.analysis_request(by=request.user)
    except CivicError as exc:
        messages.error(request, exc.message)
        return redirect("lifecircle:network")
    if item is None:
        messages.error(request, _("There is no walking network yet: import one first."))
    else:
        messages.success(request, _("The life circle is being recomputed."))
    return redirect("lifecircle:network")
