"""``load_demo`` refuses what it must: a database holding another city, and bad arguments.
(The load itself is tested in test_loader.py.)"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from civicloop.cases.models import Case
from civicloop.demo.loader import DemoRefused, demo_loaded, load_demo
from civicloop.org.models import Unit

ANCHOR = dt.datetime(2026, 11, 23, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

pytestmark = pytest.mark.django_db


def test_the_demo_is_not_loaded_into_someone_elses_city(city) -> None:
    with pytest.raises(DemoRefused, match="places"):
        load_demo(cases=20, anchor=ANCHOR)
    assert not demo_loaded()
    assert not Case.objects.exists()


def test_the_command_refuses_too_few_cases_and_a_naive_anchor() -> None:
    with pytest.raises(CommandError, match="at least 20"):
        call_command("load_demo", "--cases", "5")
    with pytest.raises(CommandError, match="time zone"):
        call_command("load_demo", "--anchor", "2026-11-23T12:00")


def test_the_command_says_why_it_refuses(city) -> None:
    with pytest.raises(CommandError, match="empty database"):
        call_command("load_demo", "--cases", "20")
    assert not Unit.objects.filter(code="D-CMD").exists()
