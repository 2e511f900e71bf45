"""Housekeeping for moderation, run by the worker (settings ``PERIODIC_JOBS``)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from . import checks
from .models import SubmissionPrint


def prints_prune(*, now: dt.datetime | None = None) -> int:
    """Forget submission fingerprints older than twice the repeat window; returns how many went."""
    hours = int(checks.config()["REPEAT_WINDOW_HOURS"])
    cutoff = (now or timezone.now()) - dt.timedelta(hours=2 * hours)
    deleted, _ = SubmissionPrint.objects.filter(submitted_at__lt=cutoff).delete()
    return deleted
