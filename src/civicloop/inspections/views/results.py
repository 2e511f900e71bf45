"""Inspection pages: results, rankings and the unit evaluation (see docs/architecture.md, "inspections").

* ``/inspections/rankings/`` (``inspections:rankings``): the ranking of communities, streets,
  districts or units for one published round, a month or a quarter, with the red and black
  lists (红黑榜), the grade bands and a chart; ``inspections:rankings_xlsx`` downloads the
  table. Staff of every role: a round's ranking when ``org.policy`` lets them see the round;
  a month's or a quarter's is computed over every published round of the period (the same
  for every reader) and shows the groups the reader may know of (``rankings.period_board``).
* ``/inspections/rounds/<id>/results/`` (``inspections:round_results``): each sampled
  location's result, when ``policy.round_results_visible``.
* ``/inspections/units/`` (``inspections:unit_evaluation``): the GB/T 30428.4 evaluation of
  the handling units from the case loop, for leaders, the campaign office, dispatchers and
  admins, over the cases ``policy.visible_cases`` lets them see.

Thin: the forms parse, ``rankings`` and ``evaluation`` compute, ``org.policy`` decides.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from civicloop.core.errors import CivicError, NotFoundOrForbidden, ValidationFailed
from civicloop.org import policy
from civicloop.org.models import Role

from .. import evaluation, rankings
from ..models import LocationType, Round, RoundKind, RoundStatus

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_ROUND_CHOICES = 200
MAX_PERIOD_DAYS = 366 * 3

# Who reads rankings (over the rounds the policy shows them): every staff role.
RANKING_READERS = (
    Role.GRID_WORKER, Role.DISPATCHER, Role.UNIT_STAFF, Role.INSPECTOR, Role.CAMPAIGN_OFFICE, Role.LEADER,
)
# Who reads the unit evaluation (over the cases the policy shows them).
EVALUATION_READERS = (Role.LEADER, Role.CAMPAIGN_OFFICE, Role.DISPATCHER)

SCOPES = (
    ("round", gettext_lazy("One round")),
    ("month", gettext_lazy("A month")),
    ("quarter", gettext_lazy("A quarter")),
)
MONTH_RE = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")
QUARTER_RE = re.compile(r"^\s*(\d{4})\s*-?\s*Q([1-9])\s*$", re.IGNORECASE)


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied(_("This page is not part of your role."))


def may_read_rankings(user: Any) -> bool:
    return policy.is_admin(user) or policy.has_role(user, *RANKING_READERS)


def may_read_evaluation(user: Any) -> bool:
    return policy.is_admin(user) or policy.has_role(user, *EVALUATION_READERS)


def _add_error(form: forms.Form, exc: CivicError, field: str) -> None:
    form.add_error(field if field in form.fields else None, exc.message)


def parse_month(text: str) -> tuple[int, int]:
    """"2026-11" → (2026, 11), or ``ValidationFailed``."""
    match = MONTH_RE.match(text or "")
    if not match:
        raise ValidationFailed(_("Enter a month as year-month, e.g. 2026-11."), field="month")
    year, month = int(match.group(1)), int(match.group(2))
    rankings.month_bounds(year, month)  # checks the year and the month
    return year, month


def parse_quarter(text: str) -> tuple[int, int]:
    """"2026-Q4" → (2026, 4), or ``ValidationFailed``."""
    match = QUARTER_RE.match(text or "")
    if not match:
        raise ValidationFailed(_("Enter a quarter as year-Q1 to year-Q4, e.g. 2026-Q4."), field="quarter")
    year, quarter = int(match.group(1)), int(match.group(2))
    rankings.quarter_bounds(year, quarter)
    return year, quarter


def _this_month() -> str:
    return timezone.localdate().strftime("%Y-%m")


def _this_quarter() -> str:
    today = timezone.localdate()
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


# ---- rankings -----------------------------------------------------------------------------------


class RankingForm(forms.Form):
    scope = forms.ChoiceField(
        label=gettext_lazy("Rank"), choices=SCOPES, required=False,
        error_messages={"invalid_choice": gettext_lazy("Choose one round, a month or a quarter.")},
    )
    # Any whole number parses; whether the user may see that round is the view's question
    # (a hidden round answers 404, like a missing one).
    round = forms.IntegerField(
        label=gettext_lazy("Round"), required=False, min_value=1, widget=forms.Select(),
        error_messages={"invalid": gettext_lazy("Choose a published round from the list.")},
    )
    month = forms.CharField(
        label=gettext_lazy("Month"), required=False, max_length=20,
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "2026-11"}),
    )
    quarter = forms.CharField(
        label=gettext_lazy("Quarter"), required=False, max_length=20,
        widget=forms.TextInput(attrs={"placeholder": "2026-Q4", "pattern": r"\d{4}-?[Qq][1-4]"}),
    )
    level = forms.ChoiceField(
        label=gettext_lazy("Level"), required=False,
        choices=[
            ("community", gettext_lazy("Communities")),
            ("street", gettext_lazy("Street offices")),
            ("district", gettext_lazy("Districts")),
            ("unit", gettext_lazy("Responsible units")),
        ],
        error_messages={"invalid_choice": gettext_lazy("Choose communities, street offices, districts or units.")},
    )

    def __init__(self, *args: Any, rounds: list[Round], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["round"].widget.choices = [("", _("The latest"))] + [(r.pk, _round_label(r)) for r in rounds]

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        scope = data.get("scope") or ""
        if not scope:
            scope = "quarter" if data.get("quarter") and not data.get("round") else (
                "month" if data.get("month") and not data.get("round") else "round"
            )
        data["scope"] = scope
        data["level"] = data.get("level") or "community"
        try:
            if scope == "month":
                data["month_value"] = parse_month(data.get("month") or _this_month())
            elif scope == "quarter":
                data["quarter_value"] = parse_quarter(data.get("quarter") or _this_quarter())
        except ValidationFailed as exc:
            _add_error(self, exc, exc.field or "")
        return data


def _round_label(rnd: Round) -> str:
    return f"{rnd.name} ({rnd.period_start:%Y-%m-%d} – {rnd.period_end:%Y-%m-%d})"


def published_rounds(user: Any) -> list[Round]:
    """The published rounds the user may see, newest first (the form's choices)."""
    return list(
        policy.visible_rounds(user).filter(status=RoundStatus.PUBLISHED)
        .order_by("-period_end", "-pk")[:MAX_ROUND_CHOICES]
    )


def plain(number: Decimal) -> str:
    """90.00 → "90", 87.50 → "87.5"."""
    return format(number.normalize(), "f")


def band_legend(bands: list[tuple[str, Decimal]]) -> list[tuple[str, str]]:
    """[(grade, "90 and above" / "75 to below 90" / "below 60")] for the legend."""
    legend = []
    for i, (grade, low) in enumerate(bands):
        if i == 0:
            text = _("%(low)s and above") % {"low": plain(low)}
        elif low == 0:
            text = _("below %(high)s") % {"high": plain(bands[i - 1][1])}
        else:
            text = _("%(low)s to below %(high)s") % {"low": plain(low), "high": plain(bands[i - 1][1])}
        legend.append((grade, text))
    return legend


def _weights_text(rnd: Round) -> list[tuple[str, str]]:
    return [(str(LocationType(t).label), plain(w)) for t, w in rankings.type_weights_for(rnd).items()]


def _resolve(request: HttpRequest) -> tuple[RankingForm, dict[str, Any], int]:
    """Parse the ranking query and compute it: (form, context, HTTP status)."""
    user = request.user
    rounds = published_rounds(user)
    form = RankingForm(request.GET or None, rounds=rounds)
    context: dict[str, Any] = {"form": form, "rows": None, "level": "community"}
    if form.is_bound and not form.is_valid():
        return form, context, 400
    data: dict[str, Any] = form.cleaned_data if form.is_bound else {"scope": "round", "round": None, "level": "community"}
    level: str = data["level"]
    context["level"] = level
    context["level_label"] = rankings.level_label(level)
    try:
        if data["scope"] == "round":
            rnd = _chosen_round(user, data.get("round"), rounds)
            if rnd is None:
                context["empty"] = _("No inspection round has been published that you may see yet.")
                return form, context, 200
            rows = rankings.round_ranking(rnd, level)
            bands = rankings.bands_for(rnd)
            context.update(
                round=rnd,
                heading=rnd.name,
                period=(rnd.period_start, rnd.period_end),
                weights=_weights_text(rnd),
                rounds_used=[rnd],
            )
        else:
            if data["scope"] == "month":
                start, end = rankings.month_bounds(*data["month_value"])
            else:
                start, end = rankings.quarter_bounds(*data["quarter_value"])
            # The same scores, ranks and lists for every reader (over every published round
            # of the period); the rows are limited to the groups the reader may know of.
            board = rankings.period_board(user=user, start=start, end=end, level=level)
            rows, red, black, bands = board.rows, board.red, board.black, board.bands
            context.update(period=(start, end), rounds_used=board.visible_rounds, heading="")
            if not board.visible_rounds and not rows:
                context["empty"] = _("No published round of yours ends in this period.")
    except ValidationFailed as exc:
        _add_error(form, exc, exc.field or "")
        context["rows"] = None
        return form, context, 400
    if data["scope"] == "round":
        red, black = rankings.red_black(rows)
    context.update(
        rows=rows,
        red=red,
        black=black,
        bands=band_legend(bands),
        penalty=rankings.recurrence_penalty() if level == "unit" else None,
        chart={
            "title": _("Scores"),
            "labels": [r.name for r in rows],
            "scores": [str(r.score) for r in rows],
            "grades": [r.grade for r in rows],
        },
    )
    return form, context, 200


def _chosen_round(user: Any, round_id: int | None, rounds: list[Round]) -> Round | None:
    if round_id is None:
        return rounds[0] if rounds else None
    try:
        rnd = policy.access_round(user, round_id)
    except NotFoundOrForbidden as exc:
        raise Http404(exc.message) from exc
    if rnd.status != RoundStatus.PUBLISHED:
        raise ValidationFailed(
            _("Rankings are published with their round, and this round is not published yet."), field="round"
        )
    return rnd


@require_GET
@login_required
def rankings_page(request: HttpRequest) -> HttpResponse:
    _require(may_read_rankings(request.user))
    _form, context, status = _resolve(request)
    context["xlsx_url"] = reverse("inspections:rankings_xlsx") + (f"?{request.GET.urlencode()}" if request.GET else "")
    return render(request, "inspections/results/rankings.html", context, status=status)


@require_GET
@login_required
def rankings_xlsx(request: HttpRequest) -> HttpResponseBase:
    _require(may_read_rankings(request.user))
    form, context, status = _resolve(request)
    if status != 200 or context.get("rows") is None:
        context["xlsx_url"] = ""
        return render(request, "inspections/results/rankings.html", context, status=status if status != 200 else 400)
    buffer = _ranking_workbook(context)
    level = context["level"]
    start, end = context["period"]
    name = f"rankings-{level}-{start:%Y%m%d}-{end:%Y%m%d}.xlsx"
    return FileResponse(buffer, as_attachment=True, filename=name, content_type=XLSX)


def _ranking_workbook(context: dict[str, Any]) -> io.BytesIO:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    rows: list[rankings.RankRow] = context["rows"]
    unit = context["level"] == "unit"
    wb = Workbook()
    ws = wb.active
    ws.title = _("Ranking")[:31]
    start, end = context["period"]
    title = context.get("heading") or _("%(start)s to %(end)s") % {"start": start, "end": end}
    ws.append([f"{title} · {context['level_label']}"])
    ws["A1"].font = Font(bold=True, size=13)
    headers = [_("Rank"), _("Name"), _("Score"), _("Grade"), _("Locations"), _("Findings"), _("Recurrences")]
    if unit:
        headers.append(_("Score before recurrences"))
    ws.append(headers)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for r in rows:
        line: list[Any] = [r.rank, r.name, r.score, r.grade, r.locations, r.findings, r.recurrences]
        if unit:
            line.append(r.base_score)
        ws.append(line)
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, Decimal):
                cell.number_format = "0.00"
    ws.column_dimensions["B"].width = 28
    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    return buffer


