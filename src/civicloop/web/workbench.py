"""Work pages of the people in the loop (issue 3, points 2, 4 and 5).

* ``/tasks/`` (``web:unit_tasks``): a handling unit's cases that need it, nearest deadline
  first; accept / return / report handled / request an extension inline (htmx), or as
  plain forms without JavaScript.
* ``/grid/`` (``web:grid_home``): a grid worker's cases awaiting his on-site check or
  look-back, and a map of his area's open cases (``web:grid_geojson``).
* ``/overview/`` (``web:overview``): read-only figures for leaders, the campaign office and
  dispatchers, the GB/T 30428.4 rates from ``cases.metrics``, a heat map
  (``web:overview_geojson``) and charts.

Thin: lists start from ``org.policy`` (through ``cases.selectors``), writes are
``cases.actions``; a refused action comes back as a ``CivicError`` shown next to its field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import F, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from civicloop.cases import actions, metrics, selectors
from civicloop.cases.models import (
    Case,
    CaseEvent,
    EventKind,
    ExtensionRequest,
    Photo,
    PhotoKind,
    State,
)
from civicloop.cases.workflow import OPEN_STATES, Action
from civicloop.core.errors import (
    CivicError,
    ConflictError,
    ErrorCode,
    NotFoundOrForbidden,
)
from civicloop.org import policy
from civicloop.org.models import Role

from .common import case_url, http_status, is_htmx
from .workbench_forms import (
    AcceptForm,
    ExtensionForm,
    FeedbackForm,
    LookbackForm,
    PeriodForm,
    ReturnForm,
    VerifyForm,
)

# ---- shared helpers ---------------------------------------------------------------------


def url_or_empty(name: str, **kwargs: Any) -> str:
    """The URL of another module's page, or "" while that page does not exist yet.

    The one case page (``web:case``) is built by another module; until it exists our
    pages show the ticket number without a link instead of failing.
    """
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return ""


def time_left(deadline: dt.datetime | None, now: dt.datetime) -> str:
    """The time to the deadline in plain words: "1 day, 3 hours left" / "overdue by 2 hours"."""
    if deadline is None:
        return _("no deadline")
    if deadline >= now:
        return _("%(time)s left") % {"time": timeuntil(deadline, now, depth=2)}
    return _("overdue by %(time)s") % {"time": timesince(deadline, now, depth=2)}


PHOTO_CODES = {ErrorCode.BAD_FILE, ErrorCode.FILE_TOO_LARGE}


def _show_error(form: forms.Form, exc: CivicError, aliases: dict[str, str] | None = None) -> int:
    """Put an action's refusal next to its field (or at the top of the form); the HTTP status."""
    name = (aliases or {}).get(exc.field or "", exc.field)
    if name not in form.fields and exc.code in PHOTO_CODES and "photos" in form.fields:
        name = "photos"
    form.add_error(name if name in form.fields else None, exc.message)
    return http_status(exc)


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied(_("This page is not part of your role."))


@dataclass
class Outcome:
    """What a POST to an action produced: a refusal (``status`` ≥ 400) or a success message."""

    status: int = 200
    message: str = ""
    conflict: bool = False


def _run(form: forms.Form, case: Case, call: Callable[[Case, dict[str, Any]], Any], success: str,
         aliases: dict[str, str] | None = None) -> Outcome:
    if not form.is_valid():
        return Outcome(status=400)
    case.version = form.cleaned_data["version"]  # the version the page showed
    try:
        call(case, form.cleaned_data)
    except CivicError as exc:
        return Outcome(status=_show_error(form, exc, aliases), conflict=isinstance(exc, ConflictError))
    return Outcome(message=success)


# ---- the handling unit's tasks ------------------------------------------------------------

TASK_STATES = (State.DISPATCHED, State.IN_PROGRESS)


@dataclass(frozen=True)
class TaskAction:
    form: type[forms.Form]
    call: Callable[[Case, Any, dict[str, Any]], Any]
    success: Any
    aliases: dict[str, str] = field(default_factory=dict)


