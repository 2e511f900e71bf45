"""Scoping through the API, for every role (issue 4, point 7): each token reads and changes only
what ``org/policy.py`` gives its user — the same cases as on the web — and reporters'
contact details reach only the area's dispatchers and grid workers, never anonymous callers."""

from __future__ import annotations

from typing import Any

import pytest

from civicloop.cases.models import Case, CaseEvent, State
from civicloop.testing import Loop, jpeg_upload

pytestmark = pytest.mark.django_db

CONTACT = {"name": "王秀英", "phone": "13700137000", "email": "wxy@example.com"}
SECRETS = tuple(CONTACT.values())


@pytest.fixture
def world(city: Any, loop: Loop) -> dict[str, Case]:
    """One case per corner of the test city, each with a reporter's contacts."""
    other = Loop(city, t0=loop.t)
    return {
        # 幸福社区 (district A), event 01 → 市环境卫生管理处 (unit_staff; cgj_staff above it)
        "g1_hwc": loop.to(State.IN_PROGRESS, **CONTACT),
        # 和平社区 (district A), street trees → 市园林局 (park_staff)
        "g3_ylj": loop.to(State.IN_PROGRESS, category="C0402", grid="g3", **CONTACT),
        # 幸福社区, not yet dispatched: no unit sees it
        "g2_new": loop.to(State.REPORTED, grid="g2", **CONTACT),
        # 团结社区 (district B), event 01 → 市环境卫生管理处 too
        "g4_hwc": other.to(State.DISPATCHED, grid="g4", **CONTACT),
    }


VISIBLE = {
    "dispatcher": {"g1_hwc", "g3_ylj", "g2_new"},
    "dispatcher_b": {"g4_hwc"},
    "grid_worker": {"g1_hwc", "g2_new"},
    "grid_worker_c3": {"g4_hwc"},
    "unit_staff": {"g1_hwc", "g4_hwc"},
    "cgj_staff": {"g1_hwc", "g4_hwc"},  # the unit above 市环境卫生管理处
    "park_staff": {"g3_ylj"},
    "community_staff": set(),
    "community3_staff": set(),
    "inspector": {"g1_hwc", "g3_ylj", "g2_new"},
    "campaign_office": {"g1_hwc", "g3_ylj", "g2_new", "g4_hwc"},
    "leader": {"g1_hwc", "g3_ylj", "g2_new", "g4_hwc"},
    "leader_b": {"g4_hwc"},
    "admin": {"g1_hwc", "g3_ylj", "g2_new", "g4_hwc"},
}
# Who reads reporters' contacts of a case they see: the area's dispatchers and grid workers.
CONTACTS = {
    "dispatcher": {"g1_hwc", "g3_ylj", "g2_new"},
    "dispatcher_b": {"g4_hwc"},
    "grid_worker": {"g1_hwc", "g2_new"},
    "grid_worker_c3": {"g4_hwc"},
    "admin": {"g1_hwc", "g3_ylj", "g2_new", "g4_hwc"},
}
READS = ("", "timeline/", "attachments/", "actions/")


def url(case: Case, suffix: str = "") -> str:
    return f"/api/v1/cases/{case.pk}/{suffix}"


@pytest.mark.parametrize("persona", sorted(VISIBLE))
def test_each_role_lists_exactly_its_cases(api, world, persona):
    response = api(persona).get("/api/v1/cases/")
    assert response.status_code == 200, response.content
    seen = {row["id"] for row in response.json()["results"]}
    assert seen == {world[k].pk for k in VISIBLE[persona]}


@pytest.mark.parametrize("persona", sorted(VISIBLE))
def test_each_role_reads_its_cases_and_gets_404_for_the_others(api, world, persona):
    c = api(persona)
    for key, case in world.items():
        for suffix in READS:
            response = c.get(url(case, suffix))
            expected = 200 if key in VISIBLE[persona] else 404
            assert response.status_code == expected, (persona, key, suffix, response.content)


@pytest.mark.parametrize("persona", sorted(VISIBLE))
def test_each_role_sees_contacts_only_where_its_work_is_talking_to_reporters(api, world, persona):
    c = api(persona)
    name, phone, email = SECRETS
    for key in VISIBLE[persona]:
        shown = key in CONTACTS.get(persona, set())
        text = c.get(url(world[key])).content.decode()
        assert all((secret in text) == shown for secret in SECRETS), (persona, key)
        timeline = c.get(url(world[key], "timeline/")).content.decode()
        assert (name in timeline) == shown and phone not in timeline and email not in timeline