# ---- one round's results ------------------------------------------------------------------------


@require_GET
@login_required
def round_results(request: HttpRequest, round_id: int) -> HttpResponse:
    user = request.user
    try:
        rnd = policy.access_round(user, round_id)
    except NotFoundOrForbidden as exc:
        raise Http404(exc.message) from exc
    if not policy.round_results_visible(user, rnd):
        raise PermissionDenied(_("The results of this round are shown once it is published."))
    try:
        rows = rankings.location_rows(rnd)
        bands = rankings.bands_for(rnd)
    except ValidationFailed as exc:
        return render(request, "inspections/results/round.html", {"round": rnd, "error": exc.message}, status=400)
    inspected = [r for r in rows if r.inspected]
    context = {
        "round": rnd,
        "rows": rows,
        "bands": band_legend(bands),
        "summary": {
            "sampled": len(rows),
            "inspected": len(inspected),
            "vetoed": sum(1 for r in inspected if r.vetoed),
            "off_site": sum(1 for r in inspected if r.off_site),
            "findings": sum(r.findings for r in rows),
        },
        "undercover": rnd.kind == RoundKind.UNDERCOVER,
        "rankings_url": (
            reverse("inspections:rankings") + f"?scope=round&round={rnd.pk}" if rnd.status == RoundStatus.PUBLISHED else ""
        ),
    }
    return render(request, "inspections/results/round.html", context)


