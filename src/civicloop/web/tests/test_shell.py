"""The page shell: logging in lands each role on its page, navigation, map data and assets."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from civicloop.web.roles import LANDING_ORDER, ROLE_PAGES, landing_url, navigation

pytestmark = pytest.mark.django_db


def test_login_page_and_bad_credentials_say_so_in_chinese(city):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert client.get(reverse("web:login")).status_code == 200
    response = client.post(reverse("web:login"), {"username": "dispatcher", "password": "wrong"})
    assert response.status_code == 200
    assert "请输入一个正确的" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_lands_on_me_which_redirects_to_the_role_page(city):
    client = Client()
    response = client.post(reverse("web:login"), {"username": "admin", "password": "pw"})
    assert response.status_code == 302 and response["Location"] == reverse("web:me")
    assert client.get(reverse("web:me"))["Location"] == reverse("admin:index")


def test_me_needs_a_login(city):
    response = Client().get(reverse("web:me"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))


def test_every_role_has_pages_and_a_landing(city):
    assert set(ROLE_PAGES) == set(LANDING_ORDER)
    for key in ("dispatcher", "unit_staff", "grid_worker", "leader", "campaign_office", "inspector", "resident"):
        url = landing_url(city.users[key])
        assert url.startswith("/") and url != reverse("admin:index")
    assert landing_url(city.users["outsider"]) == reverse("web:home")


def test_navigation_lists_only_pages_that_exist(city):
    for user in city.users.values():
        for url, label in navigation(user):
            assert url.startswith("/") and str(label)


def test_area_boundaries_as_geojson(city):
    response = Client().get(reverse("web:areas_geojson"), {"kind": "grid"})
    assert response.status_code == 200
    data = json.loads(response.content)
    assert data["type"] == "FeatureCollection"
    assert {f["properties"]["code"] for f in data["features"]} == {city.areas[k].code for k in ("g1", "g2", "g3", "g4")}
    assert data["features"][0]["geometry"]["type"] == "Polygon"


@pytest.mark.parametrize("kind", ["", "planet", "grid'--"])
def test_unknown_area_kind_is_a_clear_400(city, kind):
    response = Client(HTTP_ACCEPT_LANGUAGE="zh-hans").get(reverse("web:areas_geojson"), {"kind": kind})
    assert response.status_code == 400
    assert "error" in json.loads(response.content)


def test_pages_load_vendor_assets_from_the_app_not_a_cdn(city, client):
    html = client.get(reverse("web:home")).content.decode()
    assert "/static/vendor/htmx.org/htmx.min.js" in html
    assert "https://" not in html.split("<body")[0]
