"""Ledgers as offices send them: XLSX and CSV bytes built from rows of header → value."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook, load_workbook

HEADERS = [
    "工单编号",
    "问题来源",
    "问题分类",
    "所属街道",
    "所属社区",
    "问题描述",
    "上报时间",
    "立案时间",
    "派遣时间",
    "处置单位",
    "办结时间",
    "结案时间",
    "状态",
    "返工次数",
    "满意度",
]


def good_row(ticket: str = "LG-0001", **changes: Any) -> dict[str, Any]:
    """A closed case of 幸福社区 (东关街道, district A: the dispatcher's area)."""
    row = {
        "工单编号": ticket,
        "问题来源": "12345热线",
        "问题分类": "暴露垃圾",
        "所属街道": "东关街道",
        "所属社区": "幸福社区",
        "问题描述": "小区门口垃圾堆放",
        "上报时间": "2026-03-02 09:30",
        "立案时间": "2026-03-02 09:40",
        "派遣时间": "2026-03-02 10:00",
        "处置单位": "市环境卫生管理处",
        "办结时间": "2026-03-02 13:00",
        "结案时间": "2026-03-02 15:00",
        "状态": "已结案",
        "返工次数": 0,
        "满意度": "满意",
    }
    row.update(changes)
    return row


def _table(
    rows: list[dict[str, Any]], headers: list[str] | None
) -> tuple[list[str], list[list[Any]]]:
    heads = headers or list(dict.fromkeys(h for r in rows for h in r)) or HEADERS
    return heads, [[r.get(h) for h in heads] for r in rows]


def xlsx(
    rows: list[dict[str, Any]], headers: list[str] | None = None, *, title_row: str | None = None
) -> bytes:
    wb = Workbook()
    ws = wb.active
    if title_row:
        ws.append([title_row])
    heads, body = _table(rows, headers)
    ws.append(heads)
    for cells in body:
        ws.append(cells)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def csv_bytes(
    rows: list[dict[str, Any]],
    headers: list[str] | None = None,
    *,
    encoding: str = "utf-8-sig",
    delimiter: str = ",",
) -> bytes:
    heads, body = _table(rows, headers)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(heads)
    for cells in body:
        writer.writerow(["" if c is None else c for c in cells])
    return out.getvalue().encode(encoding)


def read_xlsx(data: bytes, sheet: int = 0) -> list[tuple[Any, ...]]:
    wb = load_workbook(io.BytesIO(data))
    return [tuple(r) for r in wb.worksheets[sheet].iter_rows(values_only=True)]


def empty_the_city() -> None:
    """Remove every case (tests of import into an empty city); events go without their save()."""
    from civicloop.cases.models import Case, CaseEvent, ExtensionRequest, Photo, Report

    Photo.objects.all().delete()
    CaseEvent.objects.all().delete()
    ExtensionRequest.objects.all().delete()
    Report.objects.all().delete()
    Case.objects.update(recurrence_of=None)
    Case.objects.all().delete()