@pytest.mark.parametrize("persona", sorted(VISIBLE))
def test_no_role_changes_a_case_outside_its_scope(api, world, persona):
    c = api(persona)
    for key, case in world.items():
        if key in VISIBLE[persona]:
            continue
        before = (Case.objects.get(pk=case.pk).version, CaseEvent.objects.filter(case=case).count())
        version = Case.objects.get(pk=case.pk).version
        for action, data in (
            ("accept", {}),
            ("return", {"reason": "x"}),
            ("urge", {}),
            ("register", {}),
            ("reassign", {"unit": "U-CGJ", "reason": "x"}),
        ):
            response = c.post(
                url(case, f"actions/{action}/"), {"version": version, **data}, format="json"
            )
            assert response.status_code == 404, (persona, key, action, response.content)
        response = c.post(
            url(case, "attachments/"), {"photos": [jpeg_upload()]}, format="multipart"
        )
        assert response.status_code == 404
        assert (
            Case.objects.get(pk=case.pk).version,
            CaseEvent.objects.filter(case=case).count(),
        ) == before


def test_a_units_token_never_reads_or_changes_another_units_case(api, world):
    trees = world["g3_ylj"]
    c = api("unit_staff")
    assert trees.pk not in {r["id"] for r in c.get("/api/v1/cases/").json()["results"]}
    assert c.get("/api/v1/cases/", {"unit": "U-YLJ"}).json()["results"] == []
    for suffix in READS:
        assert c.get(url(trees, suffix)).status_code == 404
    version = trees.version
    for action, data in (
        ("feedback", {"note": "done"}),
        ("request-extension", {"until": "2030-01-01T00:00:00+08:00", "reason": "x"}),
        ("return", {"reason": "x"}),
    ):
        assert (
            c.post(
                url(trees, f"actions/{action}/"), {"version": version, **data}, format="json"
            ).status_code
            == 404
        )
    assert Case.objects.get(pk=trees.pk).version == version


def test_a_unit_that_returned_a_case_no_longer_reads_it(api, city, world):
    case = world["g4_hwc"]
    c = api("unit_staff")
    assert (
        c.post(
            url(case, "actions/return/"),
            {"version": case.version, "reason": "不归我们管"},
            format="json",
        ).status_code
        == 200
    )
    assert c.get(url(case)).status_code == 404


def test_residents_and_people_without_a_role_read_no_cases(api, world):
    for persona in ("resident", "outsider"):
        c = api(persona)
        response = c.get("/api/v1/cases/")
        assert response.status_code == 403 and response.json()["code"] == "forbidden"
        assert c.get("/api/v1/units/").status_code == 403
        for case in world.values():
            for suffix in READS:
                assert c.get(url(case, suffix)).status_code == 404


def test_a_resident_does_not_read_even_his_own_report_as_a_case(api, city, loop):
    case = loop.to(State.REGISTERED, by="resident", **CONTACT)
    assert api("resident").get(url(case)).status_code == 404


def test_anonymous_callers_never_see_reporters_contact_details(api, city, world):
    anon = api(None)
    for case in world.values():
        for suffix in READS:
            response = anon.get(url(case, suffix))
            assert response.status_code == 401
            assert not any(s in response.content.decode() for s in SECRETS)
    assert anon.get("/api/v1/cases/").status_code == 401
    # Joining an open case tells the new reporter his ticket, nothing about the first reporter.
    lat, lon = city.point_in("g2")
    report = {"category": "E0102", "lat": lat, "lon": lon, "description": "楼道口的垃圾没人清"}
    first = anon.post("/api/v1/cases/", {**report, **CONTACT}, format="json").json()
    response = anon.post("/api/v1/cases/", report, format="json")
    assert response.status_code == 201 and response.json()["joined_existing"] is True
    assert response.json()["case"] is None  # not even the first reporter's words or ticket
    assert first["ticket_no"] not in response.content.decode()
    text = response.content.decode()
    assert not any(s in text for s in SECRETS)
