"""Writing ledgers: cases to rows under the column table's headers, the empty template
and the error report of an import. XLSX through openpyxl's write-only mode, so a large
export streams to disk in constant memory.

Text cells that would run as a formula (starting with = + - @) are written with a
leading apostrophe; the importer removes it again, so a round trip keeps the text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import IO, Any

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill

from civicloop.cases.models import Case, CaseEvent, Category, EventKind, Rating, Source, State
from civicloop.cases.selectors import is_overdue
from civicloop.cases.workflow import CLOCK_RUNNING, CLOSED_STATES
from civicloop.places.models import Area, AreaKind

from . import columns as C
from .columns import COLUMNS
from .reading import Sheet
from .values import local_naive, safe_text

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
WIDTHS = {"ticket": 17, "description": 40, "address": 24, "unit": 20, "category": 14, "state": 14}
HEADER_FONT = Font(bold=True)
ERROR_FILL = PatternFill("solid", fgColor="FDE2E1")
DATETIME_KEYS = {
    "reported_at",
    "registered_at",
    "dispatched_at",
    "deadline_at",
    "handled_at",
    "closed_at",
}


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def _cell(
    ws: Any, value: Any, *, key: str = "", bold: bool = False, fill: PatternFill | None = None
) -> Any:
    if isinstance(value, str):
        value = safe_text(value)
    dated = isinstance(value, dt.datetime) and key in DATETIME_KEYS
    if not (bold or fill is not None or dated):
        return value  # a plain value: no cell object, much faster for large exports
    cell = WriteOnlyCell(ws, value=value)
    if bold:
        cell.font = HEADER_FONT
    if fill is not None:
        cell.fill = fill
    if dated:
        cell.number_format = DATETIME_FORMAT
    return cell


def _sheet(wb: Workbook, title: str, keys: list[str]) -> Any:
    ws = wb.create_sheet(title=title)
    for i, key in enumerate(keys):
        ws.column_dimensions[_letter(i)].width = WIDTHS.get(key, 16 if key in DATETIME_KEYS else 12)
    ws.freeze_panes = "A2"
    return ws


class AreaNames:
    """District, street, community and grid names by area id (one query per export)."""

    def __init__(self) -> None:
        self.rows = {
            a.pk: (a.kind, a.name)
            for a in Area.objects.exclude(kind=AreaKind.CITY).only("kind", "name")
        }

    def of(self, path: str) -> dict[str, str]:
        out = {}
        for pk in (int(x) for x in path.strip("/").split("/") if x):
            kind, name = self.rows.get(pk, ("", ""))
            if kind:
                out[kind] = name
        return out


def _origins(cases: list[Case]) -> dict[int, dict[str, Any]]:
    """For imported cases: the source the ledger gave (their own source is "import")."""
    ids = [c.pk for c in cases if c.source == Source.IMPORT]
    if not ids:
        return {}
    events = CaseEvent.objects.filter(case_id__in=ids, kind=EventKind.IMPORTED).values_list(
        "case_id", "data"
    )
    return {case_id: data for case_id, data in events if isinstance(data, dict)}


def _overdue(case: Case, now: dt.datetime) -> bool | None:
    if case.state in CLOSED_STATES:
        return None if case.closed_on_time is None else not case.closed_on_time
    if case.state in CLOCK_RUNNING:
        return is_overdue(case, now)
    if case.state == State.HANDLED and case.handled_on_time is not None:
        return not case.handled_on_time
    return None


def case_values(
    case: Case,
    *,
    lang: str,
    now: dt.datetime,
    areas: AreaNames,
    origin: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One case as the ledger's columns (keys of ``columns.COLUMNS``)."""
    names = areas.of(case.area_path)
    category: Category = case.category
    if case.source == Source.IMPORT and origin is not None:
        source = (
            C.label(Source, origin["source"], lang)
            if origin.get("source")
            else str(origin.get("source_text") or "")
        )
    else:
        source = C.label(Source, case.source, lang)
    english = C.is_english(lang)
    return {
        "ticket": case.ticket_no,
        "source": source,
        "big_class": category.big_name,
        "category": (category.name_en or category.name) if english else category.name,
        "category_code": category.code,
        "district": names.get(AreaKind.DISTRICT, ""),
        "street": names.get(AreaKind.STREET, ""),
        "community": names.get(AreaKind.COMMUNITY, ""),
        "grid": names.get(AreaKind.GRID, ""),
        "address": case.address,
        "lon": round(case.lon, 7),
        "lat": round(case.lat, 7),
        "description": case.description,
        "reported_at": local_naive(case.reported_at),
        "registered_at": local_naive(case.registered_at),
        "dispatched_at": local_naive(case.dispatched_at),
        "unit": case.unit.name if case.unit_id and case.unit else "",
        "deadline_at": local_naive(case.deadline_at),
        "handled_at": local_naive(case.handled_at),
        "closed_at": local_naive(case.closed_at),
        "state": C.label(State, case.state, lang),
        "overdue": C.yes_no(_overdue(case, now), lang),
        "rework_count": case.rework_count,
        "rating": C.label(Rating, case.rating, lang) if case.rating else "",
    }