TASK_ACTIONS: dict[str, TaskAction] = {
    "accept": TaskAction(
        AcceptForm, lambda c, u, d: actions.case_accept(case=c, by=u, note=d["note"]),
        gettext_lazy("Accepted: the case is now in progress."),
    ),
    "return": TaskAction(
        ReturnForm, lambda c, u, d: actions.case_return(case=c, by=u, reason=d["reason"]),
        gettext_lazy("Returned to the dispatcher."),
    ),
    "feedback": TaskAction(
        FeedbackForm, lambda c, u, d: actions.case_feedback(case=c, by=u, note=d["note"], photos=d["photos"]),
        gettext_lazy("Reported handled: it now waits for an on-site check."),
    ),
    "extension": TaskAction(
        ExtensionForm, lambda c, u, d: actions.case_request_extension(case=c, by=u, until=d["until"], reason=d["reason"]),
        gettext_lazy("Extension requested: the dispatcher decides."),
    ),
}
# Which forms a task shows in each state.
TASK_FORMS = {State.DISPATCHED: ("accept", "return"), State.IN_PROGRESS: ("feedback", "extension")}


def _prefix(case_id: int, name: str) -> str:
    return f"t{case_id}-{name}"


@dataclass
class Card:
    """One case on a work page, with the forms it offers (fresh, or bound after a refusal)."""

    case: Case
    url: str
    time_left: str
    overdue: bool
    forms: dict[str, forms.Form]
    message: str = ""
    error_form: str = ""
    conflict: bool = False
    reload_url: str = ""
    # A refusal for a form this card no longer offers (the case moved on meanwhile).
    error: str = ""

    @property
    def dom_id(self) -> str:
        return f"case-{self.case.pk}"

    @property
    def rework(self) -> bool:
        return self.case.rework_count > 0 and self.case.state == State.IN_PROGRESS

    @property
    def pending_extension(self) -> ExtensionRequest | None:
        pending = getattr(self.case, "pending_extensions", [])
        return pending[0] if pending else None

    @property
    def last_rework(self) -> CaseEvent | None:
        events = getattr(self.case, "rework_events", [])
        return events[0] if events else None

    @property
    def feedback(self) -> CaseEvent | None:
        events = getattr(self.case, "feedback_events", [])
        return events[0] if events else None


def task_cases(user: Any, now: dt.datetime | None = None) -> QuerySet[Case]:
    """The unit's cases that need it: dispatched or in progress, by deadline (overdue first)."""
    return (
        selectors.case_list(user=user, now=now)
        .filter(unit__in=policy.visible_units(user), state__in=TASK_STATES)
        .prefetch_related(
            Prefetch("extension_requests", queryset=ExtensionRequest.objects.filter(decision=ExtensionRequest.Decision.PENDING), to_attr="pending_extensions"),
            Prefetch("events", queryset=CaseEvent.objects.filter(kind=EventKind.REWORK).order_by("-created_at", "-id"), to_attr="rework_events"),
        )
        .order_by(F("deadline_at").asc(nulls_last=True), "pk")
    )


def _task_card(case: Case, now: dt.datetime, bound: dict[str, forms.Form] | None = None) -> Card:
    fresh = {
        name: TASK_ACTIONS[name].form(prefix=_prefix(case.pk, name), initial={"version": case.version})
        for name in TASK_FORMS.get(State(case.state), ())
    }
    bound = bound or {}
    fresh.update({k: v for k, v in bound.items() if k in fresh})
    gone = " ".join(_form_errors(v) for k, v in bound.items() if k not in fresh)
    return Card(case=case, url=case_url(case.pk), time_left=time_left(case.deadline_at, now),
                overdue=bool(getattr(case, "is_overdue", False)), forms=fresh,
                error_form=next(iter(bound), ""), reload_url=reverse("web:unit_tasks"), error=gone)


