"""Fixed-window request limits shared by every process: the web report form, the REST API
and Open311 all count here.

    decision = ratelimit.hit("report-ip", ip, limit=20, window_s=3600)
    if not decision.allowed: answer 429 with Retry-After: decision.retry_after

Counters live in the database (``RateCounter``), one row per key and window, raised
with a conditional UPDATE so concurrent workers never lose a count. Old windows are
deleted by ``ratelimit_prune`` (run by the worker's sweep).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .models import RateCounter

KEEP_WINDOWS_FOR = dt.timedelta(days=2)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int
    limit: int
    retry_after: int  # seconds until the current window ends (0 when allowed)


def _window(now: dt.datetime, window_s: int) -> tuple[dt.datetime, dt.datetime]:
    epoch = int(now.timestamp())
    start = epoch - epoch % window_s
    start_at = dt.datetime.fromtimestamp(start, tz=dt.UTC)
    return start_at, start_at + dt.timedelta(seconds=window_s)


def _key(scope: str, key: str) -> str:
    return f"{scope}:{key}"[:200]


def peek(scope: str, key: str, *, limit: int, window_s: int, now: dt.datetime | None = None) -> Decision:
    """Would one more request be allowed? Counts nothing."""
    now = now or timezone.now()
    start, end = _window(now, window_s)
    row = RateCounter.objects.filter(key=_key(scope, key), window_start=start).first()
    count = row.count if row else 0
    allowed = limit <= 0 or count < limit
    return Decision(allowed, count, limit, 0 if allowed else math.ceil((end - now).total_seconds()))


def hit(scope: str, key: str, *, limit: int, window_s: int, now: dt.datetime | None = None) -> Decision:
    """Count one request; refused requests are counted too (a flood stays refused).

    ``limit`` ≤ 0 switches the limit off (nothing is counted).
    """
    now = now or timezone.now()
    if limit <= 0:
        return Decision(True, 0, limit, 0)
    start, end = _window(now, window_s)
    full_key = _key(scope, key)
    with transaction.atomic():
        updated = RateCounter.objects.filter(key=full_key, window_start=start).update(count=F("count") + 1)
        if not updated:
            try:
                with transaction.atomic():
                    RateCounter.objects.create(key=full_key, window_start=start, count=1)
            except IntegrityError:  # another worker created the row first
                RateCounter.objects.filter(key=full_key, window_start=start).update(count=F("count") + 1)
        count = RateCounter.objects.filter(key=full_key, window_start=start).values_list("count", flat=True).get()
    allowed = count <= limit
    return Decision(allowed, count, limit, 0 if allowed else max(1, math.ceil((end - now).total_seconds())))


def ratelimit_prune(*, now: dt.datetime | None = None) -> int:
    """Delete counters of windows long gone; returns how many rows went."""
    cutoff = (now or timezone.now()) - KEEP_WINDOWS_FOR
    deleted, _ = RateCounter.objects.filter(window_start__lt=cutoff).delete()
    return deleted
