"""A standard version as an XLSForm, so inspectors can collect offline in ODK/KoboCollect.

The form (``xlsform_rows`` builds its sheets, ``xlsform_export`` writes the workbook):

* ``standard_ref`` — a calculate holding ``CODE-vN``, so every submission names the exact
  version it was collected with; ``location_code``, ``location_name``, ``gps``.
* one group per section ``s<k>``, holding
  - ``s<k>_na`` (select_multiple): the section's items that do not apply here;
  - per item ``s<k>_i<j>``: ``…_n`` occurrences (integer ≥ 0, default 0) for per-occurrence
    and fixed items, or ``…_veto`` (yes/no) for veto items (scoring ignores occurrences of
    a veto item, so the form does not ask); ``…_photo1…`` image questions, shown once
    something was found, the first ``photos_required`` of them required;
  - calculates that mirror ``scoring.py`` term by term: ``…_full`` (the item's points, 0
    when not applicable), ``…_hit`` (veto hit), ``…_d`` (deduction); ``s<k>_full``,
    ``s<k>_ded``, ``s<k>_veto``, ``s<k>_score``.
* location calculates ``loc_veto``, ``total_full``, ``total_raw`` and ``score``
  (``round(total_raw * 100 div total_full, 2)``, empty when nothing applies), and a note
  showing the score to the inspector.

The expressions use a small subset of ODK XPath (numbers, strings, ``${…}`` references,
``+ - * div``, ``= >``, ``and or not()``, ``if()``, ``coalesce()``, ``selected()``,
``round(x, 2)``), and every deduction and sum is one expression per ``scoring.py`` term, so
the test suite compiles the form with pyxform and evaluates the compiled binds with an
exact (Decimal) evaluator of that subset against ``scoring.py`` on random answers. On a
phone the numbers are binary floats, so the displayed score can differ in the last cent at
an exact half; that is why submissions are always re-scored on the server
(``submissions.submission_rescore``) and the form's own score is only compared, never kept.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from .excel import rule_text
from .models import DeductionRule, Item, Standard, VetoScope
from .scoring import item_key, section_key

SURVEY_COLUMNS = (
    "type",
    "name",
    "label",
    "hint",
    "required",
    "relevant",
    "constraint",
    "constraint_message",
    "calculation",
    "default",
    "appearance",
    "parameters",
)
# Phones take 12-megapixel photos; evidence needs far less (and offline uploads stay small).
PHOTO_MAX_PIXELS = "max-pixels=1600"
YES_NO = "yes_no"
MAX_CHOICE_LABEL = 80


@dataclass(frozen=True)
class FormItem:
    """Where one item's answers live in the form."""

    key: str
    section: str
    rule: str
    occurrences: str | None  # field name of the occurrences question
    veto: str | None  # field name of the veto question
    choice: str  # its choice name in the section's "not applicable" list


def _num(value: Decimal) -> str:
    value = Decimal(value)
    return str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f")


def _data(text: str) -> str:
    """User-written text for a label: "${…}" would be read as a reference to a field."""
    return " ".join(str(text).split()).replace("${", "$ {")


def _sum(terms: list[str]) -> str:
    return " + ".join(terms) if terms else "0"


def form_items(standard: Standard) -> list[FormItem]:
    items = Item.objects.filter(section__standard=standard).select_related("section")
    out = []
    for item in items.order_by("section__position", "position"):
        key = item_key(item.section.position, item.position)
        veto = item.rule == DeductionRule.VETO
        out.append(
            FormItem(
                key=key,
                section=section_key(item.section.position),
                rule=item.rule,
                occurrences=None if veto else f"{key}_n",
                veto=f"{key}_veto" if veto else None,
                choice=f"i{item.position}",
            )
        )
    return out


def form_id(standard: Standard) -> str:
    return f"civicloop_{standard.code}_v{standard.version}".replace("-", "_")


def xlsform_rows(standard: Standard, *, lang: str = "zh-hans") -> dict[str, list[dict[str, str]]]:
    """The form's sheets (survey, choices, settings) as rows of column → cell."""
    with translation.override(lang):
        return _rows(standard)


