"""Reading a ledger file: XLSX or CSV, recognised by content, never by its name.

CSV: UTF-8 (with or without the BOM Excel writes), UTF-16 with a BOM (Excel's "Unicode
text") or GB18030 — what Chinese Excel saves as "CSV" by default; comma, tab or
semicolon separated. XLSX: the first worksheet whose header row we recognise. The
header row is found among the first rows (ledgers often carry a title line above it).

Everything that makes the file as a whole unusable (empty, not a spreadsheet, too
large, too many rows, wrong headers) raises ``LedgerFileError``; problems of single rows
are the importer's business.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from civicloop.core.errors import ErrorCode, ValidationFailed

from .columns import BY_KEY, COLUMNS, column_for_header
from .limits import limit
from .values import EXCEL_EPOCH

HEADER_SCAN_ROWS = 10
MAX_SHEETS = 10
# An XLSX is a zip: refuse one that unpacks to far more than its size (a zip bomb).
MAX_UNPACKED_RATIO = 40

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 (.xls), old Word …


class LedgerFileError(ValidationFailed):
    code = ErrorCode.BAD_FILE


def max_rows() -> int:
    return limit("LEDGER_IMPORT_MAX_ROWS")


def max_bytes() -> int:
    return limit("LEDGER_IMPORT_MAX_BYTES")


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"


@dataclass
class Sheet:
    """The rows of a ledger under its header row, with where each column is."""

    kind: str  # "xlsx" or "csv"
    encoding: str
    header_row: int  # 1-based, as the spreadsheet numbers rows
    headers: list[str]
    columns: dict[str, int]  # column key → index into a row
    ignored: list[str]  # headers we do not know
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)  # (row number, cells)
    epoch: dt.datetime = EXCEL_EPOCH

    def header_of(self, key: str) -> str:
        """The column's header as the file spells it (its Chinese header if it has none)."""
        index = self.columns.get(key)
        return self.headers[index] if index is not None else BY_KEY[key].zh


