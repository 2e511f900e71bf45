"""The worker's housekeeping list (settings ``PERIODIC_JOBS``): every entry exists and reports a count."""

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", settings.CIVICLOOP["PERIODIC_JOBS"])
def test_each_periodic_job_runs_and_returns_how_much_it_did(path):
    assert isinstance(import_string(path)(), int)