def _tasks_context(user: Any, now: dt.datetime, bound: tuple[int, str, forms.Form] | None = None) -> dict[str, Any]:
    cards = []
    for case in task_cases(user, now):
        extra = {bound[1]: bound[2]} if bound and bound[0] == case.pk else None
        cards.append(_task_card(case, now, extra))
    summary = {
        "to_accept": sum(1 for c in cards if c.case.state == State.DISPATCHED),
        "in_progress": sum(1 for c in cards if c.case.state == State.IN_PROGRESS),
        "rework": sum(1 for c in cards if c.rework),
        "overdue": sum(1 for c in cards if c.overdue),
    }
    return {"cards": cards, "summary": summary, "units": list(policy.visible_units(user).order_by("code")[:5])}


@require_GET
@login_required
def unit_tasks(request: HttpRequest) -> HttpResponse:
    _require(policy.visible_units(request.user).exists())
    return render(request, "web/workbench/tasks.html", _tasks_context(request.user, timezone.now()))


def _single_card(request: HttpRequest, card_template: str, card: Card | None, case_id: int, message: str, status: int) -> HttpResponse:
    if card is None:
        return render(request, "web/workbench/_done.html", {"case_id": case_id, "message": message, "dom_id": f"case-{case_id}"}, status=status)
    card.message = message
    return render(request, card_template, {"card": card}, status=status)


def _task_action(request: HttpRequest, case_id: int, name: str) -> HttpResponse:
    spec = TASK_ACTIONS[name]
    user, now = request.user, timezone.now()
    try:
        case = policy.access_case(user, case_id)
    except NotFoundOrForbidden as exc:
        return _single_card(request, "", None, case_id, exc.message, 404)
    form = spec.form(request.POST, request.FILES, prefix=_prefix(case_id, name))
    outcome = _run(form, case, lambda c, d: spec.call(c, user, d), str(spec.success), spec.aliases)
    if outcome.status < 400:
        if not is_htmx(request):
            messages.success(request, f"{case.ticket_no}: {outcome.message}")
            return redirect(reverse("web:unit_tasks") + f"#case-{case_id}")
        current = task_cases(user, now).filter(pk=case_id).first()
        card = _task_card(current, now) if current is not None else None
        return _single_card(request, "web/workbench/_task.html", card, case_id, f"{case.ticket_no}: {outcome.message}", 200)
    current = task_cases(user, now).filter(pk=case_id).first()
    if is_htmx(request):
        if current is None:
            return _single_card(request, "", None, case_id, _form_errors(form), outcome.status)
        card = _task_card(current, now, {name: form})
        card.conflict = outcome.conflict
        return render(request, "web/workbench/_task.html", {"card": card}, status=outcome.status)
    context = _tasks_context(user, now, (case_id, name, form))
    if current is None:
        context["page_error"] = f"{case.ticket_no}: {_form_errors(form)}"
    context["conflict"] = outcome.conflict
    for card in context["cards"]:
        if card.case.pk == case_id:
            card.conflict = outcome.conflict
    return render(request, "web/workbench/tasks.html", context, status=outcome.status)


