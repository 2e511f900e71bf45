"""civicloop's nouns as GeoReport v2 documents.

* A category (GB/T 30428 small class) is a service: ``service_code`` is the category code
  (C0101, E0113 …), the big class is the ``group``, the time limit is the ``service_notice``.
* A case is a service request. Its ``service_request_id`` is a reporter's ticket number
  (``Report.ticket_no``): listed, a case appears once under its own ticket number (its first
  report's); asked for by the ticket of a report that joined it, it answers under that ticket.
  Ticket numbers are what residents and hotlines already quote; case ids are internal.
* ``status`` comes from the workflow's state kinds, never from labels: the open states are
  ``open``; closed, look-back passed/recurred are ``closed``; and so are rejected and voided
  cases, shown (not hidden, so a client can follow what it posted to the end) with the reason
  as ``status_notes`` but without their text and photos, which were never taken up as a
  public problem.
* No GET ever carries a reporter's name, phone, e-mail or account; phone numbers and e-mail
  addresses typed into a description are masked too.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from civicloop.cases.models import Case, CaseEvent, Category, EventKind, Photo, State, TimeLimitKind
from civicloop.cases.selectors import PUBLIC_EVENTS, PUBLIC_NOTES
from civicloop.cases.workflow import DISCARDED_STATES, OPEN_STATES

from .attributes import LIST_TYPES, Attribute, attributes_for, in_language

OPEN = "open"
CLOSED = "closed"
STATUSES = (OPEN, CLOSED)
# Public steps that say something about the state; a rating or another reporter does not.
STATUS_EVENTS = frozenset(PUBLIC_EVENTS) - {EventKind.RATED, EventKind.REPORTER_JOINED}

TIME_LIMIT_NOTICES = {
    TimeLimitKind.EMERGENCY_HOURS: gettext_lazy(
        "To be handled within %(value)d hours of dispatch, round the clock."
    ),
    TimeLimitKind.WORKING_HOURS: gettext_lazy(
        "To be handled within %(value)d working hours of dispatch."
    ),
    TimeLimitKind.WORKING_DAYS: gettext_lazy(
        "To be handled within %(value)d working days of dispatch."
    ),
    TimeLimitKind.CALENDAR_DAYS: gettext_lazy(
        "To be handled within %(value)d calendar days of dispatch."
    ),
}


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 with the offset of the site's time zone, e.g. 2026-11-23T10:30:00+08:00."""
    return timezone.localtime(value).isoformat(timespec="seconds") if value is not None else None


def status_of(state: str) -> str:
    return OPEN if state in OPEN_STATES else CLOSED


def states_for(status: str) -> list[str]:
    """The workflow states behind ``open`` or ``closed`` (closed includes rejected and voided)."""
    return sorted(OPEN_STATES) if status == OPEN else sorted(set(State.values) - OPEN_STATES)


def service_name(category: Category) -> str:
    """Category names are data: the English name when the caller reads English and one exists."""
    english = (get_language() or "").startswith("en")
    return category.name_en if (english and category.name_en) else category.name


def time_limit_notice(category: Category) -> str:
    template = (
        TIME_LIMIT_NOTICES.get(TimeLimitKind(category.time_limit_kind))
        if category.time_limit_kind in TimeLimitKind.values
        else None
    )
    return str(template) % {"value": category.time_limit_value} if template else ""


def service_doc(category: Category) -> dict[str, Any]:
    family = category.get_family_display()
    keywords = [category.name, category.name_en, category.big_name, family, category.code]
    return {
        "service_code": category.code,
        "service_name": service_name(category),
        "description": _("%(family)s · %(group)s · %(name)s (GB/T 30428 %(code)s). %(notice)s")
        % {
            "family": family,
            "group": category.big_name,
            "name": service_name(category),
            "code": category.code,
            "notice": time_limit_notice(category),
        },
        "metadata": bool(attributes_for(category)),
        # Published at once with a ticket number; only a report held for moderation answers a token.
        "type": "realtime",
        "keywords": ", ".join(k for k in keywords if k),
        "group": f"{family} · {category.big_name}",
    }


def attribute_doc(attribute: Attribute, order: int) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "variable": attribute.variable,
        "code": attribute.code,
        "datatype": attribute.datatype,
        "required": attribute.required,
        "datatype_description": in_language(attribute.datatype_description) or None,
        "order": order,
        "description": in_language(attribute.description),
    }
    if attribute.datatype in LIST_TYPES:
        doc["values"] = [{"key": key, "name": in_language(name)} for key, name in attribute.values]
    return doc


def service_definition_doc(category: Category) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "attributes": [
            attribute_doc(a, i) for i, a in enumerate(attributes_for(category), start=1)
        ],
    }


# ---- service requests ---------------------------------------------------------------------

_PHONE = re.compile(
    r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d){8}(?!\d)|(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
MASK = "***"


def masked(text: str) -> str:
    """The description without phone numbers or e-mail addresses a reporter typed into it."""
    return _PHONE.sub(MASK, _EMAIL.sub(MASK, text or ""))


@dataclass
class RequestRow:
    """What one request document is made of; loaded by ``selectors``."""

    service_request_id: str
    case: Case
    description: str
    requested_at: dt.datetime
    updated_at: dt.datetime | None
    status_event: CaseEvent | None
    photo: Photo | None


def status_notes(event: CaseEvent | None) -> str | None:
    if event is None:
        return None
    text = str(PUBLIC_EVENTS[EventKind(event.kind)])
    if event.kind in PUBLIC_NOTES and event.note.strip():
        return _("%(step)s %(note)s") % {"step": text, "note": masked(event.note.strip())}
    return text


def request_doc(row: RequestRow, *, absolute: Any) -> dict[str, Any]:
    """``absolute`` turns a site path into an absolute URL (``request.build_absolute_uri``)."""
    case = row.case
    discarded = case.state in DISCARDED_STATES
    category = case.category
    return {
        "service_request_id": row.service_request_id,
        "status": status_of(case.state),
        "status_notes": status_notes(row.status_event),
        "service_name": service_name(category),
        "service_code": category.code,
        "description": None if discarded else masked(row.description),
        "agency_responsible": case.unit.name if case.unit is not None else None,
        "service_notice": None if discarded else time_limit_notice(category),
        "requested_datetime": iso(row.requested_at),
        "updated_datetime": iso(row.updated_at or row.requested_at),
        "expected_datetime": iso(case.deadline_at),
        "address": case.address or case.grid.name,
        # The GB/T 30428.1 unit grid code: the geocode every case carries (POST accepts it too).
        "address_id": case.grid.code,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lon,
        "media_url": absolute(row.photo.image.url)
        if (row.photo is not None and not discarded)
        else None,
    }
