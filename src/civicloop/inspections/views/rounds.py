"""Inspection pages: rounds (督查轮次) and the site register (督查点位).

* ``/inspections/`` (``inspections:home``): the rounds the user may know of
  (``policy.visible_rounds``), by status, with their progress.
* ``/inspections/rounds/new/`` (``inspections:round_create``): plan a round (the campaign
  office of the area, admins).
* ``/inspections/rounds/<id>/`` (``inspections:round_detail``): the plan, the sample on a map
  and in a table; for the owners the actions of each step (edit the plan, draw, assign,
  start, close, publish, plan the look-back). Readers see what ``policy.round_results_visible``
  allows: before publication an open round's readers see the plan, never the scores. A
  round the user may not know of answers 404, like a missing one (an undercover round does
  not exist for the inspected units until it is published).
* ``/inspections/sites/`` (``inspections:sites``): the site register (``policy.visible_sites``),
  filtered by type and area; the campaign office registers sites by hand or from the mapped
  compounds and back streets.

Thin: forms parse, ``rounds`` / ``sites`` / ``lookback`` write, ``org.policy`` decides.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from functools import wraps
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicloop.core.errors import CivicError, NotFoundOrForbidden
from civicloop.org import policy
from civicloop.org.models import Role, Unit, User
from civicloop.places.models import Area, AreaKind
from civicloop.web.common import case_url, http_status

from .. import lookback, rectification, selectors
from .. import rounds as round_actions
from .. import sites as site_actions
from ..models import (
    Finding,
    LocationStatus,
    LocationType,
    Round,
    RoundKind,
    RoundLocation,
    RoundStatus,
    Site,
    Stratify,
)

STAFF_ROLES = tuple(r for r in Role if r != Role.RESIDENT)
STATUS_ORDER = (RoundStatus.ACTIVE, RoundStatus.DRAFT, RoundStatus.CLOSED, RoundStatus.PUBLISHED)
SITES_PAGE = 50
MAX_MAP_SITES = 2000
BAND_RE = re.compile(r"^\s*([^\s=:：,，;；]+)\s*[=:：\s]\s*([0-9]+(?:\.[0-9]+)?)\s*$")


def may_read(user: Any) -> bool:
    return policy.is_admin(user) or policy.has_role(user, *STAFF_ROLES)


def staff_required(view: Any) -> Any:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not may_read(request.user):
            raise PermissionDenied(_("This page is for staff whose role includes it."))
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def _round(request: HttpRequest, round_id: int) -> Round:
    try:
        return policy.access_round(request.user, round_id)
    except NotFoundOrForbidden as exc:
        raise Http404(exc.message) from exc


def _areas_to_plan(user: Any, kinds: tuple[str, ...]) -> QuerySet[Area]:
    """Areas of ``kinds`` the user may plan rounds (and register sites) in."""
    areas = Area.objects.filter(kind__in=kinds).order_by("path")
    if policy.is_admin(user):
        return areas
    ids = [
        a.pk
        for a in areas.filter(pk__in=policy.visible_areas(user).values("pk"))
        if policy.may_create_round(user, a.path)
    ]
    return Area.objects.filter(pk__in=ids).order_by("path")


def may_plan(user: Any) -> bool:
    return _areas_to_plan(user, round_actions.ROUND_AREA_KINDS).exists()


def _apply(form: forms.Form, exc: CivicError, *, default: str | None = None) -> None:
    """An action's refusal shown on the form: on its field when the form has it."""
    form.add_error(exc.field if exc.field in form.fields else default, exc.message)


# ---- the rounds list ----------------------------------------------------------------------------


@dataclass
class StatusGroup:
    status: str
    label: str
    rounds: list[Round]


@require_GET
@staff_required
def home(request: HttpRequest) -> HttpResponse:
    rounds = list(
        policy.visible_rounds(request.user)
        .select_related("area", "lookback_of")
        .annotate(
            total=Count("locations", distinct=True),
            done=Count("locations", filter=Q(locations__status=LocationStatus.DONE), distinct=True),
        )
        .order_by("-period_end", "-id")
    )
    groups = []
    for status in STATUS_ORDER:
        members = [r for r in rounds if r.status == status]
        if members:
            groups.append(
                StatusGroup(status=status, label=str(RoundStatus(status).label), rounds=members)
            )
    return render(
        request,
        "inspections/rounds/home.html",
        {
            "groups": groups,
            "may_plan": may_plan(request.user),
        },
    )