# ---- unit evaluation ----------------------------------------------------------------------------


class EvaluationForm(forms.Form):
    month = forms.CharField(
        label=gettext_lazy("Month"), required=False, max_length=20,
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "2026-11"}),
    )
    start = forms.DateField(label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if self.errors:
            return data
        start, end = data.get("start"), data.get("end")
        if start or end:
            if not (start and end):
                self.add_error("start" if not start else "end", _("Give both the first and the last day of the period."))
                return data
            for name, day in (("start", start), ("end", end)):
                try:
                    rankings.check_year(day.year)
                except ValidationFailed as exc:
                    self.add_error(name, exc.message)
            if self.errors:
                return data
            try:
                rankings.check_period(start, end)
            except ValidationFailed as exc:
                self.add_error("end", exc.message)
                return data
            if (end - start).days >= MAX_PERIOD_DAYS:
                self.add_error("end", _("A period is at most three years long."))
                return data
            data["first"], data["last"] = start, end
            return data
        try:
            year, month = parse_month(data.get("month") or _this_month())
        except ValidationFailed as exc:
            self.add_error("month", exc.message)
            return data
        data["first"], data["last"] = rankings.month_bounds(year, month)
        return data


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=timezone.get_current_timezone())


def rate_text(value: Decimal | None) -> str:
    return "—" if value is None else f"{value} %"


