"""Reading a spreadsheet (XLSX or CSV, recognised by content) into numbered rows.

Shared by the standard import (``excel.py``) and the import of submitted answers
(``submissions.py``). Everything that makes the file as a whole unusable raises
``TableFileError``; what is wrong with single rows is the caller's business.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _

from civicloop.core.errors import ErrorCode, ValidationFailed

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
MAX_UNPACKED_RATIO = 40
XLSX_MAGIC = b"PK\x03\x04"


class TableFileError(ValidationFailed):
    code = ErrorCode.BAD_FILE


def _trim(cells: list[Any]) -> list[Any]:
    while cells and (cells[-1] is None or (isinstance(cells[-1], str) and not cells[-1].strip())):
        cells.pop()
    return cells


def _xlsx_sheets(data: bytes) -> Iterator[tuple[str, Iterator[tuple[int, list[Any]]]]]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        raise TableFileError(
            _("The file is damaged: it looks like an Excel file but cannot be opened.")
        ) from None
    if "xl/workbook.xml" not in names:
        raise TableFileError(_("This is a zip archive, not an Excel workbook (.xlsx)."))
    if unpacked > MAX_UNPACKED_RATIO * max(len(data), 1024 * 1024):
        raise TableFileError(
            _("The workbook unpacks to more than we accept; save it again in Excel or split it.")
        )
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for broken files
        raise TableFileError(
            _("The file is damaged: it looks like an Excel file but cannot be opened.")
        ) from None
    for sheet in book.worksheets:
        yield (
            sheet.title,
            (
                (number, _trim(list(row)))
                for number, row in enumerate(sheet.iter_rows(values_only=True), start=1)
            ),
        )


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:8192]:
        raise TableFileError(
            _("This is not a spreadsheet: upload an Excel file (.xlsx) or a CSV file.")
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise TableFileError(
            _("The file's text encoding is not UTF-8 or GB18030; save it as CSV UTF-8 or as .xlsx.")
        ) from None


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    text = _decode(data)
    head = text.split("\n", 5)[:5]
    counts = {d: sum(line.count(d) for line in head) for d in (",", "\t", ";")}
    delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
        yield number, _trim(list(row))


def table_sheets(data: bytes) -> Iterator[tuple[str, Iterator[tuple[int, list[Any]]]]]:
    """Each sheet's name and its (row number, cells) rows; a CSV file is one sheet."""
    if not data:
        raise TableFileError(_("The file is empty."))
    if len(data) > MAX_BYTES:
        raise TableFileError(
            _("The file is larger than %(max)d MB.") % {"max": MAX_BYTES // (1024 * 1024)},
            code=ErrorCode.FILE_TOO_LARGE,
        )
    if data.startswith(XLSX_MAGIC):
        yield from _xlsx_sheets(data)
    else:
        yield "csv", _csv_rows(data)


def is_blank(cells: list[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def take_rows(rows: Iterator[tuple[int, list[Any]]]) -> list[tuple[int, list[Any]]]:
    """The non-blank rows left in ``rows``, refusing a file with more than ``MAX_ROWS``."""
    taken: list[tuple[int, list[Any]]] = []
    for number, cells in rows:
        if is_blank(cells):
            continue
        if len(taken) >= MAX_ROWS:
            raise TableFileError(
                _("The file has more than %(max)d rows.") % {"max": MAX_ROWS},
                code=ErrorCode.FILE_TOO_LARGE,
            )
        taken.append((number, cells))
    return taken


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())
