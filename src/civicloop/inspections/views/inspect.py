"""Inspection pages: inspecting on a phone (see docs/architecture.md, "inspections").

* ``/inspect/`` — the inspector's locations of rounds being inspected (still to inspect
  first) and the drafts kept on this phone (listed by ``inspect.js`` from IndexedDB).
* ``/inspect/<location>/`` — the form, item by item (or, at a look-back, earlier finding
  by finding), with the site on a map and the device position. The draft lives in the
  browser (IndexedDB) and is posted to ``…/submit/``, which answers JSON.
* ``/inspect/sw.js`` — the service worker (scope ``/inspect/``) that keeps these pages and
  their scripts for reopening without a connection. Each page names its user in the header
  ``X-Inspect-User``: the worker keeps the pages of one person only and drops them when
  another person's page arrives (a shared phone), or when a page sends it to log in.
* ``/inspections/photos/<id>/`` — a visit photo (private storage), for those who may see
  the round's results.
* ``/inspections/rounds/<id>/submissions/`` — the round's owners import ODK/KoboCollect exports.

Thin: ``visits`` writes, ``org.policy`` decides who sees what.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Prefetch, Value, When
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicloop.core.errors import CivicError, NotFoundOrForbidden, ValidationFailed
from civicloop.org import policy
from civicloop.web.common import http_status

from .. import visits
from ..models import (
    DeductionRule,
    Item,
    LocationStatus,
    RoundLocation,
    Section,
    VetoScope,
    Visit,
    VisitPhoto,
)
from ..tables import MAX_BYTES

# Whose page this is, for the service worker (inspect/sw.js): it keeps one person's pages.
USER_HEADER = "X-Inspect-User"
# The answers of a visit are short (notes of at most a few thousand characters per item);
# anything longer is refused before it is parsed.
MAX_ANSWERS_CHARS = 200_000

# ---- the inspector's list ------------------------------------------------------------------------


def _map_link(location: RoundLocation) -> str:
    """A ``geo:`` link (RFC 5870, WGS-84): the phone's map app shows the way there."""
    point = location.site.shape.representative_point()
    return f"geo:{point.y:.6f},{point.x:.6f}?q={point.y:.6f},{point.x:.6f}"