def _form_errors(form: forms.Form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


@require_POST
@login_required
def task_accept(request: HttpRequest, case_id: int) -> HttpResponse:
    return _task_action(request, case_id, "accept")


@require_POST
@login_required
def task_return(request: HttpRequest, case_id: int) -> HttpResponse:
    return _task_action(request, case_id, "return")


@require_POST
@login_required
def task_feedback(request: HttpRequest, case_id: int) -> HttpResponse:
    return _task_action(request, case_id, "feedback")


@require_POST
@login_required
def task_extension(request: HttpRequest, case_id: int) -> HttpResponse:
    return _task_action(request, case_id, "extension")


# ---- the grid worker's page -----------------------------------------------------------------

VERIFIER_ROLES = (Role.GRID_WORKER, Role.DISPATCHER, Role.INSPECTOR)
CHECK_ACTIONS = {
    "verify": (VerifyForm, Action.VERIFY_PASS),
    "lookback": (LookbackForm, Action.LOOKBACK_PASS),
}
# The actions call the free text of a failed check "reason"; our forms call it "note".
CHECK_ALIASES = {"reason": "note"}


def _check_base(user: Any, now: dt.datetime | None) -> QuerySet[Case]:
    return selectors.case_list(user=user, now=now).prefetch_related(
        Prefetch("photos", queryset=Photo.objects.filter(kind=PhotoKind.AFTER).order_by("created_at", "id"), to_attr="after_photos"),
        Prefetch("events", queryset=CaseEvent.objects.filter(kind=EventKind.FEEDBACK).order_by("-created_at", "-id"), to_attr="feedback_events"),
    )


def _i_may(user: Any, action: Action, cases: list[Case]) -> list[Case]:
    """Only the cases the policy lets this user check: in his area, and never his own handling."""
    mine = set(
        CaseEvent.objects.filter(actor=user, kind__in=[EventKind.ACCEPTED, EventKind.FEEDBACK], case__in=[c.pk for c in cases])
        .values_list("case_id", flat=True)
    ) if cases else set()
    return [c for c in cases if policy.may(user, action, c, handler_ids={user.pk} if c.pk in mine else None)]


def verification_cases(user: Any, now: dt.datetime | None = None) -> list[Case]:
    """Handled cases waiting for this user's on-site check, waiting longest first."""
    rows = list(_check_base(user, now).filter(state=State.HANDLED).order_by(F("handled_at").asc(nulls_last=True), "pk"))
    return _i_may(user, Action.VERIFY_PASS, rows)


def lookback_cases(user: Any, now: dt.datetime | None = None) -> list[Case]:
    """Closed cases whose look-back (回头看) is due: those a reporter says are not fixed
    first, then the most overdue."""
    when = now or timezone.now()
    rows = list(
        _check_base(user, now)
        .filter(state=State.CLOSED, lookback_due_at__lte=when)
        .order_by("-resident_says_unfixed", "lookback_due_at", "pk")
    )
    return _i_may(user, Action.LOOKBACK_PASS, rows)


def _check_card(case: Case, kind: str, now: dt.datetime, bound: forms.Form | None = None) -> Card:
    form_class = CHECK_ACTIONS[kind][0]
    form = bound or form_class(prefix=_prefix(case.pk, kind), initial={"version": case.version})
    return Card(case=case, url=case_url(case.pk), time_left="",
                overdue=False, forms={kind: form}, error_form=kind if bound is not None else "",
                reload_url=reverse("web:grid_home"))


def _may_check(user: Any) -> bool:
    return policy.is_admin(user) or policy.has_role(user, *VERIFIER_ROLES)


def _grid_context(user: Any, now: dt.datetime, bound: tuple[int, str, forms.Form] | None = None) -> dict[str, Any]:
    def cards(kind: str, rows: list[Case]) -> list[Card]:
        return [_check_card(c, kind, now, bound[2] if bound and bound[0] == c.pk and bound[1] == kind else None) for c in rows]

    return {
        "verify_cards": cards("verify", verification_cases(user, now)),
        "lookback_cards": cards("lookback", lookback_cases(user, now)),
        "report_url": url_or_empty("web:report"),
        "areas": list(policy.visible_areas(user).filter(path__in=policy.area_paths(user)).order_by("path")[:5]),
    }


@require_GET
@login_required
def grid_home(request: HttpRequest) -> HttpResponse:
    _require(_may_check(request.user))
    return render(request, "web/workbench/grid.html", _grid_context(request.user, timezone.now()))


def _check_action(request: HttpRequest, case_id: int, kind: str) -> HttpResponse:
    user, now = request.user, timezone.now()
    _require(_may_check(user))
    try:
        case = policy.access_case(user, case_id)
    except NotFoundOrForbidden as exc:
        return _single_card(request, "", None, case_id, exc.message, 404)
    form_class = CHECK_ACTIONS[kind][0]
    form = form_class(request.POST, request.FILES, prefix=_prefix(case_id, kind))

    def call(c: Case, d: dict[str, Any]) -> Any:
        fn = actions.case_verify if kind == "verify" else actions.case_lookback
        return fn(case=c, by=user, passed=d["verdict"] == "pass", note=d["note"], photos=d["photos"])

    passed = request.POST.get(f"{_prefix(case_id, kind)}-verdict") == "pass"
    if kind == "verify":
        success = _("Verified: closed.") if passed else _("Sent back to the unit for rework.")
    else:
        success = _("Look-back recorded: still fixed.") if passed else _("Look-back recorded: it came back; a new case was opened.")
    outcome = _run(form, case, call, success, CHECK_ALIASES)
    if outcome.status < 400:
        if not is_htmx(request):
            messages.success(request, f"{case.ticket_no}: {outcome.message}")
            return redirect(reverse("web:grid_home") + f"#case-{case_id}")
        return _single_card(request, "", None, case_id, f"{case.ticket_no}: {outcome.message}", 200)
    rows = verification_cases(user, now) if kind == "verify" else lookback_cases(user, now)
    current = next((c for c in rows if c.pk == case_id), None)
    if is_htmx(request):
        if current is None:
            return _single_card(request, "", None, case_id, f"{case.ticket_no}: {_form_errors(form)}", outcome.status)
        card = _check_card(current, kind, now, form)
        card.conflict = outcome.conflict
        return render(request, "web/workbench/_check.html", {"card": card, "kind": kind}, status=outcome.status)
    context = _grid_context(user, now, (case_id, kind, form))
    if current is None:
        context["page_error"] = f"{case.ticket_no}: {_form_errors(form)}"
    for card in context["verify_cards"] + context["lookback_cards"]:
        if card.case.pk == case_id:
            card.conflict = outcome.conflict
    return render(request, "web/workbench/grid.html", context, status=outcome.status)


@require_POST
@login_required
def grid_verify(request: HttpRequest, case_id: int) -> HttpResponse:
    return _check_action(request, case_id, "verify")


@require_POST
@login_required
def grid_lookback(request: HttpRequest, case_id: int) -> HttpResponse:
    return _check_action(request, case_id, "lookback")


MAX_POINTS = 5000


def _point(case: Case, title: str, subtitle: str, overdue: bool, url: str) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": case.pk,
        "geometry": {"type": "Point", "coordinates": [round(case.lon, 7), round(case.lat, 7)]},
        "properties": {"title": title, "subtitle": subtitle, "url": url, "overdue": overdue},
    }


