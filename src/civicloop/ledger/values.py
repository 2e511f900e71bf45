"""Cell values of a ledger: dates in the formats Chinese offices type, numbers, ticket
numbers, and the escaping that keeps exported text from running as a formula.

Parsers raise ``ValueError`` with a message a person can read; the importer puts it
next to the row and column.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

EXCEL_EPOCH = dt.datetime(1899, 12, 30)  # openpyxl's WORKBOOK_EPOCH for 1900-based files
# Serial numbers between these are dates (1954 … 2119); anything else is not a date.
SERIAL_MIN, SERIAL_MAX = 20_000.0, 80_000.0
EARLIEST_YEAR = 1980
# Text starting with these runs as a formula in Excel or LibreOffice (CSV/formula injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TICKET_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_\-]{0,15}$")

_DATE_RE = re.compile(
    r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*T?\s*(?P<H>\d{1,2})\s*[:：时點点]\s*(?P<M>\d{1,2})\s*(?:[:：分]\s*(?:(?P<S>\d{1,2})(?:\.\d+)?\s*秒?)?)?)?\s*$"
)
_COMPACT_RE = re.compile(
    r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:\s*(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2})?)?$"
)
_SERIAL_RE = re.compile(r"^\d{5}(?:\.\d+)?$")


def text(value: Any) -> str:
    """A cell as text: numbers without a spurious ``.0``, our export's escape removed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    out = str(value).strip()
    # Our export writes '=… for text that would run as a formula; read it back as it was.
    if len(out) > 1 and out[0] == "'" and out[1] in FORMULA_STARTS:
        out = out[1:]
    return out


def safe_text(value: str) -> str:
    """Text for a spreadsheet cell that never runs as a formula."""
    if value and value[0] in FORMULA_STARTS:
        return "'" + value
    return value


def _aware(naive: dt.datetime) -> dt.datetime:
    return timezone.make_aware(naive, timezone.get_default_timezone())


def from_serial(number: float, epoch: dt.datetime = EXCEL_EPOCH) -> dt.datetime:
    if not (math.isfinite(number) and SERIAL_MIN <= number <= SERIAL_MAX):
        raise ValueError(_("“%(value)s” is not a date.") % {"value": number})
    return epoch + dt.timedelta(days=number)


def _whole_seconds(value: dt.datetime) -> dt.datetime:
    """Excel stores times as fractions of a day: 09:30 may come back as 09:29:59.999999."""
    return (value + dt.timedelta(microseconds=500_000)).replace(microsecond=0)


def parse_datetime(value: Any, *, epoch: dt.datetime = EXCEL_EPOCH) -> dt.datetime | None:
    """An aware datetime from a cell, ``None`` for an empty cell.

    Accepted: spreadsheet dates, Excel serial numbers (46082.5), ISO 8601 (with or without
    a zone), 2026-03-01 09:30, 2026/3/1 9:30, 2026.3.1, 2026年3月1日 9时30分, 20260301.
    Times without a zone are local (settings.TIME_ZONE); a date alone is midnight.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        parsed = _whole_seconds(value)
    elif isinstance(value, dt.date):
        parsed = dt.datetime.combine(value, dt.time.min)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        parsed = _whole_seconds(from_serial(float(value), epoch))
    else:
        parsed = _parse_text(text(value), epoch)
    if parsed.year < EARLIEST_YEAR:
        raise ValueError(
            _("“%(value)s” is too early to be a case's date.") % {"value": text(value)}
        )
    return parsed if timezone.is_aware(parsed) else _aware(parsed)


def _parse_text(raw: str, epoch: dt.datetime) -> dt.datetime:
    if _SERIAL_RE.match(raw):
        return _whole_seconds(from_serial(float(raw), epoch))
    match = _DATE_RE.match(raw) or _COMPACT_RE.match(raw)
    if match:
        parts = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
        try:
            return dt.datetime(
                parts["y"], parts["m"], parts["d"], parts["H"], parts["M"], parts["S"]
            )
        except ValueError:
            raise ValueError(_("“%(value)s” is not a valid date.") % {"value": raw}) from None
    try:
        return _whole_seconds(dt.datetime.fromisoformat(raw))
    except ValueError:
        pass
    raise ValueError(
        _("“%(value)s” is not a date. Write it like 2026-03-01 09:30, 2026/3/1 or 2026年3月1日.")
        % {"value": raw}
    )


def parse_float(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(_("“%(value)s” is not a number.") % {"value": value})
    try:
        number = (
            float(value)
            if isinstance(value, int | float)
            else float(text(value).replace("，", "."))
        )
    except ValueError:
        raise ValueError(_("“%(value)s” is not a number.") % {"value": text(value)}) from None
    if not math.isfinite(number):
        raise ValueError(_("“%(value)s” is not a number.") % {"value": text(value)})
    return number


def parse_count(value: Any, *, maximum: int = 999) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    number = parse_float(value)
    if number is None or not number.is_integer() or not 0 <= number <= maximum:
        raise ValueError(
            _("“%(value)s” is not a whole number from 0 to %(max)d.")
            % {"value": text(value), "max": maximum}
        )
    return int(number)


def parse_ticket(value: Any) -> str:
    ticket = text(value)
    if not ticket:
        raise ValueError(_("The ticket number is missing."))
    if not TICKET_RE.match(ticket):
        raise ValueError(
            _("“%(value)s” is not a ticket number: at most 16 letters, digits, - or _.")
            % {"value": ticket[:40]}
        )
    return ticket


def local_naive(value: dt.datetime | None) -> dt.datetime | None:
    """For a spreadsheet cell: local wall time, whole seconds, no zone (Excel has none)."""
    if value is None:
        return None
    return timezone.localtime(value).replace(tzinfo=None, microsecond=0)