@require_GET
@login_required
def inspect_home(request: HttpRequest) -> HttpResponse:
    locations = list(
        visits.inspectable_locations(request.user)
        .select_related("round", "site", "standard")
        .annotate(
            todo=Case(
                When(status=LocationStatus.PENDING, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("todo", "round__period_end", "round_id", "draw_order", "pk")
    )
    done = {
        v.location_id: v
        for v in Visit.objects.filter(location__in=[loc.pk for loc in locations]).only(
            "location_id", "score", "off_site", "distance_m", "recorded_at"
        )
    }
    rows = [
        {
            "location": loc,
            "code": visits.location_code(loc),
            "map_link": _map_link(loc),
            "visit": done.get(loc.pk),
            "lookback": loc.round.lookback_of_id is not None,
        }
        for loc in locations
    ]
    response = render(
        request,
        "inspections/inspect/home.html",
        {
            "rows": rows,
            "pending": sum(1 for r in rows if r["visit"] is None),
            "client": _client_config(
                request, keep=[loc.pk for loc in locations if loc.pk not in done]
            ),
        },
    )
    response[USER_HEADER] = str(request.user.pk)
    return response


def _client_config(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    """What ``inspect.js`` reads from the page (json_script)."""
    return {
        "user": request.user.pk,
        "home_url": reverse("inspections:inspect_home"),
        "logout_url": reverse("web:logout"),
        "sw_url": reverse("inspections:inspect_sw"),
        "submit_url_pattern": reverse(
            "inspections:inspect_submit", kwargs={"location_id": 0}
        ).replace("/0/", "/{id}/"),
        "location_url_pattern": reverse(
            "inspections:inspect_location", kwargs={"location_id": 0}
        ).replace("/0/", "/{id}/"),
        "text": _client_text(),
        **extra,
    }


def _client_text() -> dict[str, str]:
    return {
        "waiting": _(
            "Waiting to send: there is no connection. The draft is kept on this phone and sent as soon as the connection returns."
        ),
        "sending": _("Sending…"),
        "sent": _("Sent. Score: %(score)s."),
        "sent_no_score": _("Sent."),
        "off_site": _("Recorded %(metres)s m away from the site: the visit is flagged."),
        "refused": _("Not accepted: %(message)s"),
        "session": _(
            "Your login has expired or changed: log in again, then open this page to send the draft."
        ),
        "restored": _("Your draft was restored (saved %(time)s)."),
        "saved": _("Draft saved on this phone."),
        "gps_denied": _(
            "Location is not available; the visit will be recorded without GPS (“no GPS”)."
        ),
        "on_site": _("You are at the site (±%(accuracy)s m)."),
        "away": _(
            "You are %(metres)s m from the site: a visit recorded here will be flagged as off site."
        ),
        "photos_needed": _("“%(item)s” needs %(count)s photo(s) of what was found."),
        "choose_recheck": _("Say for every earlier finding whether it is still fixed or recurred."),
        "draft_waiting": _("Waiting to send"),
        "draft_editing": _("Not sent yet"),
        "draft_refused": _("Not accepted"),
        "submit_now": _("Submit now"),
        "open": _("Open"),
        "discard": _("Discard"),
        "discard_confirm": _("Discard this draft and its photos from this phone?"),
        "remove_photo": _("Remove photo"),
        "deduction": _("−%(points)s points"),
        "veto": _("Veto"),
        "score": _("Score so far: %(score)s (for information; the server scores the visit)"),
        "score_none": _("Nothing applies: no score."),
        "storage_unavailable": _(
            "This browser cannot keep drafts (private mode?): send before closing the page."
        ),
    }


# ---- the form --------------------------------------------------------------------------------------


def _location_for(user: Any, location_id: int) -> RoundLocation:
    location = (
        visits.inspectable_locations(user)
        .select_related("round", "round__lookback_of", "site", "site__unit", "standard")
        .filter(pk=location_id)
        .first()
    )
    if location is None:
        raise Http404(_("No such location to inspect, or it is not yours."))
    return location


def _rule_text(item: Item) -> str:
    if item.rule == DeductionRule.VETO:
        if item.veto_scope == VetoScope.LOCATION:
            return _("Veto: the whole location scores zero when found.")
        return _("Veto: this section scores zero when found.")
    if item.rule == DeductionRule.PER_OCCURRENCE:
        return _("%(points)s points; %(deduction)s off for each place found.") % {
            "points": _num(item.full_points),
            "deduction": _num(item.deduction),
        }
    return _("%(points)s points; %(deduction)s off when found.") % {
        "points": _num(item.full_points),
        "deduction": _num(item.deduction),
    }


def _num(value: Any) -> str:
    text = format(value.normalize(), "f") if hasattr(value, "normalize") else str(value)
    return text


def _photo_url(photo: VisitPhoto) -> str:
    return reverse("inspections:visit_photo", kwargs={"photo_id": photo.pk})


@require_GET
@login_required
def inspect_location(request: HttpRequest, location_id: int) -> HttpResponse:
    location = _location_for(request.user, location_id)
    rnd = location.round
    sections = list(
        Section.objects.filter(standard=location.standard)
        .order_by("position")
        .prefetch_related(Prefetch("items", queryset=Item.objects.order_by("position")))
    )
    lookback = rnd.lookback_of_id is not None
    findings: list[dict[str, Any]] = []
    if lookback:
        earlier = list(visits.earlier_findings(location).prefetch_related("photos"))
        show_photos = rnd.lookback_of is not None and policy.round_results_visible(
            request.user, rnd.lookback_of
        )
        findings = [
            {
                "finding": f,
                "label": f"{f.item.section.position}.{f.item.position}",
                "photos": [_photo_url(p) for p in f.photos.all()] if show_photos else [],
                "photos_required": f.item.photos_required,
            }
            for f in earlier
        ]
    items = [
        {
            "section": section,
            "items": [
                {"item": item, "rule_text": _rule_text(item)} for item in section.items.all()
            ],
        }
        for section in sections
    ]
    visit = Visit.objects.filter(location=location).first()
    client = _client_config(
        request,
        location=location.pk,
        lookback=lookback,
        site_name=location.site.name,
        round_name=rnd.name,
        off_site_metres=rnd.off_site_metres,
        geometry=json.loads(location.site.geometry),
        done=visit is not None,
        keep=[location.pk],
        items=[
            {
                "id": i.pk,
                "section": s.position,
                "label": f"{s.position}.{i.position}",
                "points": str(i.full_points),
                "deduction": str(i.deduction),
                "rule": i.rule,
                "veto_scope": i.veto_scope,
                "photos_required": i.photos_required,
            }
            for s in sections
            for i in s.items.all()
        ]
        if not lookback
        else [],
        findings=[
            {"id": f["finding"].pk, "label": f["label"], "photos_required": f["photos_required"]}
            for f in findings
        ],
    )
    response = render(
        request,
        "inspections/inspect/location.html",
        {
            "location": location,
            "round": rnd,
            "site": location.site,
            "code": visits.location_code(location),
            "map_link": _map_link(location),
            "sections": items,
            "lookback": lookback,
            "findings": findings,
            "visit": visit,
            "client": client,
        },
    )
    response[USER_HEADER] = str(request.user.pk)
    return response


# ---- the submission (JSON) ---------------------------------------------------------------------------------


def _error(exc: CivicError, status: int | None = None) -> JsonResponse:
    return JsonResponse(
        {"code": str(exc.code), "message": exc.message, "field": exc.field},
        status=status or http_status(exc),
    )


def _objects(value: Any, what: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValidationFailed(
            _("The answers could not be read (%(what)s).") % {"what": what}, field="answers"
        )
    return value


def _given(entry: dict[str, Any], key: str, default: Any = None) -> Any:
    """A value as the client sent it; the action checks its type and range."""
    return entry[key] if key in entry else default


def _parse(request: HttpRequest) -> dict[str, Any]:
    """The multipart submission (a JSON ``answers`` field and the photo files) as action arguments."""
    raw = request.POST.get("answers")
    if not raw:
        raise ValidationFailed(_("The submission has no answers."), field="answers")
    if len(raw) > MAX_ANSWERS_CHARS:
        raise ValidationFailed(
            _("The answers are too long (more than %(max)s characters): shorten the notes.")
            % {"max": MAX_ANSWERS_CHARS},
            field="answers",
        )
    try:
        answers = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        raise ValidationFailed(
            _("The answers could not be read (not JSON)."), field="answers"
        ) from None
    if not isinstance(answers, dict):
        raise ValidationFailed(_("The answers could not be read (not an object)."), field="answers")
    checks = [
        visits.CheckInput(
            item_id=_given(c, "item_id"),
            occurrences=_given(c, "occurrences", 0),
            veto_hit=_given(c, "veto_hit", False),
            not_applicable=_given(c, "not_applicable", False),
            note=_given(c, "note", ""),
            description=_given(c, "description", ""),
        )
        for c in _objects(answers.get("checks"), "checks")
    ]
    rechecks = [
        visits.RecheckInput(
            finding_id=_given(r, "finding_id"),
            recurred=_given(r, "recurred"),
            note=_given(r, "note", ""),
        )
        for r in _objects(answers.get("rechecks"), "rechecks")
    ]
    photos = []
    used: set[str] = set()
    for entry in _objects(answers.get("photos"), "photos"):
        name = str(entry.get("field") or "")
        upload = request.FILES.get(name) if name else None
        if upload is None or name in used:
            raise ValidationFailed(
                _("A photo named in the answers was not sent; send again."), field="photos"
            )
        used.add(name)
        photos.append(
            visits.PhotoInput(
                upload=upload,
                item_id=_given(entry, "item_id"),
                finding_id=_given(entry, "finding_id"),
            )
        )
    return {
        "client_uuid": answers.get("client_uuid"),
        "checks": checks,
        "rechecks": rechecks,
        "photos": photos,
        "lat": answers.get("lat"),
        "lon": answers.get("lon"),
        "accuracy_m": answers.get("accuracy_m"),
        "crs": answers.get("crs") or "wgs84",
        "started_at": answers.get("started_at"),
        "recorded_at": answers.get("recorded_at"),
        "note": _given(answers, "note") or "",
    }


def _visit_body(visit: Visit, status: str) -> dict[str, Any]:
    return {
        "status": status,
        "visit": visit.pk,
        "location": visit.location_id,
        "score": None if visit.score is None else str(visit.score),
        "off_site": visit.off_site,
        "distance_m": visit.distance_m,
    }


@require_POST
@never_cache
def inspect_submit(request: HttpRequest, location_id: int) -> JsonResponse:
    """Answers JSON: 201 with the new visit, 200 for a draft sent again, 4xx ``{code, message, field}``."""
    if not request.user.is_authenticated:
        return JsonResponse(
            {
                "code": "not_logged_in",
                "message": _("Log in again to send the draft."),
                "field": None,
            },
            status=401,
        )
    location = RoundLocation.objects.select_related("round").filter(pk=location_id).first()
    try:
        # Before the body is read: a location whose round the user may not know of gets the
        # answer of one that does not exist, whatever was sent, so probing ids tells nothing.
        if (
            location is None
            or not policy.visible_rounds(request.user).filter(pk=location.round_id).exists()
        ):
            raise NotFoundOrForbidden(_("No such location to inspect, or it is not yours."))
        arguments = _parse(request)
        repeated = Visit.objects.filter(
            client_uuid=_uuid_or_none(arguments["client_uuid"]),
            location=location,
            inspector=request.user,
        ).exists()
        visit = visits.visit_submit(location=location, by=request.user, source="web", **arguments)
    except CivicError as exc:
        return _error(exc)
    return JsonResponse(
        _visit_body(visit, "repeated" if repeated else "created"), status=200 if repeated else 201
    )


def _uuid_or_none(value: Any) -> Any:
    try:
        return visits.parse_client_uuid(value)
    except ValidationFailed:
        return None


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, served from /inspect/ so that its scope may be /inspect/."""
    assets = [
        static(name)
        for name in (
            "web/civicloop.css",
            "vendor/htmx.org/htmx.min.js",
            "vendor/leaflet/leaflet.css",
            "vendor/leaflet/leaflet.js",
            "vendor/leaflet.markercluster/MarkerCluster.css",
            "vendor/leaflet.markercluster/MarkerCluster.Default.css",
            "vendor/leaflet.markercluster/leaflet.markercluster.js",
            "vendor/leaflet.heat/leaflet-heat.js",
            "web/map.js",
            "inspections/inspect.css",
            "inspections/inspect.js",
        )
    ]
    response = render(
        request,
        "inspections/inspect/sw.js",
        {"assets": assets, "scope": reverse("inspections:inspect_home")},
        content_type="application/javascript; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = reverse("inspections:inspect_home")
    return response


# ---- photos ----------------------------------------------------------------------------------------------


@require_GET
def visit_photo(request: HttpRequest, photo_id: int) -> HttpResponseBase:
    photo = VisitPhoto.objects.select_related("visit__location__round").filter(pk=photo_id).first()
    if photo is None or not policy.round_results_visible(request.user, photo.visit.location.round):
        raise Http404(_("No such photo, or it is not yours to see."))
    try:
        handle = photo.image.open("rb")
    except FileNotFoundError:
        raise Http404(_("No such photo, or it is not yours to see.")) from None
    response = FileResponse(handle, content_type="image/jpeg")
    # Not kept by the browser: on a shared phone the next person must not find it in the cache.
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# ---- ODK / KoboCollect submissions -----------------------------------------------------------------------


class SubmissionsForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Export of the submissions (CSV or XLSX)"))


@require_http_methods(["GET", "POST"])
@login_required
def submissions_upload(request: HttpRequest, round_id: int) -> HttpResponse:
    try:
        rnd = policy.access_round(request.user, round_id)
    except NotFoundOrForbidden as exc:
        raise Http404(exc.message) from exc
    if not policy.may_manage_round(request.user, rnd):
        raise PermissionDenied(_("Only the round's campaign office imports submissions."))
    form = (
        SubmissionsForm(request.POST, request.FILES)
        if request.method == "POST"
        else SubmissionsForm()
    )
    result: visits.ImportResult | None = None
    error = ""
    status = 200
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            if upload.size > MAX_BYTES:
                raise ValidationFailed(
                    _("The file is larger than %(max)d MB.") % {"max": MAX_BYTES // (1024 * 1024)},
                    field="file",
                )
            result = visits.submissions_import(round=rnd, by=request.user, data=upload.read())
        except CivicError as exc:
            error, status = exc.message, http_status(exc)
        else:
            status = 200 if result.written else 400
    elif form.is_bound:
        status = 400
    locations = list(
        rnd.locations.select_related("site", "standard", "inspector").order_by("draw_order", "pk")
    )
    return render(
        request,
        "inspections/inspect/submissions.html",
        {
            "round": rnd,
            "form": form,
            "result": result,
            "error": error,
            "locations": [(loc, visits.location_code(loc)) for loc in locations],
            "lookback": rnd.lookback_of_id is not None,
        },
        status=status,
    )


urlpatterns: list[URLPattern] = [
    path("inspect/", inspect_home, name="inspect_home"),
    path("inspect/sw.js", service_worker, name="inspect_sw"),
    path("inspect/<int:location_id>/", inspect_location, name="inspect_location"),
    path("inspect/<int:location_id>/submit/", inspect_submit, name="inspect_submit"),
    path("inspections/photos/<int:photo_id>/", visit_photo, name="visit_photo"),
    path(
        "inspections/rounds/<int:round_id>/submissions/",
        submissions_upload,
        name="submissions_import",
    ),
]
