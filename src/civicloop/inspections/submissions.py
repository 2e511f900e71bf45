"""Answers submitted with the XLSForm (``xlsform.py``), re-scored on the server.

A submission is read from the answers only — occurrences, veto answers and the items
marked "does not apply" — and scored with ``scoring.py`` against the standard version it
names. The form's own ``score`` (computed on the phone) is compared and reported, never
used. Column names are accepted as the tools export them: plain (``s1_i2_n``), with group
paths (Kobo: ``s1/s1_i2_n``; ODK Central: ``s1-s1_i2_n``); Kobo's extra 0/1 columns per
choice of a select_multiple (``s1/s1_na/i2``) are ignored. Values may be the choice names
(``yes``) or the labels (是/否).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from civicloop.core.errors import ValidationFailed

from .models import Standard
from .scoring import ItemResult, LocationScore, rules_for, score_location
from .tables import cell_text, table_sheets, take_rows
from .xlsform import FormItem, form_items

YES = {"yes", "y", "1", "true", "是", "有"}
NO = {"no", "n", "0", "false", "否", "无"}
ID_FIELDS = ("instanceID", "_uuid", "KEY", "_id", "uuid")
MAX_OCCURRENCES = 999


@dataclass(frozen=True)
class SubmissionResult:
    standard_ref: str
    location_code: str
    location_name: str
    submission_id: str
    results: dict[str, ItemResult]
    score: LocationScore
    form_score: Decimal | None  # what the phone computed; never trusted
    form_score_differs: bool


class SubmissionError(ValidationFailed):
    """Every problem of one submission's answers."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass
class SubmissionRow:
    row: int
    result: SubmissionResult | None = None
    problems: list[str] = field(default_factory=list)


def _normalise(answers: Mapping[str, Any], multi: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for header, value in answers.items():
        parts = re.split(r"[/\-:.]", str(header or "").strip())
        if len(parts) >= 2 and parts[-2] in multi:
            continue  # Kobo's per-choice columns of a select_multiple
        out.setdefault(parts[-1], value)
    return out


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def submission_rescore(standard_version: Standard, answers: Mapping[str, Any]) -> SubmissionResult:
    """Score one submission's answers against ``standard_version``; the form's score is ignored."""
    items = form_items(standard_version)
    sections = {i.section for i in items}
    values = _normalise(answers, {f"{s}_na" for s in sections})
    problems: list[str] = []

    ref = cell_text(values.get("standard_ref"))
    if ref and ref != standard_version.reference:
        raise SubmissionError(
            [
                _(
                    "These answers were collected with the form of %(form)s, not %(standard)s: score them against that version."
                )
                % {"form": ref, "standard": standard_version.reference}
            ]
        )
    not_applicable: dict[str, set[str]] = {}
    for section in sorted(sections):
        raw = cell_text(values.get(f"{section}_na"))
        choices = set(raw.replace(",", " ").split())
        known = {i.choice for i in items if i.section == section}
        unknown = sorted(choices - known)
        if unknown:
            problems.append(
                _("%(field)s: unknown items %(items)s.")
                % {"field": f"{section}_na", "items": ", ".join(unknown)}
            )
        not_applicable[section] = choices & known

    results: dict[str, ItemResult] = {}
    for item in items:
        na = item.choice in not_applicable[item.section]
        if na:
            results[item.key] = ItemResult(not_applicable=True)
            continue
        try:
            results[item.key] = _item_result(item, values)
        except ValueError as error:
            problems.append(str(error))
    if problems:
        raise SubmissionError(problems)

    score = score_location(rules_for(standard_version), results)
    form_score = _decimal(values.get("score"))
    differs = form_score is not None and (score.score is None or form_score != score.score)
    if form_score is None and not _blank(values.get("score")):
        differs = True
    return SubmissionResult(
        standard_ref=standard_version.reference,
        location_code=cell_text(values.get("location_code")),
        location_name=cell_text(values.get("location_name")),
        submission_id=next(
            (cell_text(values[f]) for f in ID_FIELDS if not _blank(values.get(f))), ""
        ),
        results=results,
        score=score,
        form_score=form_score,
        form_score_differs=differs,
    )


def _item_result(item: FormItem, values: Mapping[str, Any]) -> ItemResult:
    if item.veto:
        if item.veto not in values:
            raise ValueError(_("%(field)s: the answers lack this question.") % {"field": item.veto})
        raw = cell_text(values[item.veto]).lower()
        if raw in YES:
            return ItemResult(veto_hit=True)
        if raw in NO:
            return ItemResult()
        raise ValueError(
            _("%(field)s: “%(value)s” is not yes or no.") % {"field": item.veto, "value": raw}
            if raw
            else _("%(field)s: no answer.") % {"field": item.veto}
        )
    assert item.occurrences is not None
    if item.occurrences not in values:
        raise ValueError(
            _("%(field)s: the answers lack this question.") % {"field": item.occurrences}
        )
    raw = values[item.occurrences]
    if _blank(raw):
        raise ValueError(_("%(field)s: no answer.") % {"field": item.occurrences})
    number = _decimal(raw)
    if number is None or number != number.to_integral_value() or not 0 <= number <= MAX_OCCURRENCES:
        raise ValueError(
            _("%(field)s: “%(value)s” is not a whole number from 0 to %(max)d.")
            % {"field": item.occurrences, "value": cell_text(raw), "max": MAX_OCCURRENCES}
        )
    return ItemResult(occurrences=int(number))


def _decimal(value: Any) -> Decimal | None:
    if _blank(value) or isinstance(value, bool):
        return None
    try:
        number = Decimal(cell_text(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def submissions_rescore_file(standard_version: Standard, data: bytes) -> list[SubmissionRow]:
    """Every submission of a CSV/XLSX export (Kobo, ODK Central), re-scored, with its problems."""
    out: list[SubmissionRow] = []
    for _title, rows in table_sheets(data):
        taken = take_rows(rows)
        if not taken:
            continue
        _header_row, headers = taken[0]
        for number, cells in taken[1:]:
            answers = {
                str(h): cells[i] if i < len(cells) else None for i, h in enumerate(headers) if h
            }
            try:
                out.append(
                    SubmissionRow(row=number, result=submission_rescore(standard_version, answers))
                )
            except SubmissionError as error:
                out.append(SubmissionRow(row=number, problems=error.problems))
        break  # the first sheet holds the main submissions; others are repeat groups
    return out