@require_GET
@login_required
def grid_geojson(request: HttpRequest) -> HttpResponse:
    """Open cases the user may see, as points for ``map.js`` (WGS-84)."""
    _require(_may_check(request.user))
    rows = selectors.case_list(user=request.user).filter(state__in=list(OPEN_STATES)).order_by("-reported_at", "-pk")[:MAX_POINTS]
    features = [
        _point(c, f"{c.ticket_no} {c.category.name}", c.get_state_display(), bool(getattr(c, "is_overdue", False)), case_url(c.pk))
        for c in rows
    ]
    return JsonResponse({"type": "FeatureCollection", "properties": {"label": _("Open cases")}, "features": features})


# ---- the overview ----------------------------------------------------------------------------

OVERVIEW_ROLES = (Role.LEADER, Role.CAMPAIGN_OFFICE, Role.DISPATCHER)


def _may_overview(user: Any) -> bool:
    return policy.is_admin(user) or policy.has_role(user, *OVERVIEW_ROLES)


def rate_text(value: Decimal | None) -> str:
    """A rate for people: "66.67 %", or "—" when there was nothing to measure."""
    return "—" if value is None else f"{value} %"


def _period(request: HttpRequest, now: dt.datetime) -> tuple[PeriodForm, dt.datetime, dt.datetime]:
    form = PeriodForm(request.GET or None, initial={"period": "30"})
    if request.GET:
        form.is_valid()
    start, end = form.bounds(now) if form.is_bound else (now - dt.timedelta(days=30), now)
    return form, start, end


