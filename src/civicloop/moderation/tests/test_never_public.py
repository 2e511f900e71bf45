"""A held report is not a case: it is nowhere public and in no case list, map or count until
it is released, and then it is everywhere a report is."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from civicloop.cases import selectors
from civicloop.cases.models import Case
from civicloop.moderation import actions as M
from civicloop.org import policy

from .helpers import hold

pytestmark = pytest.mark.django_db

MARK = "可疑文字标记"


def staff_pages(city) -> dict[str, str]:
    client = Client()
    client.force_login(city.users["dispatcher"])
    pages = {}
    for name in (
        "web:dispatch_queue",
        "web:cases",
        "web:cases_geojson",
        "web:overview",
        "web:dispatch_map",
    ):
        pages[name] = client.get(reverse(name)).content.decode()
    return pages


def public_pages(city) -> dict[str, str]:
    lat, lon = city.point_in("g1")
    client = Client()
    return {
        "home": client.get(reverse("web:home")).content.decode(),
        "nearby": client.get(reverse("web:nearby")).content.decode(),
        "nearby_geojson": client.get(reverse("web:nearby_geojson")).content.decode(),
        "report_nearby": client.get(
            reverse("web:report_nearby"), {"category": "E0113", "lat": lat, "lon": lon}
        ).content.decode(),
    }


def test_a_held_report_is_in_no_list_map_or_count(city):
    held = hold(city, description=f"{MARK} http://a.example.cn http://b.example.cn", name="赵六")
    assert not Case.objects.exists()
    for who in ("dispatcher", "leader", "admin", "grid_worker"):
        assert not policy.visible_cases(city.users[who]).exists()
        assert sum(selectors.state_counts(user=city.users[who]).values()) == 0
    for name, page in {**public_pages(city), **staff_pages(city)}.items():
        assert MARK not in page and held.token not in page and "赵六" not in page, name
    assert json.loads(public_pages(city)["nearby_geojson"])["features"] == []


def test_once_released_it_is_a_report_like_any_other(city):
    held = hold(city, description=f"{MARK} http://a.example.cn http://b.example.cn")
    report = M.held_release(held=held, by=city.users["dispatcher"]).report
    assert policy.visible_cases(city.users["dispatcher"]).filter(pk=report.case_id).exists()
    assert len(json.loads(public_pages(city)["nearby_geojson"])["features"]) == 1
    assert MARK in staff_pages(city)["web:dispatch_queue"]
    ticket = Client().get(reverse("web:ticket_detail", kwargs={"ticket_no": report.ticket_no}))
    assert ticket.status_code == 200 and MARK in ticket.content.decode()


def test_a_rejected_report_stays_out_of_everything(city):
    held = hold(city, description=f"{MARK} http://a.example.cn http://b.example.cn")
    M.held_reject(held=held, by=city.users["dispatcher"], reason="广告")
    assert not Case.objects.exists()
    for name, page in {**public_pages(city), **staff_pages(city)}.items():
        assert MARK not in page, name
