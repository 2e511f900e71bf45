"""Reading Open311 parameters: every value is checked here before it reaches a query or an
action, so odd input ends as a 400 with a readable description, never as a server error.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from django.utils.translation import gettext as _

from civicloop.core.errors import ValidationFailed

from .render import INVALID_XML_CHARS

# Identifiers clients send back to us: ticket numbers, service codes, held-report tokens.
IDENTIFIER = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Dates far outside these years are typing errors, and 90 days around them would overflow.
MIN_YEAR, MAX_YEAR = 1900, 2999


def text(value: str | None, *, name: str, max_length: int) -> str:
    """A trimmed text parameter without characters XML (and PostgreSQL) cannot store."""
    value = (value or "").strip()
    if INVALID_XML_CHARS.search(value):
        raise ValidationFailed(
            _("“%(name)s” contains characters that are not allowed.") % {"name": name}, field=name
        )
    if len(value) > max_length:
        raise ValidationFailed(
            _("“%(name)s” is too long: at most %(max)d characters, %(count)d given.")
            % {"name": name, "max": max_length, "count": len(value)},
            field=name,
        )
    return value


def identifier_list(value: str | None, *, name: str, max_items: int) -> list[str]:
    """A comma-delimited list of identifiers, in order, without repeats."""
    raw = text(value, name=name, max_length=max_items * 65)
    items: list[str] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        if not IDENTIFIER.match(part):
            raise ValidationFailed(
                _("“%(value)s” is not a valid %(name)s.") % {"value": part, "name": name},
                field=name,
            )
        if part not in items:
            items.append(part)
    if len(items) > max_items:
        raise ValidationFailed(
            _("At most %(max)d values of %(name)s at once.") % {"max": max_items, "name": name},
            field=name,
        )
    return items


def iso_datetime(value: str, *, name: str) -> dt.datetime:
    """ISO 8601 with a time zone (``Z`` or ``±HH:MM``), as the specification requires."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            _(
                "“%(name)s” must be an ISO 8601 date and time with a time zone, e.g. 2026-11-23T08:00:00+08:00."
            )
            % {"name": name},
            field=name,
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValidationFailed(
            _("“%(name)s” needs a time zone (Z or an offset such as +08:00).") % {"name": name},
            field=name,
        )
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValidationFailed(
            _("“%(name)s” must lie between the years %(min)d and %(max)d.")
            % {"name": name, "min": MIN_YEAR, "max": MAX_YEAR},
            field=name,
        )
    return parsed.astimezone(dt.UTC)


def number(value: str, *, name: str) -> float:
    try:
        parsed = float(value)
    except ValueError:
        raise ValidationFailed(
            _("“%(name)s” must be a number.") % {"name": name}, field=name
        ) from None
    if not math.isfinite(parsed):
        raise ValidationFailed(
            _("“%(name)s” must be a finite number.") % {"name": name}, field=name
        )
    return parsed


def positive_int(value: str | None, *, name: str, default: int, maximum: int) -> int:
    raw = (value or "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or not 1 <= int(raw) <= maximum:
        raise ValidationFailed(
            _("“%(name)s” must be a whole number from 1 to %(max)d.")
            % {"name": name, "max": maximum},
            field=name,
        )
    return int(raw)
