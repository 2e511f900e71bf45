"""The one case page every staff role works from (issue 3, point 6).

``/cases/<id>/`` shows a case to any staff member in scope (``policy.access_case``;
out of scope is the same 404 as missing) and offers a small form for each workflow
action the user may take now. Each form posts to ``/cases/<id>/act/<action>/``,
which parses it, hands the engine (``cases.actions``) a case carrying the version
the user saw and renders the outcome: a redirect (or, for htmx, the refreshed page
part) on success; the same page with the error next to the form otherwise — 400
for a refusal, 403 for a role that may not, 409 when someone else changed the case.

Residents have no case page: they follow their report by ticket (``/t/<ticket>/``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from civicloop.cases import actions as A
from civicloop.cases import evidence, routing, selectors
from civicloop.cases.models import (
    Case,
    CaseEvent,
    CaseUnit,
    EventKind,
    ExtensionRequest,
    Photo,
    Rating,
    Report,
)
from civicloop.cases.workflow import ACTION_LABELS, Action, Actor, actions_from
from civicloop.core.errors import (
    CivicError,
    ConflictError,
    ErrorCode,
    NotFoundOrForbidden,
    PermissionRefused,
)
from civicloop.org import policy
from civicloop.org.models import Role
from civicloop.places.models import AreaKind

from .casepage_forms import FORMS, ActionForm, DispatchForm, photos_of
from .common import is_htmx

STAFF_ROLES = tuple(r for r in Role if r != Role.RESIDENT)
# Events whose actor is a reporter, not staff: shown as "reporter N" to roles without contacts.
REPORTER_EVENTS = {EventKind.REPORTED, EventKind.REPORTER_JOINED, EventKind.RATED}
VERIFIER_ACTIONS = {Action.VERIFY_PASS, Action.VERIFY_FAIL, Action.LOOKBACK_PASS, Action.LOOKBACK_FAIL}
PHOTO_ERRORS = {ErrorCode.BAD_FILE, ErrorCode.FILE_TOO_LARGE}


# ---- who sees what ------------------------------------------------------------------


def sees_reporter_contacts(user: Any, case: Case) -> bool:
    """May ``user`` read the names, phone numbers and e-mail addresses of ``case``'s reporters?

    Only the people whose work is talking to reporters:

    - the dispatcher of the case's area, who calls reporters back (回访) and tells
      them their ticket number (administrators count as dispatchers everywhere);
    - the grid worker whose area holds the case, who meets them on the spot.

    Everyone else who may open the case — staff of the handling units, leaders,
    inspectors, the campaign office, a grid worker of another area who reported it —
    works on the problem, not on the person, and sees "reporter 1", "reporter 2" …
    without name, phone, e-mail or the reporter's own ticket number, in the list of
    reporters and in the timeline alike.
    """
    if policy.actor_matches(user, Actor.DISPATCHER, case):
        return True
    return any(case.area_path.startswith(p) for p in policy.area_paths(user, {Role.GRID_WORKER}))


def is_staff(user: Any) -> bool:
    return policy.is_admin(user) or policy.has_role(user, *STAFF_ROLES)


def _access(user: Any, case_id: int) -> Case:
    """The case for a staff user in scope; 404 otherwise (the same for missing and forbidden)."""
    try:
        case = selectors.case_get(user=user, case_id=case_id)
    except NotFoundOrForbidden as exc:
        raise Http404(str(exc)) from exc
    if not is_staff(user):
        raise Http404(_("No such case, or it is not in your area."))
    return case


# ---- what the page shows ------------------------------------------------------------------


@dataclass
class Reporter:
    number: int
    report: Report
    contacts: bool

    @property
    def label(self) -> str:
        return _("Reporter %(number)d") % {"number": self.number}

    @property
    def name(self) -> str:
        if not self.contacts:
            return self.label
        user = self.report.reporter
        return self.report.name or (str(user) if user else "") or self.label

    @property
    def phone(self) -> str:
        if not self.contacts:
            return ""
        user = self.report.reporter
        return self.report.phone or (user.phone if user else "")

    @property
    def email(self) -> str:
        if not self.contacts:
            return ""
        user = self.report.reporter
        return self.report.email or (user.email if user else "")


@dataclass
class Step:
    event: CaseEvent
    actor: str
    unit: str
    detail: str
    photos: list[Photo]
    link: tuple[str, str] | None = None


@dataclass
class PanelEntry:
    action: Action
    label: str
    form: ActionForm
    open: bool = False


@dataclass
class Panel:
    entries: list[PanelEntry] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    hint: str = ""
    conflict: bool = False


def reporters_of(case: Case, contacts: bool) -> list[Reporter]:
    reports = case.reports.select_related("reporter").order_by("created_at", "id")
    return [Reporter(number=i, report=r, contacts=contacts) for i, r in enumerate(reports, start=1)]


def _reporter_for(event: CaseEvent, reporters: list[Reporter]) -> Reporter | None:
    data = event.data or {}
    for r in reporters:
        if data.get("report_id") == r.report.pk or (data.get("ticket_no") and data.get("ticket_no") == r.report.ticket_no):
            return r
    for r in reporters:
        if event.actor_id is not None and r.report.reporter_id == event.actor_id:
            return r
    return None


def _local(value: str | None) -> str:
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return date_format(timezone.localtime(moment), "Y-m-d H:i")


def _detail(event: CaseEvent) -> tuple[str, tuple[str, str] | None]:
    """A short line of what an event changed, from its recorded data."""
    data = event.data or {}
    kind = event.kind
    if kind in {EventKind.DISPATCHED, EventKind.REASSIGNED} and data.get("unit_name"):
        return _("To: %(unit)s") % {"unit": data["unit_name"]}, None
    if kind == EventKind.CO_UNIT_ADDED and data.get("unit_name"):
        return _("Co-handling: %(unit)s") % {"unit": data["unit_name"]}, None
    if kind == EventKind.RECLASSIFIED and data.get("to"):
        return _("Category %(old)s → %(new)s") % {"old": data.get("from", ""), "new": data["to"]}, None
    if kind == EventKind.REGISTERED and data.get("category"):
        return _("Category: %(code)s") % {"code": data["category"]}, None
    if kind == EventKind.REGISTERED and data.get("recurrence_of"):
        return _("Recurrence of case %(ticket)s") % {"ticket": data["recurrence_of"]}, None
    if kind == EventKind.EXTENSION_REQUESTED and data.get("until"):
        return _("Until %(when)s") % {"when": _local(data["until"])}, None
    if kind == EventKind.ESCALATED and data.get("area_name"):
        return _("Level %(level)s: %(area)s") % {"level": data.get("level", ""), "area": data["area_name"]}, None
    if kind == EventKind.RATED and data.get("rating") in Rating.values:
        text = str(Rating(data["rating"]).label)
        if data.get("unfixed"):
            text += " · " + _("says it is not fixed")
        return text, None
    if kind == EventKind.LOOKBACK_FAILED and data.get("recurrence_id"):
        url = reverse("web:case", kwargs={"case_id": data["recurrence_id"]})
        return _("New case opened"), (url, str(data.get("recurrence", "")))
    return "", None


def timeline_steps(case: Case, reporters: list[Reporter], contacts: bool) -> list[Step]:
    steps = []
    for event in selectors.case_timeline(case=case):
        if event.kind in REPORTER_EVENTS:
            reporter = _reporter_for(event, reporters)
            if reporter is not None:
                actor = reporter.name
            elif contacts and event.actor is not None:
                actor = str(event.actor)
            else:
                actor = _("A reporter")
            unit = ""
        else:
            actor = str(event.actor) if event.actor is not None else _("System (automatic)")
            unit = event.actor_unit.name if event.actor_unit is not None else ""
        detail, link = _detail(event)
        steps.append(Step(event=event, actor=actor, unit=unit, detail=detail, photos=list(event.photos.all()), link=link))
    return steps


def _area_path(case: Case) -> list[str]:
    grid = case.grid
    return [a.name for a in grid.ancestors() if a.kind != AreaKind.CITY] + [grid.name]


def action_offered(action: Action, case: Case, now: dt.datetime, pending: ExtensionRequest | None) -> bool:
    """Hide forms the engine would refuse for a reason other than the state (it still checks)."""
    if action == Action.REQUEST_EXTENSION:
        return pending is None
    if action == Action.DECIDE_EXTENSION:
        return pending is not None
    if action in {Action.LOOKBACK_PASS, Action.LOOKBACK_FAIL}:
        return case.lookback_due_at is None or case.lookback_due_at <= now
    if action == Action.ESCALATE:
        return A.escalation_target(case, case.escalation_level + 1) is not None
    return True


def _new_form(action: Action, case: Case, data: Any = None, files: Any = None) -> ActionForm:
    form_class = FORMS[action]
    if form_class is DispatchForm:
        default = routing.unit_for(category=case.category, grid=case.grid) if data is None else None
        return DispatchForm(data, files, case=case, default_unit=default)
    return form_class(data, files, case=case)


def _form_errors(form: ActionForm) -> list[str]:
    return [str(m) for errs in form.errors.values() for m in errs]


def _panel(user: Any, case: Case, now: dt.datetime, *, pending: ExtensionRequest | None,
           failed: ActionForm | None, errors: list[str], conflict: bool) -> Panel:
    panel = Panel(errors=list(errors), conflict=conflict)
    handler_ids: set[int] | None = None
    possible = [a for a in actions_from(case.state) if a in FORMS]
    for action in possible:
        if action in VERIFIER_ACTIONS and handler_ids is None:
            handler_ids = A._handler_ids(case)  # the engine's own "never verify your own work" list
        if not action_offered(action, case, now, pending):
            continue
        if not policy.may(user, action, case, handler_ids=handler_ids):
            panel.others.append(str(ACTION_LABELS[action]))
            continue
        if failed is not None and failed.action == action:
            panel.entries.append(PanelEntry(action, str(ACTION_LABELS[action]), failed, open=True))
        else:
            panel.entries.append(PanelEntry(action, str(ACTION_LABELS[action]), _new_form(action, case)))
    if failed is not None and failed.action not in {e.action for e in panel.entries} and not errors:
        # The refused action is not one the user can take now: say why at the top.
        panel.errors = _form_errors(failed)
    if case.lookback_due_at and case.lookback_due_at > now and Action.LOOKBACK_PASS in possible:
        panel.hint = _("The look-back is due from %(date)s.") % {"date": date_format(timezone.localtime(case.lookback_due_at), "Y-m-d")}
    return panel


def _context(request: HttpRequest, case: Case, *, failed: ActionForm | None = None, errors: list[str] | None = None,
             conflict: bool = False, partial: bool = False) -> dict[str, Any]:
    user = request.user
    now = timezone.now()
    contacts = sees_reporter_contacts(user, case)
    reporters = reporters_of(case, contacts)
    extensions = list(case.extension_requests.select_related("unit", "requested_by", "decided_by").order_by("-created_at", "-id"))
    pending = next((x for x in extensions if x.decision == ExtensionRequest.Decision.PENDING), None)
    return {
        "case": case,
        "category": case.category,
        "overdue": selectors.is_overdue(case, now),
        "area_path": _area_path(case),
        "co_units": [cu.unit for cu in case.case_units.filter(role=CaseUnit.Role.ASSIST, active=True).select_related("unit")],
        "timeline": timeline_steps(case, reporters, contacts),
        "photo_pairs": evidence.photos_side_by_side(case),
        "extensions": extensions,
        "pending_extension": pending,
        "reporters": reporters,
        "contacts": contacts,
        "panel": _panel(user, case, now, pending=pending, failed=failed, errors=errors or [], conflict=conflict),
        "partial": partial,
    }




def _render(request: HttpRequest, case: Case, *, status: int = 200, **kw: Any) -> HttpResponse:
    partial = is_htmx(request)
    template = "web/case/_live.html" if partial else "web/case/page.html"
    return render(request, template, _context(request, case, partial=partial, **kw), status=status)


# ---- views --------------------------------------------------------------------------


@require_GET
@login_required
def case_page(request: HttpRequest, case_id: int) -> HttpResponse:
    if not is_staff(request.user):
        # A resident who reported it follows it by ticket; nobody else learns it exists.
        own = Report.objects.filter(case_id=case_id, reporter_id=request.user.pk).order_by("created_at").first()
        if own is not None:
            return redirect("web:ticket_detail", ticket_no=own.ticket_no)
        raise Http404(_("No such case, or it is not in your area."))
    return _render(request, _access(request.user, case_id))


@require_GET
@login_required
def case_map(request: HttpRequest, case_id: int, layer: str) -> HttpResponse:
    """The case's pin (``point``) or its grid's boundary (``grid``) as GeoJSON, for the small map."""
    case = _access(request.user, case_id)
    if layer == "grid":
        grid = case.grid
        feature = {"type": "Feature", "id": grid.pk, "properties": {"code": grid.code, "name": grid.name},
                   "geometry": json.loads(grid.geometry)}
        label = _("Grid")
    elif layer == "point":
        feature = {
            "type": "Feature", "id": case.pk,
            "properties": {"title": case.ticket_no, "subtitle": f"{case.category.big_name} · {case.category.name}",
                           "overdue": selectors.is_overdue(case)},
            "geometry": {"type": "Point", "coordinates": [case.lon, case.lat]},
        }
        label = _("Case")
    else:
        raise Http404(_("No such map layer."))
    return JsonResponse({"type": "FeatureCollection", "properties": {"label": label}, "features": [feature]})


def _perform(action: Action, form: ActionForm, case: Case, by: Any) -> None:
    """Call the one engine action for ``action`` with the form's values."""
    d = form.cleaned_data
    note, reason = d.get("note", ""), d.get("reason", "")
    photos = photos_of(form)
    if action == Action.REGISTER:
        category = d.get("category")
        A.case_register(case=case, by=by, category=category if category is not None else None, note=note)
    elif action == Action.REJECT:
        A.case_reject(case=case, by=by, reason=reason)
    elif action == Action.VOID:
        A.case_void(case=case, by=by, reason=reason)
    elif action == Action.RECLASSIFY:
        A.case_reclassify(case=case, by=by, category=d["category"], note=note)
    elif action == Action.DISPATCH:
        A.case_dispatch(case=case, by=by, unit=d.get("unit"), co_units=list(d.get("co_units") or []), note=note)
    elif action == Action.REASSIGN:
        A.case_reassign(case=case, by=by, unit=d["unit"], reason=reason)
    elif action == Action.ADD_CO_UNIT:
        A.case_add_co_unit(case=case, by=by, unit=d["unit"], note=note)
    elif action == Action.ACCEPT:
        A.case_accept(case=case, by=by, note=note)
    elif action == Action.RETURN:
        A.case_return(case=case, by=by, reason=reason)
    elif action == Action.FEEDBACK:
        A.case_feedback(case=case, by=by, note=note, photos=photos)
    elif action in {Action.VERIFY_PASS, Action.VERIFY_FAIL}:
        A.case_verify(case=case, by=by, passed=action == Action.VERIFY_PASS, note=note, photos=photos)
    elif action == Action.REQUEST_EXTENSION:
        A.case_request_extension(case=case, by=by, until=d["until"], reason=reason)
    elif action == Action.DECIDE_EXTENSION:
        A.case_decide_extension(case=case, by=by, approve=d["decision"] == "approve", note=note)
    elif action == Action.DEFER:
        A.case_defer(case=case, by=by, reason=reason)
    elif action == Action.RESUME:
        A.case_resume(case=case, by=by, note=note)
    elif action == Action.URGE:
        A.case_urge(case=case, by=by, note=note)
    elif action == Action.ESCALATE:
        A.case_escalate(case=case, by=by, note=note)
    elif action in {Action.LOOKBACK_PASS, Action.LOOKBACK_FAIL}:
        A.case_lookback(case=case, by=by, passed=action == Action.LOOKBACK_PASS, note=note, photos=photos)
    else:  # pragma: no cover - FORMS and this list are kept together
        raise Http404


