"""Domain fixtures shared by every app's tests: the test city and one persona per role."""

from __future__ import annotations

import pytest

from civicloop.testing import TestCity, build_test_city


@pytest.fixture
def city(db: None) -> TestCity:
    return build_test_city()


@pytest.fixture(autouse=True)
def _default_language():
    """A request in one test (e.g. with Accept-Language: zh-hans) must not leave its
    language active for the next test in the same thread."""
    yield
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