def _blank(cells: Iterable[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


@dataclass
class _Header:
    columns: dict[str, int]
    ignored: list[str]
    missing: list[str]
    duplicates: list[tuple[str, str, str]]

    @property
    def score(self) -> int:
        return len(self.columns)


def _read_header(cells: list[Any]) -> _Header:
    columns: dict[str, int] = {}
    ignored: list[str] = []
    duplicates: list[tuple[str, str, str]] = []
    for index, cell in enumerate(cells):
        key = column_for_header(cell)
        if key is None:
            ignored.append(str(cell).strip())
        elif key:
            if key in columns:
                duplicates.append(
                    (BY_KEY[key].zh, str(cells[columns[key]]).strip(), str(cell).strip())
                )
            else:
                columns[key] = index
    missing = [c.zh for c in COLUMNS if c.required and c.key not in columns]
    if "category" not in columns and "category_code" not in columns:
        missing.append(f"{BY_KEY['category'].zh} / {BY_KEY['category_code'].zh}")
    return _Header(columns, ignored, missing, duplicates)


def _collect(
    rows: Iterator[tuple[int, list[Any]]],
    *,
    kind: str,
    encoding: str,
    epoch: dt.datetime = EXCEL_EPOCH,
) -> Sheet | _Header:
    """Find the header row, then take every non-empty row below it (at most ``max_rows``)."""
    best: _Header | None = None
    for number, cells in rows:
        if number > HEADER_SCAN_ROWS:
            break
        if _blank(cells):
            continue
        header = _read_header(cells)
        if not header.missing:
            if header.duplicates:
                what, first, second = header.duplicates[0]
                raise LedgerFileError(
                    _("Two columns both mean “%(column)s”: “%(first)s” and “%(second)s”. Keep one.")
                    % {"column": what, "first": first, "second": second}
                )
            limit = max_rows()
            sheet = Sheet(
                kind=kind,
                encoding=encoding,
                header_row=number,
                headers=[str(c if c is not None else "").strip() for c in cells],
                columns=header.columns,
                ignored=[h for h in header.ignored if h],
                epoch=epoch,
            )
            for row_number, row in rows:
                if _blank(row):
                    continue
                if len(sheet.rows) >= limit:
                    raise LedgerFileError(
                        _(
                            "The file has more than %(max)d rows. Split it into files of at most %(max)d rows."
                        )
                        % {"max": limit},
                        code=ErrorCode.FILE_TOO_LARGE,
                    )
                sheet.rows.append((row_number, list(row)))
            return sheet
        if best is None or header.score > best.score:
            best = header
    return best or _Header({}, [], [c.zh for c in COLUMNS if c.required], [])


def _header_error(header: _Header) -> LedgerFileError:
    message = _("The file's header row lacks these columns: %(missing)s.") % {
        "missing": "、".join(header.missing)
    }
    if header.ignored:
        message += " " + _("Columns not recognised: %(unknown)s.") % {
            "unknown": "、".join(h for h in header.ignored[:10] if h)
        }
    message += " " + _("Download the template to see the expected headers.")
    return LedgerFileError(message)


# ---- XLSX ---------------------------------------------------------------------------------------


def _xlsx_rows(ws: Any) -> Iterator[tuple[int, list[Any]]]:
    for number, row in enumerate(ws.iter_rows(values_only=True), start=1):
        cells = list(row)
        while cells and (cells[-1] is None or cells[-1] == ""):
            cells.pop()
        yield number, cells


def _read_xlsx(data: bytes) -> Sheet:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        raise LedgerFileError(
            _("The file is damaged: it looks like an Excel file but cannot be opened.")
        ) from None
    if "xl/workbook.xml" not in names:
        raise LedgerFileError(_("This is a zip archive, not an Excel workbook (.xlsx)."))
    if unpacked > MAX_UNPACKED_RATIO * max(len(data), 1024 * 1024):
        raise LedgerFileError(
            _("The workbook unpacks to more than we accept; save it again in Excel or split it."),
            code=ErrorCode.FILE_TOO_LARGE,
        )
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged or foreign file
        raise LedgerFileError(
            _("The file is damaged: it looks like an Excel file but cannot be opened.")
        ) from None
    try:
        best: _Header | None = None
        for ws in wb.worksheets[:MAX_SHEETS]:
            if getattr(ws, "iter_rows", None) is None:
                continue  # a chart sheet
            try:
                found = _collect(_xlsx_rows(ws), kind="xlsx", encoding="", epoch=wb.epoch)
            except LedgerFileError:
                raise
            except Exception:
                raise LedgerFileError(
                    _("The file is damaged: it looks like an Excel file but cannot be opened.")
                ) from None
            if isinstance(found, Sheet):
                return found
            if best is None or found.score > best.score:
                best = found
        raise _header_error(best or _Header({}, [], [c.zh for c in COLUMNS if c.required], []))
    finally:
        wb.close()


# ---- CSV ----------------------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    if b"\x00" in data[:8192]:
        raise LedgerFileError(
            _("This is not a spreadsheet: upload an Excel file (.xlsx) or a CSV file.")
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        # What Chinese Windows Excel writes for "CSV (逗号分隔)": GBK, of which GB18030 is the superset.
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise LedgerFileError(
            _("The file's text encoding is not UTF-8 or GB18030; save it as CSV UTF-8 or as .xlsx.")
        ) from None


def _delimiter(text: str) -> str:
    first = text.split("\n", HEADER_SCAN_ROWS)[:HEADER_SCAN_ROWS]
    counts = {d: sum(line.count(d) for line in first) for d in (",", "\t", ";")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _read_csv(data: bytes) -> Sheet:
    try:
        content, encoding = _decode(data)
    except UnicodeDecodeError:
        raise LedgerFileError(
            _("The file's text encoding is not UTF-8 or GB18030; save it as CSV UTF-8 or as .xlsx.")
        ) from None
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=_delimiter(content))

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            for number, row in enumerate(reader, start=1):
                yield number, [cell.strip() for cell in row]
        except csv.Error as exc:
            raise LedgerFileError(
                _("The CSV file cannot be read: %(problem)s.") % {"problem": exc}
            ) from None

    found = _collect(rows(), kind="csv", encoding=encoding)
    if isinstance(found, Sheet):
        return found
    raise _header_error(found)


def read_ledger(data: bytes) -> Sheet:
    """The ledger in ``data``; ``LedgerFileError`` when the file as a whole cannot be used."""
    if not data or not data.strip():
        raise LedgerFileError(_("The file is empty."))
    limit = max_bytes()
    if len(data) > limit:
        raise LedgerFileError(
            _("The file is %(size)s; at most %(max)s is accepted. Split it into smaller files.")
            % {"size": _size(len(data)), "max": _size(limit)},
            code=ErrorCode.FILE_TOO_LARGE,
        )
    if data.startswith(XLSX_MAGIC):
        return _read_xlsx(data)
    if data.startswith(OLE_MAGIC):
        raise LedgerFileError(
            _(
                "This is an old Excel 97-2003 file (.xls). Open it in Excel or WPS and save it as .xlsx."
            )
        )
    return _read_csv(data)
