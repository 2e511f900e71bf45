"""Logging out: the session ends and the browser drops what it cached of the pages."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_logging_out_ends_the_session_and_clears_the_browsers_cache_only(city):
    client = Client()
    client.force_login(city.users["inspector"])
    response = client.post(reverse("web:logout"))
    assert response.status_code == 302 and response["Location"] == "/"
    # "cache" only: "storage" would also delete the drafts an inspector has not sent yet.
    assert response["Clear-Site-Data"] == '"cache"'
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("inspections:inspect_home")).status_code == 302


def test_logging_out_is_a_post(city):
    client = Client()
    client.force_login(city.users["inspector"])
    assert client.get(reverse("web:logout")).status_code == 405
    assert "_auth_user_id" in client.session