# ---- planning a round ----------------------------------------------------------------------------


def parse_bands(text: str) -> list[list[str]]:
    """Grade bands from text: "A 90, B 75, C 60, D 0" (or "A=90" per line); empty → []."""
    bands = []
    for part in re.split(r"[,，;；\n]+", text or ""):
        if not part.strip():
            continue
        match = BAND_RE.match(part)
        if not match:
            raise forms.ValidationError(
                _(
                    "Write each grade with its lower bound, e.g. “A 90, B 75, C 60, D 0”; “%(part)s” is not."
                )
                % {"part": part.strip()}
            )
        bands.append([match.group(1), match.group(2)])
    return bands


def bands_text(bands: list[Any]) -> str:
    return ", ".join(f"{grade} {bound}" for grade, bound in bands or [])


class RoundForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"), choices=RoundKind.choices, initial=RoundKind.UNDERCOVER
    )
    area = forms.ModelChoiceField(
        label=gettext_lazy("Area inspected"), queryset=Area.objects.none()
    )
    period_start = forms.DateField(
        label=gettext_lazy("Period from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    period_end = forms.DateField(
        label=gettext_lazy("Period to"), widget=forms.DateInput(attrs={"type": "date"})
    )
    standards = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Standards (published versions, one per location type)"),
        queryset=selectors.standards_in_use(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    stratify = forms.ChoiceField(label=gettext_lazy("Sample stratified"), choices=Stratify.choices)
    per_stratum = forms.IntegerField(label=gettext_lazy("Locations per stratum"), initial=3)
    grade_bands = forms.CharField(
        label=gettext_lazy("Grade bands"),
        required=False,
        help_text=gettext_lazy("Optional, e.g. “A 90, B 75, C 60, D 0”; empty: the city's bands."),
    )
    off_site_metres = forms.IntegerField(
        label=gettext_lazy("Off-site tolerance (m)"),
        required=False,
        help_text=gettext_lazy(
            "A visit recorded further than this from the site is flagged; empty: the default."
        ),
    )
    note = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    SAMPLE_FIELDS = ("area", "standards", "stratify", "per_stratum")

    def __init__(self, *args: Any, user: Any, lookback_round: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        area_field = self.fields["area"]
        assert isinstance(area_field, forms.ModelChoiceField)
        area_field.queryset = _areas_to_plan(user, round_actions.ROUND_AREA_KINDS)
        area_field.empty_label = _("— choose —")
        area_field.label_from_instance = lambda a: f"{a.name} · {a.get_kind_display()}"
        self.fields["off_site_metres"].widget.attrs["placeholder"] = str(
            settings.CIVICLOOP["INSPECTIONS"]["OFF_SITE_METRES"]
        )
        standards = self.fields["standards"]
        assert isinstance(standards, forms.ModelMultipleChoiceField)
        standards.label_from_instance = lambda s: (
            f"{s.name} v{s.version} · {s.get_location_type_display()}"
        )
        for value, label in LocationType.choices:
            self.fields[f"weight_{value}"] = forms.DecimalField(
                label=label, required=False, min_value=0, max_digits=6, decimal_places=2
            )
        if lookback_round:
            # A look-back re-inspects the earlier round's locations: area, standards, sampling stay.
            for name in self.SAMPLE_FIELDS:
                del self.fields[name]

    def weight_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("weight_")]

    def plan_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if not name.startswith("weight_")]

    def clean_grade_bands(self) -> list[list[str]]:
        return parse_bands(self.cleaned_data.get("grade_bands") or "")

    def plan(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        weights = {}
        for value in LocationType.values:
            weight = data.pop(f"weight_{value}", None)
            if weight is not None:
                weights[value] = str(weight)
        data["type_weights"] = weights
        if "standards" in data:
            data["standards"] = list(data["standards"])
        return data

    @staticmethod
    def initial_for(rnd: Round) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": rnd.name,
            "kind": rnd.kind,
            "area": rnd.area_id,
            "period_start": rnd.period_start,
            "period_end": rnd.period_end,
            "standards": list(rnd.standards.values_list("pk", flat=True)),
            "stratify": rnd.stratify,
            "per_stratum": rnd.per_stratum,
            "grade_bands": bands_text(rnd.grade_bands),
            "off_site_metres": rnd.off_site_metres,
            "note": rnd.note,
        }
        for key, weight in (rnd.type_weights or {}).items():
            initial[f"weight_{key}"] = Decimal(str(weight))
        return initial


def _form_page(
    request: HttpRequest, form: RoundForm, *, rnd: Round | None = None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "inspections/rounds/form.html",
        {"form": form, "round": rnd, "no_standards": not selectors.standards_in_use().exists()},
        status=status,
    )


@require_http_methods(["GET", "POST"])
@staff_required
def round_create(request: HttpRequest) -> HttpResponse:
    if not may_plan(request.user):
        raise PermissionDenied(_("Only the campaign office plans inspection rounds."))
    if request.method == "GET":
        return _form_page(request, RoundForm(user=request.user))
    form = RoundForm(request.POST, user=request.user)
    if not form.is_valid():
        return _form_page(request, form, status=400)
    try:
        rnd = round_actions.round_create(by=request.user, **form.plan())
    except CivicError as exc:
        _apply(form, exc)
        return _form_page(request, form, status=http_status(exc))
    messages.success(request, _("Round planned. Next: draw the sample and assign inspectors."))
    return redirect("inspections:round_detail", round_id=rnd.pk)


def _managed(request: HttpRequest, round_id: int) -> Round:
    rnd = _round(request, round_id)
    if not policy.may_manage_round(request.user, rnd):
        raise PermissionDenied(_("Only the campaign office that owns this round may change it."))
    return rnd


@require_http_methods(["GET", "POST"])
@staff_required
def round_edit(request: HttpRequest, round_id: int) -> HttpResponse:
    rnd = _managed(request, round_id)
    if request.method == "GET":
        if rnd.status != RoundStatus.DRAFT:
            return _detail(
                request, rnd, error=_("Only a round being planned can change its plan."), status=409
            )
        form = RoundForm(
            initial=RoundForm.initial_for(rnd), user=request.user, lookback_round=rnd.is_lookback
        )
        return _form_page(request, form, rnd=rnd)
    form = RoundForm(request.POST, user=request.user, lookback_round=rnd.is_lookback)
    if not form.is_valid():
        return _form_page(request, form, rnd=rnd, status=400)
    try:
        round_actions.round_update(
            round=rnd, by=request.user, version=_version(request), **form.plan()
        )
    except NotFoundOrForbidden as exc:
        raise Http404(exc.message) from exc
    except CivicError as exc:
        _apply(form, exc)
        return _form_page(request, form, rnd=rnd, status=http_status(exc))
    messages.success(request, _("The plan was saved."))
    return redirect("inspections:round_detail", round_id=rnd.pk)


def _version(request: HttpRequest) -> int | None:
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        return None


# ---- one round ------------------------------------------------------------------------------------


class DrawForm(forms.Form):
    seed = forms.IntegerField(
        label=gettext_lazy("Random seed"),
        required=False,
        min_value=0,
        max_value=round_actions.MAX_SEED,
        help_text=gettext_lazy(
            "Empty: a new random seed. The same seed on the same frame draws the same sample."
        ),
    )


class AssignForm(forms.Form):
    inspectors = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Inspectors"),
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(
        self,
        *args: Any,
        rnd: Round,
        candidates: list[User],
        locations: list[RoundLocation],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        ids = [u.pk for u in candidates]
        field = self.fields["inspectors"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = User.objects.filter(pk__in=ids).order_by("username")
        field.label_from_instance = lambda u: str(u)
        choices = [("", _("— share round-robin —")), *((u.pk, str(u)) for u in candidates)]
        self.location_fields: list[tuple[RoundLocation, str]] = []
        for location in locations:
            if location.status == LocationStatus.DONE:
                continue
            name = f"loc_{location.pk}"
            self.fields[name] = forms.TypedChoiceField(
                label=location.site.name,
                choices=choices,
                required=False,
                coerce=int,
                empty_value=None,
            )
            self.location_fields.append((location, name))

    def assignments(self) -> dict[int, int]:
        return {
            location.pk: self.cleaned_data[name]
            for location, name in self.location_fields
            if self.cleaned_data.get(name) is not None
        }


class LookbackForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=120,
        required=False,
        help_text=gettext_lazy("Empty: this round's name followed by “(look-back)”."),
    )
    period_start = forms.DateField(
        label=gettext_lazy("Period from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    period_end = forms.DateField(
        label=gettext_lazy("Period to"), widget=forms.DateInput(attrs={"type": "date"})
    )
    inspectors = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Inspectors"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, candidates: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["inspectors"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = User.objects.filter(pk__in=[u.pk for u in candidates]).order_by("username")
        field.label_from_instance = lambda u: str(u)


def _candidates(rnd: Round) -> list[User]:
    """Users who may inspect the round: inspectors of an overlapping area (``rounds.may_be_inspector``)."""
    users = (
        User.objects.filter(is_active=True, roles__role=Role.INSPECTOR)
        .distinct()
        .order_by("username")
    )
    return [u for u in users if round_actions.may_be_inspector(u, rnd)]


@dataclass
class Stratum:
    label: str
    frame: int
    drawn: int


@dataclass
class LocationRow:
    location: RoundLocation
    score: Decimal | None
    off_site: bool
    vetoed: bool
    inspect_url: str
    no_gps: bool = False  # inspected, but the visit carries no position to check


def _locations(rnd: Round) -> list[RoundLocation]:
    locations = list(
        rnd.locations.select_related(
            "site", "site__area", "site__unit", "standard", "inspector"
        ).order_by("draw_order", "pk")
    )
    for location in locations:
        location.round = rnd  # the policy reads it: no query per location
    return locations


def _detail(
    request: HttpRequest,
    rnd: Round,
    *,
    error: str = "",
    draw_form: DrawForm | None = None,
    assign_form: AssignForm | None = None,
    lookback_form: LookbackForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    rnd = Round.objects.select_related("area", "lookback_of", "created_by", "published_by").get(
        pk=rnd.pk
    )
    manage = policy.may_manage_round(user, rnd)
    results = policy.round_results_visible(user, rnd)
    locations = _locations(rnd)
    visits = {}
    if results:
        from ..models import Visit

        visits = {v.location_id: v for v in Visit.objects.filter(location__round=rnd)}
    rows = [
        LocationRow(
            location=loc,
            score=visits[loc.pk].score if loc.pk in visits else None,
            off_site=visits[loc.pk].off_site if loc.pk in visits else False,
            vetoed=visits[loc.pk].vetoed if loc.pk in visits else False,
            no_gps=loc.pk in visits and visits[loc.pk].distance_m is None,
            inspect_url=reverse("inspections:inspect_location", kwargs={"location_id": loc.pk})
            if rnd.status == RoundStatus.ACTIVE
            and loc.status == LocationStatus.PENDING
            and policy.may_inspect(user, loc)
            else "",
        )
        for loc in locations
    ]
    frame_counts = Counter(str(stratum) for _site, stratum in (rnd.frame or []))
    drawn_counts = Counter(loc.stratum for loc in locations)
    strata = [
        Stratum(label, frame_counts.get(label, 0), drawn_counts.get(label, 0))
        for label in sorted(set(frame_counts) | set(drawn_counts))
        if not rnd.is_lookback  # a look-back draws nothing: it revisits the findings' sites
    ]
    findings: list[Finding] = []
    if results:
        findings = list(
            rectification.findings_with_state(
                Finding.objects.filter(visit__location__round=rnd).select_related(
                    "item", "unit", "case", "visit__location__site", "recurrence_of"
                )
            ).order_by("visit__location__draw_order", "id")
        )
        state_labels = dict(rectification.FindingState.choices)
        for finding in findings:
            finding.state_label = state_labels.get(finding.state, finding.state)  # type: ignore[attr-defined]
            finding.case_link = case_url(finding.case_id) if finding.case_id else ""  # type: ignore[attr-defined]
    candidates = (
        _candidates(rnd)
        if manage and rnd.status in (RoundStatus.DRAFT, RoundStatus.ACTIVE, RoundStatus.PUBLISHED)
        else []
    )
    if manage and rnd.status in (RoundStatus.DRAFT, RoundStatus.ACTIVE) and assign_form is None:
        current = {loc.pk: loc.inspector_id for loc in locations}
        assign_form = AssignForm(
            initial={
                "inspectors": list(rnd.inspectors.values_list("pk", flat=True)),
                **{f"loc_{pk}": inspector for pk, inspector in current.items() if inspector},
            },
            rnd=rnd,
            candidates=candidates,
            locations=locations,
        )
    lookbacks = list(policy.visible_rounds(user).filter(lookback_of=rnd).order_by("-id"))
    may_lookback = manage and rnd.status == RoundStatus.PUBLISHED and not rnd.is_lookback
    if may_lookback and lookback_form is None:
        lookback_form = LookbackForm(candidates=candidates)
    total = len(locations)
    done = sum(1 for loc in locations if loc.status == LocationStatus.DONE)
    context = {
        "round": rnd,
        "manage": manage,
        "results": results,
        "rows": rows,
        "total": total,
        "done": done,
        "percent": round(done * 100 / total) if total else 0,
        "strata": strata,
        "frame_size": len(rnd.frame or []),
        "standards": list(rnd.standards.order_by("location_type")),
        "weights": [
            (LocationType(k).label, v)
            for k, v in (rnd.type_weights or {}).items()
            if k in LocationType.values
        ],
        "bands": rnd.grade_bands,
        "findings": findings,
        "error": error,
        "draw_form": (draw_form or DrawForm())
        if manage and rnd.status == RoundStatus.DRAFT and not rnd.is_lookback
        else None,
        "assign_form": assign_form
        if manage and rnd.status in (RoundStatus.DRAFT, RoundStatus.ACTIVE)
        else None,
        "lookback_form": lookback_form if may_lookback else None,
        "lookbacks": lookbacks,
        # Pages of the other inspection modules (results, rankings, bulletin, submissions import).
        "show_results": results,
        "show_published": results and rnd.status == RoundStatus.PUBLISHED,
        "show_submissions": manage and rnd.status == RoundStatus.ACTIVE,
        "sites_url": reverse("inspections:round_sites", kwargs={"round_id": rnd.pk}),
        "points_url": reverse("inspections:round_points", kwargs={"round_id": rnd.pk}),
    }
    return render(request, "inspections/rounds/detail.html", context, status=status)


@require_GET
@login_required
def round_detail(request: HttpRequest, round_id: int) -> HttpResponse:
    return _detail(request, _round(request, round_id))


def _step(request: HttpRequest, rnd: Round, run: Any, done: str, **forms_: Any) -> HttpResponse:
    try:
        run()
    except NotFoundOrForbidden as exc:
        raise Http404(exc.message) from exc
    except CivicError as exc:
        bound = next((f for f in forms_.values() if f is not None), None)
        if bound is not None and exc.field in bound.fields:
            bound.add_error(exc.field, exc.message)
            return _detail(request, rnd, status=http_status(exc), **forms_)
        return _detail(request, rnd, error=exc.message, status=http_status(exc), **forms_)
    messages.success(request, done)
    return redirect("inspections:round_detail", round_id=rnd.pk)


@require_POST
@staff_required
def round_draw(request: HttpRequest, round_id: int) -> HttpResponse:
    rnd = _managed(request, round_id)
    form = DrawForm(request.POST)
    if not form.is_valid():
        return _detail(request, rnd, draw_form=form, status=400)
    return _step(
        request,
        rnd,
        lambda: round_actions.round_draw(
            round=rnd, by=request.user, seed=form.cleaned_data["seed"], version=_version(request)
        ),
        _("Sample drawn. Drawing again with the same seed gives the same sample."),
        draw_form=form,
    )


@require_POST
@staff_required
def round_assign(request: HttpRequest, round_id: int) -> HttpResponse:
    rnd = _managed(request, round_id)
    form = AssignForm(request.POST, rnd=rnd, candidates=_candidates(rnd), locations=_locations(rnd))
    if not form.is_valid():
        return _detail(request, rnd, assign_form=form, status=400)
    return _step(
        request,
        rnd,
        lambda: round_actions.round_assign(
            round=rnd,
            by=request.user,
            inspectors=list(form.cleaned_data["inspectors"]),
            assignments=form.assignments(),
            version=_version(request),
        ),
        _("Inspectors assigned."),
        assign_form=form,
    )


@require_POST
@staff_required
def round_start(request: HttpRequest, round_id: int) -> HttpResponse:
    rnd = _managed(request, round_id)
    return _step(
        request,
        rnd,
        lambda: round_actions.round_start(round=rnd, by=request.user, version=_version(request)),
        _("The round has started: inspectors see their locations."),
    )


@require_POST
@staff_required
def round_close(request: HttpRequest, round_id: int) -> HttpResponse:
    rnd = _managed(request, round_id)
    return _step(
        request,
        rnd,
        lambda: round_actions.round_close(round=rnd, by=request.user, version=_version(request)),
        _("The inspection is closed: review the results, then publish."),
    )


def _cases_to_open(rnd: Round) -> int:
    return Finding.objects.filter(visit__location__round=rnd, case__isnull=True).count()


@require_http_methods(["GET", "POST"])
@staff_required
def round_publish(request: HttpRequest, round_id: int) -> HttpResponse:
    """GET: the confirmation (what publication will do); POST: publish."""
    rnd = _managed(request, round_id)
    if request.method == "GET":
        if rnd.status != RoundStatus.CLOSED:
            return _detail(
                request,
                rnd,
                error=_("Close the inspection before publishing the round."),
                status=409,
            )
        locations = rnd.locations.all()
        return render(
            request,
            "inspections/rounds/publish.html",
            {
                "round": rnd,
                "cases": _cases_to_open(rnd),
                "pending": locations.filter(status=LocationStatus.PENDING).count(),
                "total": locations.count(),
                "units": Unit.objects.filter(
                    pk__in=Finding.objects.filter(
                        visit__location__round=rnd, case__isnull=True
                    ).values("unit")
                ).count(),
            },
        )
    count = _cases_to_open(rnd)
    return _step(
        request,
        rnd,
        lambda: round_actions.round_publish(round=rnd, by=request.user, version=_version(request)),
        _("Published: %(count)d rectification case(s) opened.") % {"count": count},
    )


@require_POST
@staff_required
def round_lookback(request: HttpRequest, round_id: int) -> HttpResponse:
    rnd = _managed(request, round_id)
    form = LookbackForm(request.POST, candidates=_candidates(rnd))
    if not form.is_valid():
        return _detail(request, rnd, lookback_form=form, status=400)
    data = form.cleaned_data
    try:
        created = lookback.lookback_create(
            of_round=rnd,
            by=request.user,
            name=data["name"],
            period_start=data["period_start"],
            period_end=data["period_end"],
            inspectors=list(data["inspectors"]),
        )
    except NotFoundOrForbidden as exc:
        raise Http404(exc.message) from exc
    except CivicError as exc:
        if exc.field in form.fields:
            form.add_error(exc.field, exc.message)
            return _detail(request, rnd, lookback_form=form, status=http_status(exc))
        return _detail(request, rnd, lookback_form=form, error=exc.message, status=http_status(exc))
    messages.success(request, _("Look-back planned: it re-inspects every site with a finding."))
    return redirect("inspections:round_detail", round_id=created.pk)


# ---- map layers of a round ---------------------------------------------------------------------------


def _geojson(features: list[dict[str, Any]], label: str) -> JsonResponse:
    response = JsonResponse(
        {"type": "FeatureCollection", "properties": {"label": label}, "features": features}
    )
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@login_required
def round_sites(request: HttpRequest, round_id: int) -> JsonResponse:
    """The sampled sites' outlines (lines and polygons; points are the other layer)."""
    rnd = _round(request, round_id)
    features = []
    for loc in rnd.locations.select_related("site").order_by("draw_order"):
        geometry = json.loads(loc.site.geometry)
        if geometry.get("type") in ("Point", "MultiPoint"):
            continue
        features.append(
            {"type": "Feature", "geometry": geometry, "properties": {"title": loc.site.name}}
        )
    return _geojson(features, _("Sampled sites"))


@require_GET
@login_required
def round_points(request: HttpRequest, round_id: int) -> JsonResponse:
    """One point per sampled location with its status (and score when the user may see it)."""
    rnd = _round(request, round_id)
    results = policy.round_results_visible(request.user, rnd)
    locations = rnd.locations.select_related("site", *(["visit"] if results else [])).order_by(
        "draw_order"
    )
    features = []
    for loc in locations:
        point = loc.site.shape.representative_point()
        subtitle = [str(LocationType(loc.site.location_type).label), str(loc.get_status_display())]
        if results:
            score = getattr(getattr(loc, "visit", None), "score", None)
            if score is not None:
                subtitle.append(_("score %(score)s") % {"score": score})
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(point.x, 7), round(point.y, 7)],
                },
                "properties": {
                    "title": loc.site.name,
                    "subtitle": " · ".join(subtitle),
                    "url": f"#loc-{loc.pk}",
                },
            }
        )
    return _geojson(features, _("Sampled locations"))


