"""Fixed-window limits shared by all processes (core/ratelimit.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from civicloop.core import ratelimit
from civicloop.core.models import RateCounter

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 11, 23, 12, 0, 10, tzinfo=dt.UTC)


def test_allows_up_to_the_limit_then_refuses_until_the_window_ends():
    decisions = [ratelimit.hit("t", "1.2.3.4", limit=3, window_s=60, now=NOON) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].count == 4
    assert decisions[-1].retry_after == 50  # the window started at 12:00:00
    later = ratelimit.hit("t", "1.2.3.4", limit=3, window_s=60, now=NOON + dt.timedelta(seconds=50))
    assert later.allowed and later.count == 1


def test_keys_and_scopes_count_apart():
    for _ in range(2):
        ratelimit.hit("t", "a", limit=2, window_s=60, now=NOON)
    assert not ratelimit.hit("t", "a", limit=2, window_s=60, now=NOON).allowed
    assert ratelimit.hit("t", "b", limit=2, window_s=60, now=NOON).allowed
    assert ratelimit.hit("u", "a", limit=2, window_s=60, now=NOON).allowed


def test_peek_counts_nothing():
    ratelimit.hit("t", "a", limit=1, window_s=60, now=NOON)
    assert not ratelimit.peek("t", "a", limit=1, window_s=60, now=NOON).allowed
    assert RateCounter.objects.get().count == 1


def test_a_limit_of_zero_is_off_and_writes_nothing():
    assert all(ratelimit.hit("t", "a", limit=0, window_s=60, now=NOON).allowed for _ in range(5))
    assert not RateCounter.objects.exists()


def test_long_keys_are_cut_not_refused():
    assert ratelimit.hit("t", "x" * 500, limit=1, window_s=60, now=NOON).allowed
    assert not ratelimit.hit("t", "x" * 500, limit=1, window_s=60, now=NOON).allowed


def test_prune_deletes_old_windows_only():
    ratelimit.hit("t", "a", limit=5, window_s=60, now=NOON - dt.timedelta(days=3))
    ratelimit.hit("t", "a", limit=5, window_s=60, now=NOON)
    assert ratelimit.ratelimit_prune(now=NOON) == 1
    assert RateCounter.objects.count() == 1