@require_GET
@login_required
def overview(request: HttpRequest) -> HttpResponse:
    user, now = request.user, timezone.now()
    _require(_may_overview(user))
    form, start, end = _period(request, now)
    cases = policy.visible_cases(user)
    tz = timezone.get_current_timezone()
    fig = metrics.figures(cases, start=start, end=end)
    units = metrics.figures_by_unit(cases, start=start, end=end)
    states = metrics.state_breakdown(cases, start=start, end=end)
    trend = metrics.daily_trend(cases, start=start, end=end, tz=tz)
    rates = [
        (_("Closure rate (结案率)"), rate_text(fig.closure_rate), _("closed / due for closure"), f"{fig.closed} / {fig.due_closure}"),
        (_("On-time closure rate (按期结案率)"), rate_text(fig.on_time_closure_rate), _("closed on time / due for closure"), f"{fig.closed_on_time} / {fig.due_closure}"),
        (_("Handling rate (处置率)"), rate_text(fig.handling_rate), _("handled / due for handling"), f"{fig.handled} / {fig.due_handling}"),
        (_("On-time handling rate (按期处置率)"), rate_text(fig.on_time_handling_rate), _("handled on time / due for handling"), f"{fig.handled_on_time} / {fig.due_handling}"),
        (_("Rework rate (返工率)"), rate_text(fig.rework_rate), _("reworked / handled"), f"{fig.reworked} / {fig.handled}"),
        (_("Satisfaction"), rate_text(fig.satisfaction_rate), _("satisfied or basically satisfied / ratings"), f"{fig.satisfied} / {fig.rated}"),
    ]
    charts = {
        "states": {"labels": [label for _s, label, _n in states], "values": [n for _s, _label, n in states], "title": _("Cases received, by state now")},
        "trend": {
            "days": [d.isoformat() for d, _r, _c in trend],
            "received": [r for _d, r, _c in trend],
            "closed": [c for _d, _r, c in trend],
            "labels": {"received": _("Received"), "closed": _("Closed")},
            "title": _("Received and closed per day"),
        },
    }
    query = request.GET.urlencode()
    context = {
        "form": form,
        "start": start,
        "end": end,
        "last_day": (end - dt.timedelta(microseconds=1)),
        "fig": fig,
        "rates": rates,
        "units": [(u, rate_text(u.figures.on_time_closure_rate), rate_text(u.figures.closure_rate)) for u in units],
        "states": states,
        "trend": trend,
        "charts": charts,
        "points_url": reverse("web:overview_geojson") + (f"?{query}" if query else ""),
        "areas": list(policy.visible_areas(user).filter(path__in=policy.area_paths(user)).order_by("path")[:5]),
    }
    return render(request, "web/workbench/overview.html", context, status=400 if form.errors else 200)


@require_GET
@login_required
def overview_geojson(request: HttpRequest) -> HttpResponse:
    """Where the period's cases were reported (for the heat map): places only, nobody's identity."""
    user, now = request.user, timezone.now()
    _require(_may_overview(user))
    form, start, end = _period(request, now)
    if form.errors:
        return JsonResponse({"error": _form_errors(form)}, status=400)
    rows = (
        selectors.case_list(user=user, since=start, until=end, now=now)
        .order_by("-reported_at", "-pk")[:MAX_POINTS]
    )
    features = [
        _point(c, c.category.name, date_format(timezone.localtime(c.reported_at), "Y-m-d"), bool(getattr(c, "is_overdue", False)), "")
        for c in rows
    ]
    return JsonResponse({"type": "FeatureCollection", "properties": {"label": _("Reported problems")}, "features": features})


urlpatterns = [
    path("tasks/", unit_tasks, name="unit_tasks"),
    path("tasks/<int:case_id>/accept/", task_accept, name="task_accept"),
    path("tasks/<int:case_id>/return/", task_return, name="task_return"),
    path("tasks/<int:case_id>/feedback/", task_feedback, name="task_feedback"),
    path("tasks/<int:case_id>/extension/", task_extension, name="task_extension"),
    path("grid/", grid_home, name="grid_home"),
    path("grid/cases.geojson", grid_geojson, name="grid_geojson"),
    path("grid/<int:case_id>/verify/", grid_verify, name="grid_verify"),
    path("grid/<int:case_id>/lookback/", grid_lookback, name="grid_lookback"),
    path("overview/", overview, name="overview"),
    path("overview/reports.geojson", overview_geojson, name="overview_geojson"),
]
