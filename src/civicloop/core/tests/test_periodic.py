"""The worker's housekeeping list (settings ``PERIODIC_JOBS``): every entry exists and reports a count."""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils.module_loading import import_string

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", settings.CIVICLOOP["PERIODIC_JOBS"])
def test_each_periodic_job_runs_and_returns_how_much_it_did(path):
    assert isinstance(import_string(path)(), int)


def test_the_worker_runs_them_once(capsys, monkeypatch):
    seen = []
    monkeypatch.setitem(settings.CIVICLOOP, "PERIODIC_JOBS", ["civicloop.core.tests.test_periodic.job_for_test"])
    monkeypatch.setattr("civicloop.core.tests.test_periodic.SEEN", seen)
    call_command("run_worker", "--once")
    assert seen == [1]
    assert "job_for_test: 7" in capsys.readouterr().out


SEEN: list[int] = []


def job_for_test() -> int:
    SEEN.append(1)
    return 7