@require_POST
@login_required
def case_act(request: HttpRequest, case_id: int, action: str) -> HttpResponse:
    try:
        act = Action(action)
    except ValueError:
        raise Http404(_("No such action.")) from None
    if act not in FORMS:
        raise Http404(_("No such action."))
    user = request.user
    case = _access(user, case_id)
    try:
        policy.require(user, act, case)
    except NotFoundOrForbidden as exc:
        raise Http404(str(exc)) from exc
    except PermissionRefused as exc:
        return _render(request, case, status=403, errors=[exc.message])

    form = _new_form(act, case, request.POST, request.FILES)
    if not form.is_valid():
        return _render(request, case, status=400, failed=form)
    # The engine compares this with the row it locks: a form opened before someone
    # else's change is refused as a conflict, never applied over it.
    case.version = form.cleaned_data["version"]
    try:
        _perform(act, form, case, user)
    except ConflictError as exc:
        fresh = _access(user, case_id)
        data = request.POST.copy()
        data["version"] = str(fresh.version)  # the page now shows the case as it is: submitting again is deliberate
        again = _new_form(act, fresh, data)
        again.is_valid()
        return _render(request, fresh, status=409, failed=again, errors=[exc.message], conflict=True)
    except NotFoundOrForbidden as exc:
        raise Http404(str(exc)) from exc
    except PermissionRefused as exc:
        return _render(request, _access(user, case_id), status=403, errors=[exc.message])
    except CivicError as exc:
        target = form.field_for_error(exc.field)
        if target is None and exc.code in PHOTO_ERRORS:
            target = form.photo_field
        form.add_error(target, exc.message)
        return _render(request, _access(user, case_id), status=400, failed=form)

    messages.success(request, _("Done: %(action)s.") % {"action": ACTION_LABELS[act]})
    if not policy.visible_cases(user).filter(pk=case_id).exists():
        # e.g. a unit that returned the case no longer sees it: back to its own page.
        where = reverse("web:me")
        if is_htmx(request):
            return HttpResponse(status=204, headers={"HX-Redirect": where})
        return redirect(where)
    if is_htmx(request):
        return _render(request, _access(user, case_id))
    return redirect("web:case", case_id=case_id)


urlpatterns: list[URLPattern] = [
    path("cases/<int:case_id>/", case_page, name="case"),
    path("cases/<int:case_id>/act/<str:action>/", case_act, name="case_act"),
    path("cases/<int:case_id>/map/<str:layer>.geojson", case_map, name="case_map"),
]
