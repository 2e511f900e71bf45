"""Human ticket numbers: ``YYYYMMDD-NNNNNN``, unique, gap-free per day within a transaction."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import TicketCounter


def ticket_next(*, at: dt.datetime | None = None) -> str:
    local_day = timezone.localtime(at or timezone.now()).date()
    with transaction.atomic():
        TicketCounter.objects.get_or_create(day=local_day)
        # A conditional UPDATE serialises concurrent writers on the row.
        TicketCounter.objects.filter(day=local_day).update(last=F("last") + 1)
        last = TicketCounter.objects.get(day=local_day).last
    return f"{local_day:%Y%m%d}-{last:06d}"


def ticket_is_wellformed(value: str) -> bool:
    if len(value) != 15 or value[8] != "-":
        return False
    day, seq = value[:8], value[9:]
    if not (day.isdigit() and seq.isdigit()):
        return False
    try:
        dt.datetime.strptime(day, "%Y%m%d")
    except ValueError:
        return False
    return True
