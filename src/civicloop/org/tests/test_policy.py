"""Scoping for every role: who reads which case, who may act on it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from civicloop.cases import actions as A
from civicloop.cases.models import State
from civicloop.core.errors import NotFoundOrForbidden, PermissionRefused
from civicloop.org import policy
from civicloop.testing import Loop

pytestmark = pytest.mark.django_db


@pytest.fixture
def cases(city):
    """One dispatched case in 幸福社区 (c1, district A) handled by sanitation, one in 团结社区 (c3, district B)."""
    loop = Loop(city)
    c1 = loop.to(State.DISPATCHED, grid="g1")
    c3 = loop.report(grid="g4", by="resident2").case
    c3 = A.case_register(case=c3, by=loop.u("dispatcher_b"), at=loop.tick())
    c3 = A.case_dispatch(case=c3, by=loop.u("dispatcher_b"), unit=city.units["jwc3"], at=loop.tick())
    c2 = loop.report(grid="g3", category="C0118", by=None).case  # 和平社区 (c2), not dispatched
    return {"c1": c1, "c2": c2, "c3": c3}


# persona → the cases it may read
EXPECTED = {
    "resident": {"c1"},  # reported c1 only
    "resident2": {"c3"},
    "grid_worker": {"c1"},  # grid worker of 幸福社区
    "grid_worker_c3": {"c3"},
    "dispatcher": {"c1", "c2"},  # district A
    "dispatcher_b": {"c3"},
    "unit_staff": {"c1"},  # sanitation handles c1
    "cgj_staff": {"c1"},  # parent unit of sanitation sees its sub-unit's cases
    "park_staff": set(),
    "community_staff": set(),  # 幸福社区 committee: c1 is dispatched to sanitation, not to it
    "community3_staff": {"c3"},
    "inspector": {"c1", "c2"},
    "campaign_office": {"c1", "c2", "c3"},
    "leader": {"c1", "c2", "c3"},
    "leader_b": {"c3"},
    "outsider": set(),
    "admin": {"c1", "c2", "c3"},
}


@pytest.mark.parametrize("persona", sorted(EXPECTED))
def test_each_role_reads_exactly_its_cases(city, cases, persona):
    user = city.users[persona]
    seen = {k for k, c in cases.items() if policy.visible_cases(user).filter(pk=c.pk).exists()}
    assert seen == EXPECTED[persona]
    for key, case in cases.items():
        if key not in EXPECTED[persona]:
            with pytest.raises(NotFoundOrForbidden):
                policy.access_case(user, case.pk)


def test_anonymous_reads_nothing(cases):
    assert not policy.visible_cases(AnonymousUser()).exists()
    assert not policy.visible_cases(None).exists()


def test_community_staff_never_read_another_communitys_case(city, cases):
    assert not policy.visible_cases(city.users["community3_staff"]).filter(pk=cases["c1"].pk).exists()
    assert not policy.visible_cases(city.users["grid_worker_c3"]).filter(pk=cases["c1"].pk).exists()


def test_dispatcher_of_another_district_cannot_act(city, cases):
    with pytest.raises(NotFoundOrForbidden):
        A.case_void(case=cases["c2"], by=city.users["dispatcher_b"], reason="越权")


def test_other_unit_cannot_accept_and_a_leader_cannot_dispatch(city, cases):
    with pytest.raises((PermissionRefused, NotFoundOrForbidden)):
        A.case_accept(case=cases["c1"], by=city.users["park_staff"])
    loop = Loop(city)
    registered = A.case_register(case=cases["c2"], by=city.users["dispatcher"], at=loop.tick())
    with pytest.raises(PermissionRefused):
        A.case_dispatch(case=registered, by=city.users["leader"], unit=city.units["cgj"])


def test_anonymous_cannot_pose_as_the_worker(city, cases):
    with pytest.raises(NotFoundOrForbidden):
        A.case_urge(case=cases["c1"], by=None)
    with pytest.raises(NotFoundOrForbidden):
        A.case_urge(case=cases["c1"], by=AnonymousUser())


def test_leader_may_urge_in_his_area_only(city, cases):
    A.case_urge(case=cases["c3"], by=city.users["leader_b"], note="请尽快处理")
    with pytest.raises(NotFoundOrForbidden):
        A.case_urge(case=cases["c1"], by=city.users["leader_b"])


def test_units_and_areas_are_scoped(city):
    assert set(policy.visible_units(city.users["cgj_staff"]).values_list("code", flat=True)) == {"U-CGJ", "U-HWC"}
    assert set(policy.visible_areas(city.users["grid_worker"]).values_list("code", flat=True)) == {
        "650102001001", "650102001001001", "650102001001002"}