# ---- the site register -----------------------------------------------------------------------------


class SiteFilterForm(forms.Form):
    type = forms.ChoiceField(label=gettext_lazy("Location type"), required=False)
    area = forms.ModelChoiceField(
        label=gettext_lazy("Area"), required=False, queryset=Area.objects.none()
    )
    q = forms.CharField(label=gettext_lazy("Name"), required=False, max_length=60)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "filter_%s")  # the page has other forms with an area field
        super().__init__(*args, **kwargs)
        type_field = self.fields["type"]
        assert isinstance(type_field, forms.ChoiceField)
        type_field.choices = [("", _("All location types")), *LocationType.choices]
        area_field = self.fields["area"]
        assert isinstance(area_field, forms.ModelChoiceField)
        area_field.queryset = (
            policy.visible_areas(user)
            .filter(
                kind__in=(AreaKind.CITY, AreaKind.DISTRICT, AreaKind.STREET, AreaKind.COMMUNITY)
            )
            .order_by("path")
        )
        area_field.empty_label = _("All areas")
        area_field.label_from_instance = lambda a: f"{a.name} · {a.get_kind_display()}"

    def apply(self, qs: QuerySet[Site]) -> QuerySet[Site]:
        if not self.is_valid():
            return qs
        data = self.cleaned_data
        if data["type"]:
            qs = qs.filter(location_type=data["type"])
        if data["area"] is not None:
            qs = qs.filter(area_path__startswith=data["area"].path)
        if data["q"]:
            qs = qs.filter(name__icontains=data["q"].strip())
        return qs


class SiteForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    location_type = forms.ChoiceField(
        label=gettext_lazy("Location type"), choices=LocationType.choices
    )
    area = forms.ModelChoiceField(
        label=gettext_lazy("Community or street office"),
        required=False,
        queryset=Area.objects.none(),
        help_text=gettext_lazy("Empty: the community (else street office) the geometry lies in."),
    )
    unit = forms.ModelChoiceField(
        label=gettext_lazy("Responsible unit"),
        required=False,
        queryset=Unit.objects.filter(active=True).order_by("code"),
    )
    address = forms.CharField(label=gettext_lazy("Address"), required=False, max_length=200)
    geometry = forms.CharField(
        max_length=1_000_000,
        label=gettext_lazy("Geometry (GeoJSON, WGS-84)"),
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text=gettext_lazy(
            'A Point, LineString or Polygon, e.g. {"type": "Point", "coordinates": [80.263, 41.169]}.'
        ),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        area_field = self.fields["area"]
        assert isinstance(area_field, forms.ModelChoiceField)
        area_field.queryset = _areas_to_plan(user, site_actions.SITE_AREA_KINDS)
        area_field.empty_label = _("— where the geometry lies —")
        area_field.label_from_instance = lambda a: f"{a.name} · {a.get_kind_display()}"
        unit_field = self.fields["unit"]
        assert isinstance(unit_field, forms.ModelChoiceField)
        unit_field.label_from_instance = lambda u: u.name
        unit_field.empty_label = _("— none —")


class RegisterForm(forms.Form):
    area = forms.ModelChoiceField(
        label=gettext_lazy("Area"),
        required=False,
        queryset=Area.objects.none(),
        help_text=gettext_lazy("Empty: all your areas."),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "register_%s")
        super().__init__(*args, **kwargs)
        area_field = self.fields["area"]
        assert isinstance(area_field, forms.ModelChoiceField)
        area_field.queryset = _areas_to_plan(
            user, (AreaKind.CITY, AreaKind.DISTRICT, AreaKind.STREET, AreaKind.COMMUNITY)
        )
        area_field.empty_label = _("— all my areas —")
        area_field.label_from_instance = lambda a: f"{a.name} · {a.get_kind_display()}"


def may_register_sites(user: Any) -> bool:
    return _areas_to_plan(user, site_actions.SITE_AREA_KINDS).exists()


def _sites_page(
    request: HttpRequest,
    *,
    site_form: SiteForm | None = None,
    register_form: RegisterForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = request.user
    filters = SiteFilterForm(request.GET or None, user=user)
    qs = filters.apply(policy.visible_sites(user)).select_related("area", "unit")
    page = Paginator(qs.order_by("area_path", "name", "pk"), SITES_PAGE).get_page(
        request.GET.get("page")
    )
    register = may_register_sites(user)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "inspections/rounds/sites.html",
        {
            "filters": filters,
            "page": page,
            "count": page.paginator.count,
            "query": query.urlencode(),
            "may_register": register,
            "site_form": (site_form or SiteForm(user=user)) if register else None,
            "register_form": (register_form or RegisterForm(user=user)) if register else None,
            "error": error,
            "points_url": reverse("inspections:sites_points")
            + (f"?{query.urlencode()}" if query else ""),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@staff_required
def sites_page(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _sites_page(request)
    if not may_register_sites(request.user):
        raise PermissionDenied(_("Only the campaign office registers inspection sites."))
    form = SiteForm(request.POST, user=request.user)
    if not form.is_valid():
        return _sites_page(request, site_form=form, status=400)
    data = form.cleaned_data
    try:
        site = site_actions.site_create(
            by=request.user,
            name=data["name"],
            location_type=data["location_type"],
            geometry=data["geometry"],
            unit=data["unit"],
            area=data["area"],
            address=data["address"],
        )
    except CivicError as exc:
        _apply(
            form,
            exc,
            default="geometry" if exc.field in (None, "compound", "back_street") else None,
        )
        return _sites_page(request, site_form=form, status=http_status(exc))
    messages.success(
        request,
        _("Site “%(name)s” registered in %(area)s.") % {"name": site.name, "area": site.area.name},
    )
    return redirect("inspections:sites")


@require_POST
@staff_required
def sites_register(request: HttpRequest) -> HttpResponse:
    """Register every mapped compound and back street not yet a site (idempotent)."""
    if not may_register_sites(request.user):
        raise PermissionDenied(_("Only the campaign office registers inspection sites."))
    form = RegisterForm(request.POST, user=request.user)
    if not form.is_valid():
        return _sites_page(request, register_form=form, status=400)
    try:
        created = site_actions.sites_from_places(by=request.user, area=form.cleaned_data["area"])
    except CivicError as exc:
        _apply(form, exc)
        return _sites_page(request, register_form=form, status=http_status(exc))
    if created:
        messages.success(
            request,
            _("%(count)d site(s) registered from the mapped compounds and back streets.")
            % {"count": created},
        )
    else:
        messages.info(request, _("Every mapped compound and back street is registered already."))
    return redirect("inspections:sites")


@require_GET
@staff_required
def sites_points(request: HttpRequest) -> JsonResponse:
    filters = SiteFilterForm(request.GET or None, user=request.user)
    qs = filters.apply(policy.visible_sites(request.user)).order_by("area_path", "name", "pk")[
        :MAX_MAP_SITES
    ]
    features = []
    for site in qs:
        point = site.shape.representative_point()
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(point.x, 7), round(point.y, 7)],
                },
                "properties": {
                    "title": site.name,
                    "subtitle": str(LocationType(site.location_type).label)
                    + ("" if site.active else " · " + _("inactive")),
                },
            }
        )
    return _geojson(features, _("Inspection sites"))


urlpatterns: list[URLPattern] = [
    path("inspections/", home, name="home"),
    path("inspections/rounds/new/", round_create, name="round_create"),
    path("inspections/rounds/<int:round_id>/", round_detail, name="round_detail"),
    path("inspections/rounds/<int:round_id>/edit/", round_edit, name="round_edit"),
    path("inspections/rounds/<int:round_id>/draw/", round_draw, name="round_draw"),
    path("inspections/rounds/<int:round_id>/assign/", round_assign, name="round_assign"),
    path("inspections/rounds/<int:round_id>/start/", round_start, name="round_start"),
    path("inspections/rounds/<int:round_id>/close/", round_close, name="round_close"),
    path("inspections/rounds/<int:round_id>/publish/", round_publish, name="round_publish"),
    path("inspections/rounds/<int:round_id>/lookback/", round_lookback, name="round_lookback"),
    path("inspections/rounds/<int:round_id>/sites.geojson", round_sites, name="round_sites"),
    path("inspections/rounds/<int:round_id>/points.geojson", round_points, name="round_points"),
    path("inspections/sites/", sites_page, name="sites"),
    path("inspections/sites/register/", sites_register, name="sites_register"),
    path("inspections/sites/points.geojson", sites_points, name="sites_points"),
]