def _title(lang: str) -> str:
    return "Ledger" if C.is_english(lang) else "台账"


def write_cases(
    cases: Iterable[Case],
    out: IO[bytes],
    *,
    lang: str,
    now: dt.datetime | None = None,
    chunk: int = 500,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Cases (with category, unit) as an XLSX ledger on ``out``; returns the rows written.

    ``progress(rows_done)`` is called after every ``chunk`` rows and at the end.
    """
    now = now or timezone.now()
    keys = [c.key for c in COLUMNS]
    wb = Workbook(write_only=True)
    ws = _sheet(wb, _title(lang), keys)
    ws.append([_cell(ws, h, bold=True) for h in C.headers(lang)])
    areas = AreaNames()
    done = 0
    batch: list[Case] = []

    def flush() -> None:
        nonlocal done
        origins = _origins(batch)
        for case in batch:
            values = case_values(case, lang=lang, now=now, areas=areas, origin=origins.get(case.pk))
            ws.append([_cell(ws, values[k], key=k) for k in keys])
        done += len(batch)
        batch.clear()
        if progress is not None:
            progress(done)

    for case in cases:
        batch.append(case)
        if len(batch) >= chunk:
            flush()
    flush()
    wb.save(out)
    return done


# ---- the template ---------------------------------------------------------------------------------


def _example(
    lang: str, areas: Iterable[Area], category: Category | None, unit_name: str
) -> dict[str, Any]:
    names = {a.kind: a.name for a in areas}
    english = C.is_english(lang)
    base = dt.datetime(2025, 3, 3, 9, 30)
    return {
        "ticket": "20250303-900001",
        "source": C.label(Source, Source.HOTLINE, lang),
        "big_class": category.big_name if category else "",
        "category": ((category.name_en or category.name) if english else category.name)
        if category
        else "",
        "category_code": category.code if category else "",
        "district": names.get(AreaKind.DISTRICT, ""),
        "street": names.get(AreaKind.STREET, ""),
        "community": names.get(AreaKind.COMMUNITY, ""),
        "grid": "",
        "address": "",
        "lon": None,
        "lat": None,
        "description": "Rubbish piled at the gate of building 3 for three days"
        if english
        else "3号楼门口垃圾堆放三天无人清理",
        "reported_at": base,
        "registered_at": base + dt.timedelta(minutes=20),
        "dispatched_at": base + dt.timedelta(minutes=40),
        "unit": unit_name,
        "deadline_at": None,
        "handled_at": base + dt.timedelta(days=1, hours=2),
        "closed_at": base + dt.timedelta(days=1, hours=5),
        "state": C.label(State, State.CLOSED, lang),
        "overdue": "",
        "rework_count": 0,
        "rating": C.label(Rating, Rating.SATISFIED, lang),
    }


def write_template(
    out: IO[bytes], *, lang: str, community: Area | None, category: Category | None, unit_name: str
) -> None:
    """An empty ledger: the headers, one example row, and a sheet explaining each column."""
    keys = [c.key for c in COLUMNS]
    wb = Workbook(write_only=True)
    ws = _sheet(wb, _title(lang), keys)
    ws.append([_cell(ws, h, bold=True) for h in C.headers(lang)])
    areas = community.ancestors() + [community] if community is not None else []
    example = _example(lang, areas, category, unit_name)
    ws.append([_cell(ws, example[k], key=k) for k in keys])
    with translation.override("en" if C.is_english(lang) else "zh-hans"):
        notes = wb.create_sheet(title=_("Columns"))
        notes.column_dimensions["A"].width = 14
        notes.column_dimensions["B"].width = 16
        notes.column_dimensions["D"].width = 90
        notes.append(
            [
                _cell(notes, _("Header"), bold=True),
                _cell(notes, _("English header"), bold=True),
                _cell(notes, _("Required"), bold=True),
                _cell(notes, _("Meaning"), bold=True),
            ]
        )
        for column in COLUMNS:
            required = column.required or column.key in {"category", "category_code"}
            notes.append([column.zh, column.en, _("yes") if required else "", str(column.note)])
    wb.save(out)


# ---- the error report of an import -------------------------------------------------------------


def write_error_report(sheet: Sheet, errors_by_row: dict[int, list[Any]], out: IO[bytes]) -> None:
    """The uploaded rows as they were, plus 错误原因: fix them in place and upload the file again."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=C.ERROR_HEADER)
    width = max([len(sheet.headers), *(len(cells) for _n, cells in sheet.rows)])
    headers = [*sheet.headers, *([""] * (width - len(sheet.headers)))]
    ws.column_dimensions[_letter(width)].width = 60
    ws.freeze_panes = "A2"
    ws.append([*(_cell(ws, h, bold=True) for h in headers), _cell(ws, C.ERROR_HEADER, bold=True)])
    for number, cells in sheet.rows:
        errors = errors_by_row.get(number, [])
        message = "；".join(f"{e.column}: {e.message}" for e in errors)
        fill = ERROR_FILL if errors else None
        row = [_cell(ws, _plain(v), fill=fill) for v in [*cells, *([None] * (width - len(cells)))]]
        ws.append([*row, _cell(ws, message, fill=fill)])
    wb.save(out)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return local_naive(value)
    return value