def _rows(standard: Standard) -> dict[str, list[dict[str, str]]]:
    survey: list[dict[str, str]] = []
    choices: list[dict[str, str]] = [
        {"list_name": YES_NO, "name": "yes", "label": _("Yes")},
        {"list_name": YES_NO, "name": "no", "label": _("No")},
    ]

    def q(**cells: str) -> None:
        survey.append({k: v for k, v in cells.items() if v != ""})

    q(type="start", name="start")
    q(type="end", name="end")
    q(type="today", name="today")
    q(type="calculate", name="standard_ref", calculation=f"'{standard.reference}'")
    q(
        type="note",
        name="intro",
        label=_("%(name)s, version %(version)s")
        % {"name": _data(standard.name), "version": standard.version},
    )
    q(type="text", name="location_code", label=_("Location code"), required="yes")
    q(type="text", name="location_name", label=_("Location name"))
    q(type="geopoint", name="gps", label=_("Where you are"), required="yes")

    section_fulls, section_scores, location_hits = [], [], []
    sections = standard.sections.order_by("position").prefetch_related("items")
    for section in sections:
        skey = section_key(section.position)
        items = sorted(section.items.all(), key=lambda i: i.position)
        na = f"{skey}_na"
        na_list = f"{skey}_items"
        q(type="begin_group", name=skey, label=_data(section.name))
        q(
            type=f"select_multiple {na_list}",
            name=na,
            label=_("Items that do not apply here"),
            hint=_("Leave empty when every item applies."),
            appearance="minimal",
        )
        item_fulls, item_deductions, section_hits = [], [], []
        for item in items:
            key = item_key(section.position, item.position)
            choice = f"i{item.position}"
            content = _data(item.content)
            label = (
                content
                if len(content) <= MAX_CHOICE_LABEL
                else content[: MAX_CHOICE_LABEL - 1] + "…"
            )
            choices.append({"list_name": na_list, "name": choice, "label": label})
            applies = f"not(selected(${{{na}}}, '{choice}'))"
            full, deduction = _num(item.full_points), _num(item.deduction)
            rule = rule_text(item.rule, item.deduction, item.veto_scope)
            hint = _("Points: %(points)s. %(rule)s") % {"points": full, "rule": rule}
            if item.rule == DeductionRule.VETO:
                found = f"${{{key}_veto}} = 'yes'"
                q(
                    type=f"select_one {YES_NO}",
                    name=f"{key}_veto",
                    label=content,
                    hint=hint + " " + _("Was the veto condition found?"),
                    required="yes",
                    relevant=applies,
                    default="no",
                )
            else:
                found = f"${{{key}_n}} > 0"
                q(
                    type="integer",
                    name=f"{key}_n",
                    label=content,
                    hint=hint + " " + _("How many places were found? 0 if none."),
                    required="yes",
                    relevant=applies,
                    constraint=". >= 0 and . <= 999",
                    constraint_message=_("A whole number from 0 to 999."),
                    default="0",
                )
            for index in range(1, max(1, item.photos_required) + 1):
                q(
                    type="image",
                    name=f"{key}_photo{index}",
                    label=_("Photo %(number)d of the finding") % {"number": index},
                    required="yes" if index <= item.photos_required else "",
                    relevant=f"{applies} and {found}",
                    appearance="new",
                    parameters=PHOTO_MAX_PIXELS,
                )
            q(type="calculate", name=f"{key}_full", calculation=f"if({applies}, {full}, 0)")
            item_fulls.append(f"${{{key}_full}}")
            if item.rule == DeductionRule.VETO:
                q(
                    type="calculate",
                    name=f"{key}_hit",
                    calculation=f"if({applies} and ${{{key}_veto}} = 'yes', 1, 0)",
                )
                calc = f"if(${{{key}_hit}} = 1, {full}, 0)"
                if item.veto_scope == VetoScope.LOCATION:
                    location_hits.append(f"${{{key}_hit}}")
                else:
                    section_hits.append(f"${{{key}_hit}}")
            elif item.rule == DeductionRule.PER_OCCURRENCE:
                times = f"{deduction} * coalesce(${{{key}_n}}, 0)"
                calc = f"if({applies}, if({times} > {full}, {full}, {times}), 0)"
            else:
                calc = f"if({applies} and coalesce(${{{key}_n}}, 0) > 0, {deduction}, 0)"
            q(type="calculate", name=f"{key}_d", calculation=calc)
            item_deductions.append(f"${{{key}_d}}")
        q(type="calculate", name=f"{skey}_full", calculation=_sum(item_fulls))
        q(type="calculate", name=f"{skey}_ded", calculation=_sum(item_deductions))
        q(
            type="calculate",
            name=f"{skey}_veto",
            calculation=f"if({_sum(section_hits)} > 0, 1, 0)",
        )
        q(
            type="calculate",
            name=f"{skey}_score",
            calculation=f"if(${{{skey}_veto}} = 1 or ${{loc_veto}} = 1, 0, ${{{skey}_full}} - ${{{skey}_ded}})",
        )
        q(type="end_group", name="")
        section_fulls.append(f"${{{skey}_full}}")
        section_scores.append(f"${{{skey}_score}}")

    q(type="calculate", name="loc_veto", calculation=f"if({_sum(location_hits)} > 0, 1, 0)")
    q(type="calculate", name="total_full", calculation=_sum(section_fulls))
    q(type="calculate", name="total_raw", calculation=_sum(section_scores))
    q(
        type="calculate",
        name="score",
        calculation="if(${loc_veto} = 1, 0, if(${total_full} > 0, round(${total_raw} * 100 div ${total_full}, 2), ''))",
    )
    q(type="note", name="score_note", label=_("Score of this location: ${score}"))
    settings = [
        {
            "form_title": _data(str(standard)),
            "form_id": form_id(standard),
            "version": str(standard.version),
        }
    ]
    return {"survey": survey, "choices": choices, "settings": settings}


def xlsform_export(standard: Standard, *, lang: str = "zh-hans") -> bytes:
    """The XLSForm workbook (survey, choices, settings) of a standard version."""
    from openpyxl import Workbook

    sheets = xlsform_rows(standard, lang=lang)
    book = Workbook()
    book.remove(book.active)
    columns: dict[str, tuple[str, ...]] = {
        "survey": SURVEY_COLUMNS,
        "choices": ("list_name", "name", "label"),
        "settings": ("form_title", "form_id", "version"),
    }
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        sheet.append(list(columns[title]))
        for row in rows:
            sheet.append([_cell(row.get(column, "")) for column in columns[title]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: Any) -> Any:
    # openpyxl would store a text starting with "=" as a formula; none of ours do, but the
    # labels are user data.
    text = str(value)
    return " " + text if text.startswith("=") else text
