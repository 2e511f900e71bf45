"""The dispatcher's pages (指挥中心/受理员) and the scoped case list of every staff role.

- ``web:dispatch_queue``: the intake queue in tabs (new, to dispatch, possible duplicates,
  overdue, returned) with one- or two-click actions per row (htmx re-renders the row; without
  JavaScript the forms post and redirect back) and batch actions on ticked rows.
- ``web:cases``: every staff role's case list, filtered, sorted, paginated, with saved views.
- ``web:dispatch_map`` / ``web:cases_geojson``: the same filters on a clustered map.
- ``web:extensions``: pending extension requests to approve or deny.

Thin: forms parse, ``cases.actions`` write, ``cases.selectors`` and ``org.policy`` read and
scope. A refusal (``CivicError``) is shown next to its field with 400, 403, 404 or 409.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from civicloop.cases import actions as A
from civicloop.cases import routing, selectors
from civicloop.cases.models import (
    Case,
    CaseEvent,
    Category,
    EventKind,
    ExtensionRequest,
    State,
)
from civicloop.cases.workflow import Action, actions_from
from civicloop.core.errors import (
    CivicError,
    ConflictError,
    NotFoundOrForbidden,
)
from civicloop.org import policy
from civicloop.org.models import Role, Unit

from .common import case_url, http_status, is_htmx
from .dispatch_forms import (
    ACTION_FORMS,
    BatchForm,
    CaseFilterForm,
    DispatchForm,
    ExtensionDecisionForm,
    SavedViewForm,
    filter_querystring,
)
from .models import SavedView

QUEUE_PAGE_SIZE = 25
LIST_PAGE_SIZE = 50
MAX_MAP_POINTS = 5000
STAFF_ROLES = tuple(r for r in Role if r != Role.RESIDENT)


# ---- who may open these pages (what they then see is the policy's business) ------------------


def _guard(allowed: Callable[[Any], bool]) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not allowed(request.user):
                raise PermissionDenied(_("This page is for staff whose role includes it."))
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorate


staff_required = _guard(lambda u: policy.is_admin(u) or policy.has_role(u, *STAFF_ROLES))
dispatcher_required = _guard(lambda u: policy.is_admin(u) or policy.has_role(u, Role.DISPATCHER))


def _attach_error(form: forms.Form, exc: CivicError, aliases: dict[str, str] | None = None) -> str:
    """Put the refusal next to its field; return it for the top of the row when it has none."""
    name = (aliases or {}).get(exc.field or "", exc.field)
    if name and name in form.fields and not isinstance(form.fields[name].widget, forms.HiddenInput):
        form.add_error(name, exc.message)
        return ""
    return exc.message


# ---- rows of the queue --------------------------------------------------------------------------

ROW_ACTIONS = ("register", "reject", "reclassify", "dispatch", "urge", "escalate")
DONE = {
    "register": gettext_lazy("Registered."),
    "reject": gettext_lazy("Not registered."),
    "reclassify": gettext_lazy("Category changed."),
    "dispatch": gettext_lazy("Dispatched."),
    "urge": gettext_lazy("The unit was urged."),
    "escalate": gettext_lazy("Escalated."),
}
BATCHABLE = {State.REPORTED, State.REGISTERED, State.RETURNED}


@dataclass
class Duplicate:
    case: Case
    distance_m: float
    url: str
    reason: str


@dataclass
class Row:
    case: Case
    url: str
    overdue: bool
    forms: dict[str, forms.Form]
    suggested: Unit | None = None
    duplicates: list[Duplicate] = field(default_factory=list)
    returned_note: str = ""
    returned_unit: str = ""
    error: str = ""
    error_status: int = 200
    done: str = ""

    @property
    def batchable(self) -> bool:
        return self.case.state in BATCHABLE

    @property
    def pick(self) -> str:
        """The batch checkbox value: id and the version the page shows."""
        return f"{self.case.pk}:{self.case.version}"


class RowBuilder:
    """Builds queue rows for one request; caches what every row would otherwise look up."""

    def __init__(self, user: Any, now: dt.datetime):
        self.user, self.now = user, now
        self._suggested: dict[tuple[int, int], Unit | None] = {}
        self._unit_choices: list[tuple[Any, str]] | None = None

    def suggested(self, case: Case) -> Unit | None:
        key = (case.category_id, case.grid_id)
        if key not in self._suggested:
            self._suggested[key] = routing.unit_for(category=case.category, grid=case.grid)
        return self._suggested[key]

    def unit_choices(self) -> list[tuple[Any, str]]:
        if self._unit_choices is None:
            # A fresh query: the class-level queryset would cache its rows across requests.
            units = DispatchForm.base_fields["unit"].queryset.all()  # type: ignore[attr-defined]
            self._unit_choices = [(u.pk, u.name) for u in units]
        return self._unit_choices

    def allowed(self, case: Case, overdue: bool) -> list[str]:
        possible = {str(a) for a in actions_from(case.state)}
        out = [a for a in ROW_ACTIONS if a in possible and policy.may(self.user, a, case)]
        # Urging and escalating are for late cases; before the deadline they are noise.
        return [a for a in out if overdue or a not in {"urge", "escalate"}]

    def form(self, action: str, case: Case, suggested: Unit | None, data: Any = None) -> forms.Form:
        initial: dict[str, Any] = {"version": case.version}
        if action == "dispatch" and suggested is not None:
            initial["unit"] = suggested.pk
        return self.prepare(action, ACTION_FORMS[action](data, prefix=f"{action}-{case.pk}", initial=initial))

    def prepare(self, action: str, form: forms.Form) -> forms.Form:
        """Unit lists from one query per request instead of one per rendered select."""
        if action == "dispatch":
            choices = self.unit_choices()
            unit_field = form.fields["unit"]
            unit_field.choices = [("", unit_field.empty_label), *choices]  # type: ignore[attr-defined]
            form.fields["co_units"].choices = choices  # type: ignore[attr-defined]
        return form

    def row(self, case: Case, *, duplicates: list[Duplicate] | None = None, returned: tuple[str, str] | None = None,
            bound: tuple[str, forms.Form] | None = None, error: str = "", error_status: int = 200, done: str = "") -> Row:
        overdue = bool(getattr(case, "is_overdue", selectors.is_overdue(case, self.now)))
        allowed = self.allowed(case, overdue)
        suggested = self.suggested(case) if "dispatch" in allowed else None
        row_forms = {a: self.form(a, case, suggested) for a in allowed}
        if bound is not None and bound[0] in row_forms:
            row_forms[bound[0]] = self.prepare(*bound)
        note, unit = returned or ("", "")
        return Row(case=case, url=case_url(case.pk), overdue=overdue, forms=row_forms, suggested=suggested,
                   duplicates=duplicates or [], returned_note=note, returned_unit=unit, error=error,
                   error_status=error_status, done=done)


def _duplicates(user: Any, cases: Iterable[Case]) -> dict[int, list[Duplicate]]:
    """Reported cases with an earlier open case of the same category nearby (the engine's rule).

    The later report is the duplicate: candidates are what ``duplicate_candidates`` finds at
    the moment it was reported, limited to cases this user may see.
    """
    found: dict[int, list[tuple[Case, float]]] = {}
    for case in cases:
        near = [(c, d) for c, d in A.duplicate_candidates(category=case.category, lat=case.lat, lon=case.lon, at=case.reported_at) if c.pk != case.pk]
        if near:
            found[case.pk] = near
    ids = {c.pk for near in found.values() for c, _d in near}
    visible = set(policy.visible_cases(user).filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()
    out: dict[int, list[Duplicate]] = {}
    for pk, near in found.items():
        rows = [
            Duplicate(case=c, distance_m=d, url=case_url(c.pk), reason=_("Duplicate of case %(ticket)s.") % {"ticket": c.ticket_no})
            for c, d in near
            if c.pk in visible
        ]
        if rows:
            out[pk] = rows
    return out


def _returned_notes(cases: Iterable[Case]) -> dict[int, tuple[str, str]]:
    """The unit's reason for each returned case: its last RETURNED event (one query per kind)."""
    ids = [c.pk for c in cases if c.state == State.RETURNED]
    if not ids:
        return {}
    latest: dict[int, CaseEvent] = {}
    for event in CaseEvent.objects.filter(case_id__in=ids, kind=EventKind.RETURNED).order_by("case_id", "-created_at", "-id"):
        latest.setdefault(event.case_id, event)
    unit_of = {pk: int(e.data["unit"]) for pk, e in latest.items() if isinstance(e.data, dict) and e.data.get("unit")}
    names = dict(Unit.objects.filter(pk__in=set(unit_of.values())).values_list("pk", "name")) if unit_of else {}
    return {pk: (e.note, names.get(unit_of.get(pk, 0), "")) for pk, e in latest.items()}


# ---- the queue ----------------------------------------------------------------------------------

TABS = (
    ("new", gettext_lazy("New reports")),
    ("to_dispatch", gettext_lazy("To dispatch")),
    ("duplicates", gettext_lazy("Possible duplicates")),
    ("overdue", gettext_lazy("Overdue")),
    ("returned", gettext_lazy("Returned")),
)
TAB_KEYS = {k for k, _label in TABS}


def _tab(value: str | None) -> str:
    return value if value in TAB_KEYS else "new"


def _reported(user: Any, now: dt.datetime) -> QuerySet[Case]:
    return selectors.case_list(user=user, state=State.REPORTED, now=now).order_by("reported_at", "pk")


def _tab_cases(user: Any, tab: str, now: dt.datetime, reported: list[Case], dups: dict[int, list[Duplicate]]) -> list[Case] | QuerySet[Case]:
    if tab == "duplicates":
        return [c for c in reported if c.pk in dups]
    if tab == "new":
        return reported
    if tab == "to_dispatch":
        return selectors.case_list(user=user, state=State.REGISTERED, now=now).order_by("registered_at", "pk")
    if tab == "overdue":
        qs = selectors.case_list(user=user, overdue=True, now=now).select_related("escalated_to")
        return qs.order_by("deadline_at", "pk")
    return selectors.case_list(user=user, state=State.RETURNED, now=now).order_by("updated_at", "pk")


def _intake(user: Any, now: dt.datetime) -> tuple[list[Case], dict[int, list[Duplicate]]]:
    """Every reported case in scope and the possible duplicates among them (one pass a request)."""
    reported = list(_reported(user, now))
    return reported, _duplicates(user, reported)


def _tabs(user: Any, tab: str, now: dt.datetime, reported: list[Case], dups: dict[int, list[Duplicate]]) -> list[dict[str, Any]]:
    states = selectors.state_counts(user=user)
    counts = {
        "new": len(reported),
        "to_dispatch": states[State.REGISTERED],
        "duplicates": len(dups),
        "overdue": selectors.case_list(user=user, overdue=True, now=now).count(),
        "returned": states[State.RETURNED],
    }
    return [{"key": k, "label": label, "count": counts[k], "current": k == tab} for k, label in TABS]


def _page_number(value: Any) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


def _categories() -> QuerySet[Category]:
    return Category.objects.filter(active=True).only("code", "big_name", "name")


def _queue_context(request: HttpRequest, *, tab: str, page_number: Any, now: dt.datetime,
                   override: Row | None = None, batch_form: BatchForm | None = None,
                   batch_results: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    user = request.user
    reported, dups = _intake(user, now)
    cases = _tab_cases(user, tab, now, reported, dups)
    page: Page = Paginator(cases, QUEUE_PAGE_SIZE).get_page(page_number)
    items = list(page.object_list)
    returned = _returned_notes(items)
    builder = RowBuilder(user, now)
    rows = [builder.row(c, duplicates=dups.get(c.pk), returned=returned.get(c.pk)) for c in items]
    if override is not None:
        index = next((i for i, r in enumerate(rows) if r.case.pk == override.case.pk), None)
        if index is None:
            rows.insert(0, override)
        else:
            rows[index] = override
    return {
        "tab": tab,
        "tabs": _tabs(user, tab, now, reported, dups),
        "page": page,
        "rows": rows,
        "categories": _categories(),
        "batch_form": batch_form or BatchForm(initial={"action": "register"}),
        "batch_results": batch_results,
        # Keep the ticks of a batch that was refused, so nothing has to be ticked again.
        "ticked": set(request.POST.getlist("cases")) if batch_form is not None and batch_form.is_bound else set(),
        "return_to": {"tab": tab, "page": page.number},
    }


@require_GET
@dispatcher_required
def dispatch_queue(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    context = _queue_context(request, tab=_tab(request.GET.get("tab")), page_number=request.GET.get("page"), now=now)
    return render(request, "web/dispatch/queue.html", context)


@require_GET
@dispatcher_required
def dispatch_counts(request: HttpRequest) -> HttpResponse:
    """The tab bar alone: htmx reloads it after a row changed."""
    tab, now = _tab(request.GET.get("tab")), timezone.now()
    tabs = _tabs(request.user, tab, now, *_intake(request.user, now))
    return render(request, "web/dispatch/_tabs.html", {"tab": tab, "tabs": tabs})


def _queue_url(tab: str, page: int) -> str:
    url = reverse("web:dispatch_queue") + f"?tab={tab}"
    return url + (f"&page={page}" if page > 1 else "")


def _perform(action: str, case: Case, user: Any, data: dict[str, Any]) -> Case:
    note = data.get("note", "")
    if action == "register":
        return A.case_register(case=case, by=user, note=note)
    if action == "reject":
        return A.case_reject(case=case, by=user, reason=data["reason"])
    if action == "reclassify":
        return A.case_reclassify(case=case, by=user, category=data["category"], note=note)
    if action == "dispatch":
        return A.case_dispatch(case=case, by=user, unit=data.get("unit"), co_units=list(data.get("co_units") or []), note=note)
    if action == "urge":
        return A.case_urge(case=case, by=user, note=note)
    if action == "escalate":
        return A.case_escalate(case=case, by=user, note=note)
    raise Http404


def _fresh(user: Any, case_id: int, now: dt.datetime) -> Case:
    case = selectors.case_list(user=user, now=now).select_related("escalated_to").filter(pk=case_id).first()
    if case is None:  # it left the user's scope meanwhile
        raise NotFoundOrForbidden(_("No such case, or it is not in your area."))
    return case


def _gone(request: HttpRequest, case_id: int, exc: CivicError) -> HttpResponse:
    if is_htmx(request):
        return render(request, "web/dispatch/_row_gone.html", {"case_id": case_id, "message": exc.message}, status=404)
    raise Http404(exc.message)


@require_POST
@dispatcher_required
def case_act(request: HttpRequest, case_id: int, action: str) -> HttpResponse:
    """One action on one queue row; htmx gets the row back, a plain post a redirect."""
    if action not in ACTION_FORMS:
        raise Http404
    now = timezone.now()
    tab, page = _tab(request.POST.get("tab")), _page_number(request.POST.get("page"))
    try:
        case = selectors.case_get(user=request.user, case_id=case_id)
    except NotFoundOrForbidden as exc:
        return _gone(request, case_id, exc)
    form = ACTION_FORMS[action](request.POST, prefix=f"{action}-{case_id}")
    status, error, done, keep_form = 200, "", "", False
    if form.is_valid():
        case.version = form.cleaned_data["version"]
        try:
            _perform(action, case, request.user, form.cleaned_data)
            done = str(DONE[action])
        except CivicError as exc:
            status = http_status(exc)
            error = _attach_error(form, exc)
            # After a conflict the row shows the case as it is now, with fresh forms.
            keep_form = not isinstance(exc, ConflictError)
    else:
        status, keep_form = 400, True
        if "version" in form.errors:
            error = _("The form was incomplete; reload the page.")
        elif form.non_field_errors():
            error = " ".join(str(e) for e in form.non_field_errors())
    try:
        case = _fresh(request.user, case_id, now)
    except NotFoundOrForbidden as exc:
        return _gone(request, case_id, exc)
    returned = _returned_notes([case]).get(case.pk)
    dups = _duplicates(request.user, [case]).get(case.pk) if case.state == State.REPORTED else None
    row = RowBuilder(request.user, now).row(
        case, duplicates=dups, returned=returned, bound=(action, form) if keep_form else None,
        error=error, error_status=status, done=done,
    )
    if is_htmx(request):
        response = render(request, "web/dispatch/_row.html", {"row": row, "return_to": {"tab": tab, "page": page}, "categories": None}, status=status)
        if status == 200:
            response["HX-Trigger"] = "queue-changed"
        return response
    if status == 200:
        messages.success(request, f"{case.ticket_no}: {done}")
        return redirect(_queue_url(tab, page))
    context = _queue_context(request, tab=tab, page_number=page, now=now, override=row)
    return render(request, "web/dispatch/queue.html", context, status=status)


@require_POST
@dispatcher_required
def batch(request: HttpRequest) -> HttpResponse:
    """Each ticked case through its own action: one failing never stops or undoes the others."""
    now = timezone.now()
    tab, page = _tab(request.POST.get("tab")), _page_number(request.POST.get("page"))
    form = BatchForm(request.POST)
    if not form.is_valid():
        context = _queue_context(request, tab=tab, page_number=page, now=now, batch_form=form)
        return render(request, "web/dispatch/queue.html", context, status=400)
    action, reason = form.cleaned_data["action"], form.cleaned_data.get("reason", "")
    results: list[dict[str, Any]] = []
    for pk, version in form.cleaned_data["cases"]:
        label = f"#{pk}"
        try:
            case = selectors.case_get(user=request.user, case_id=pk)
            label = case.ticket_no
            case.version = version
            if action == "register":
                A.case_register(case=case, by=request.user)
            elif action == "dispatch":
                case = A.case_dispatch(case=case, by=request.user)
            else:
                A.case_reject(case=case, by=request.user, reason=reason)
        except CivicError as exc:
            results.append({"label": label, "ok": False, "message": exc.message, "url": case_url(pk) if label != f"#{pk}" else ""})
        else:
            message = str(DONE[action])
            if action == "dispatch" and case.unit_id:
                message = _("Dispatched to %(unit)s.") % {"unit": case.unit.name if case.unit else ""}
            results.append({"label": label, "ok": True, "message": message, "url": case_url(pk)})
    ok = sum(1 for r in results if r["ok"])
    summary = _("%(ok)d of %(total)d done.") % {"ok": ok, "total": len(results)}
    context = _queue_context(request, tab=tab, page_number=page, now=now,
                             batch_results=[{"summary": summary}, *results])
    return render(request, "web/dispatch/queue.html", context, status=200 if ok else 400)


# ---- the case list (every staff role) -------------------------------------------------------------

SORT_ORDER: dict[str, tuple[Any, ...]] = {
    "-reported": ("-reported_at", "-pk"),
    "reported": ("reported_at", "pk"),
    "deadline": (F("deadline_at").asc(nulls_last=True), "pk"),
    "-deadline": (F("deadline_at").desc(nulls_last=True), "-pk"),
}


def filtered_cases(user: Any, form: CaseFilterForm, now: dt.datetime) -> QuerySet[Case]:
    """The scoped case list narrowed by a valid filter form."""
    qs = selectors.case_list(user=user, now=now, **form.selector_kwargs())
    text = (form.cleaned_data.get("q") or "").strip()
    if text:
        qs = qs.filter(selectors.case_text_q(text))
    return qs.order_by(*SORT_ORDER[form.cleaned_data.get("sort") or "-reported"])


def _filter_context(request: HttpRequest, form: CaseFilterForm) -> dict[str, Any]:
    querystring = filter_querystring(request.GET)
    return {
        "filter_form": form,
        "querystring": querystring,
        "categories": _categories(),
        "saved_views": SavedView.objects.filter(owner_id=request.user.pk),
        "saved_form": SavedViewForm(initial={"querystring": querystring}),
    }


def _cases_response(request: HttpRequest, *, saved_form: SavedViewForm | None = None, status: int = 200) -> HttpResponse:
    now = timezone.now()
    form = CaseFilterForm(request.GET, user=request.user)
    context = _filter_context(request, form)
    if saved_form is not None:
        context["saved_form"] = saved_form
    if form.is_valid():
        page = Paginator(filtered_cases(request.user, form, now), LIST_PAGE_SIZE).get_page(request.GET.get("page"))
        context["page"] = page
        context["valid"] = True
        context["rows"] = [{"case": c, "url": case_url(c.pk)} for c in page.object_list]
    else:
        status = 400
    return render(request, "web/dispatch/cases.html", context, status=status)


@require_GET
@staff_required
def case_list(request: HttpRequest) -> HttpResponse:
    return _cases_response(request)


@require_POST
@staff_required
def saved_view_save(request: HttpRequest) -> HttpResponse:
    form = SavedViewForm(request.POST)
    target = "web:dispatch_map" if request.POST.get("target") == "map" else "web:cases"
    if not form.is_valid():
        # Show the list the user was looking at, with the naming error next to the field.
        request.GET = QueryDict(request.POST.get("querystring", ""))  # type: ignore[misc]
        return _cases_response(request, saved_form=form, status=400)
    view, created = SavedView.objects.update_or_create(
        owner_id=request.user.pk, name=form.cleaned_data["name"], defaults={"querystring": form.cleaned_data["querystring"]}
    )
    if created:
        messages.success(request, _("View “%(name)s” saved.") % {"name": view.name})
    else:
        messages.success(request, _("View “%(name)s” updated.") % {"name": view.name})
    query = view.querystring
    return redirect(reverse(target) + (f"?{query}" if query else ""))


@require_POST
@staff_required
def saved_view_delete(request: HttpRequest, view_id: int) -> HttpResponse:
    view = get_object_or_404(SavedView, pk=view_id, owner_id=request.user.pk)  # someone else's: 404
    view.delete()
    messages.success(request, _("View “%(name)s” deleted.") % {"name": view.name})
    return redirect("web:cases")


# ---- the map ----------------------------------------------------------------------------------


@require_GET
@staff_required
def dispatch_map(request: HttpRequest) -> HttpResponse:
    form = CaseFilterForm(request.GET, user=request.user)
    context = _filter_context(request, form)
    query = context["querystring"]
    context["points_url"] = reverse("web:cases_geojson") + (f"?{query}" if query else "")
    return render(request, "web/dispatch/map.html", context, status=200 if form.is_valid() else 400)


@require_GET
@staff_required
def cases_geojson(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    form = CaseFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        errors = {k: [str(m) for m in v] for k, v in form.errors.items()}
        return JsonResponse({"error": _("Some filters are not valid."), "fields": errors}, status=400)
    qs = filtered_cases(request.user, form, now).select_related(None).select_related("category")
    rows = list(qs[: MAX_MAP_POINTS + 1])
    truncated = len(rows) > MAX_MAP_POINTS
    features = []
    for c in rows[:MAX_MAP_POINTS]:
        reported = timezone.localtime(c.reported_at).strftime("%Y-%m-%d %H:%M")
        features.append({
            "type": "Feature",
            "id": c.pk,
            "geometry": {"type": "Point", "coordinates": [c.lon, c.lat]},
            "properties": {
                "title": f"{c.ticket_no} {c.category.name}",
                "url": case_url(c.pk),
                "subtitle": f"{c.get_state_display()} · {reported}",
                "overdue": bool(c.is_overdue),  # type: ignore[attr-defined]
            },
        })
    response = JsonResponse({
        "type": "FeatureCollection",
        "properties": {"label": _("Cases"), "count": len(features), "truncated": truncated},
        "features": features,
    })
    response["Cache-Control"] = "private, no-store"
    return response


# ---- extension requests --------------------------------------------------------------------------


def _pending_extensions(user: Any) -> QuerySet[ExtensionRequest]:
    return (
        ExtensionRequest.objects.filter(decision=ExtensionRequest.Decision.PENDING, case__in=policy.visible_cases(user))
        .select_related("case", "case__category", "case__grid", "unit", "requested_by")
        .order_by("created_at", "pk")
    )


def _extension_row(user: Any, req: ExtensionRequest, *, form: ExtensionDecisionForm | None = None, error: str = "", done: str = "") -> dict[str, Any]:
    case = req.case
    may = req.decision == ExtensionRequest.Decision.PENDING and policy.may(user, Action.DECIDE_EXTENSION, case)
    return {
        "req": req,
        "case": case,
        "url": case_url(case.pk),
        "may": may,
        "form": form or ExtensionDecisionForm(prefix=f"ext-{case.pk}", initial={"version": case.version}),
        "error": error,
        "done": done,
    }


@require_GET
@dispatcher_required
def extensions(request: HttpRequest) -> HttpResponse:
    rows = [_extension_row(request.user, req) for req in _pending_extensions(request.user)]
    return render(request, "web/dispatch/extensions.html", {"rows": rows})


@require_POST
@dispatcher_required
def extension_decide(request: HttpRequest, case_id: int) -> HttpResponse:
    try:
        case = selectors.case_get(user=request.user, case_id=case_id)
    except NotFoundOrForbidden as exc:
        if is_htmx(request):
            return render(request, "web/dispatch/_row_gone.html", {"case_id": case_id, "message": exc.message, "colspan": 5}, status=404)
        raise Http404(exc.message) from exc
    form = ExtensionDecisionForm(request.POST, prefix=f"ext-{case_id}")
    status, error, done, conflict = 200, "", "", False
    if form.is_valid():
        case.version = form.cleaned_data["version"]
        approve = form.cleaned_data["decision"] == "approve"
        try:
            A.case_decide_extension(case=case, by=request.user, approve=approve, note=form.cleaned_data["note"])
            done = _("Extension approved.") if approve else _("Extension denied.")
        except CivicError as exc:
            status, conflict = http_status(exc), isinstance(exc, ConflictError)
            error = _attach_error(form, exc, aliases={"reason": "note"})
    else:
        status = 400
        if "version" in form.errors or "decision" in form.errors:
            error = _("The form was incomplete; reload the page.")
    req = (
        ExtensionRequest.objects.filter(case_id=case.pk)
        .select_related("case", "case__category", "case__grid", "unit", "requested_by")
        .order_by("-created_at", "-pk")
        .first()
    )
    if req is None:
        raise Http404(_("This case has no extension request."))
    # Keep what was typed unless the request changed meanwhile (then show it as it is now).
    keep = status != 200 and not conflict and req.decision == ExtensionRequest.Decision.PENDING
    row = _extension_row(request.user, req, form=form if keep else None, error=error, done=done)
    if is_htmx(request):
        return render(request, "web/dispatch/_extension_row.html", {"row": row}, status=status)
    if status == 200:
        messages.success(request, f"{case.ticket_no}: {done}")
        return redirect("web:extensions")
    rows = [row] + [_extension_row(request.user, r) for r in _pending_extensions(request.user) if r.case_id != case_id]
    return render(request, "web/dispatch/extensions.html", {"rows": rows}, status=status)


urlpatterns = [
    path("dispatch/", dispatch_queue, name="dispatch_queue"),
    path("dispatch/counts/", dispatch_counts, name="dispatch_counts"),
    path("dispatch/batch/", batch, name="dispatch_batch"),
    path("dispatch/case/<int:case_id>/<slug:action>/", case_act, name="dispatch_act"),
    path("dispatch/map/", dispatch_map, name="dispatch_map"),
    path("dispatch/extensions/", extensions, name="extensions"),
    path("dispatch/extensions/<int:case_id>/", extension_decide, name="extension_decide"),
    path("cases/", case_list, name="cases"),
    path("cases/map.geojson", cases_geojson, name="cases_geojson"),
    path("cases/views/", saved_view_save, name="saved_view_save"),
    path("cases/views/<int:view_id>/delete/", saved_view_delete, name="saved_view_delete"),
]
