"""Domain fixtures shared by every app's tests: the test city and one persona per role."""

from __future__ import annotations

import pytest

from civicloop.testing import TestCity, build_test_city


@pytest.fixture
def city(db: None) -> TestCity:
    return build_test_city()