@require_GET
@login_required
def unit_evaluation(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require(may_read_evaluation(user))
    form = EvaluationForm(request.GET or None)
    context: dict[str, Any] = {"form": form, "rows": None, "rates": evaluation.RATES}
    if form.is_bound and not form.is_valid():
        return render(request, "inspections/results/units.html", context, status=400)
    data: dict[str, Any] = form.cleaned_data if form.is_bound else {}
    if not data:
        first, last = rankings.month_bounds(*parse_month(_this_month()))
    else:
        first, last = data["first"], data["last"]
    try:
        weights = evaluation.default_weights()
        rows = evaluation.unit_evaluation(
            policy.visible_cases(user), start=_day_start(first), end=_day_start(last + dt.timedelta(days=1)), weights=weights
        )
        bands = rankings.bands_for(None)
    except ValidationFailed as exc:
        context["error"] = exc.message
        return render(request, "inspections/results/units.html", context, status=400)
    recurrences = rankings.period_recurrences(start=first, end=last)
    labels = dict(evaluation.RATES)
    context.update(
        first=first,
        last=last,
        rows=[
            {
                "e": e,
                "rates": [rate_text(e.rates[key]) for key in evaluation.RATE_KEYS],
                "recurrences": recurrences.get(e.unit_id, 0),
            }
            for e in rows
        ],
        weights=[(labels[key], weights[key]) for key in evaluation.RATE_KEYS],
        bands=band_legend(bands),
    )
    return render(request, "inspections/results/units.html", context)


urlpatterns: list[URLPattern] = [
    path("inspections/rankings/", rankings_page, name="rankings"),
    path("inspections/rankings/ranking.xlsx", rankings_xlsx, name="rankings_xlsx"),
    path("inspections/rounds/<int:round_id>/results/", round_results, name="round_results"),
    path("inspections/units/", unit_evaluation, name="unit_evaluation"),
]
