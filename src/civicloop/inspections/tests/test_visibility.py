"""Who knows of a round, sees its results and manages it: every persona, every state.

Undercover (暗访): until published, the inspected units (and every other reader of the area)
see neither the plan, the sampled locations nor the inspectors: for them the round does not
exist. Open rounds (明查) are read by the area's staff from the start of the inspection on.
The owners (campaign office, admins) and the round's own inspectors see it throughout.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from civicloop.core.errors import NotFoundOrForbidden
from civicloop.inspections.models import Finding, Round, RoundStatus
from civicloop.org import policy

from .round_helpers import advance, make_inspector, make_round, make_sites, record_visit

pytestmark = pytest.mark.django_db

STATES = [RoundStatus.DRAFT, RoundStatus.ACTIVE, RoundStatus.CLOSED, RoundStatus.PUBLISHED]
OWNERS = {"campaign_office", "admin"}
ASSIGNED = "inspector"  # assigned to every round below
# Readers of a round once it is revealed, per round area. District A's sites answer to jwc1
# (and its property company wy), hwc (c2's back street; cgj is hwc's parent department) and jdA.
READERS_A = {
    "inspector2",
    "dispatcher",
    "leader",
    "grid_worker",
    "unit_staff",
    "cgj_staff",
    "community_staff",
}
# The city-wide round also covers district B and samples 团结社区 (jwc3).
READERS = {
    "dA": READERS_A,
    "city": READERS_A | {"dispatcher_b", "leader_b", "grid_worker_c3", "community3_staff"},
}
NEVER = {"park_staff", "resident", "resident2", "outsider", "anonymous"}


def personas(city):
    make_inspector(city, "inspector2", "dA")  # an inspector of the area, not assigned
    people = dict(city.users)
    people["anonymous"] = AnonymousUser()
    return people


def revealed(kind: str, status: str) -> bool:
    if kind == "undercover":
        return status == RoundStatus.PUBLISHED
    return status in (RoundStatus.ACTIVE, RoundStatus.CLOSED, RoundStatus.PUBLISHED)


def expected_visible(key: str, kind: str, area: str, status: str) -> bool:
    if key in OWNERS or key == ASSIGNED:
        return True
    return key in READERS[area] and revealed(kind, status)


def expected_results(key: str, kind: str, area: str, status: str) -> bool:
    if key in OWNERS or key == ASSIGNED:
        return True
    return key in READERS[area] and status == RoundStatus.PUBLISHED


@pytest.mark.parametrize("status", STATES)
def test_every_persona_sees_what_the_kind_and_state_allow(city, status):
    people = personas(city)
    assert set(people) == OWNERS | {ASSIGNED} | READERS["city"] | NEVER, (
        "a persona of the test city is not covered"
    )
    rounds = {
        (kind, area): make_round(city, kind=kind, area=area, status=status, name=f"{kind}-{area}")
        for kind in ("undercover", "open")
        for area in ("dA", "city")
    }
    for rnd in rounds.values():
        assert rnd.status == status and rnd.inspectors.filter(pk=people[ASSIGNED].pk).exists()
    for key, user in people.items():
        policy.forget(user)
        visible = set(policy.visible_rounds(user).values_list("pk", flat=True))
        for (kind, area), rnd in rounds.items():
            where = f"{key} / {kind} round of {area} / {status}"
            should_see = expected_visible(key, kind, area, status)
            assert (rnd.pk in visible) == should_see, where
            if should_see:
                assert policy.access_round(user, rnd.pk) == rnd, where
            else:
                with pytest.raises(NotFoundOrForbidden):
                    policy.access_round(user, rnd.pk)
            assert policy.round_results_visible(user, rnd) == expected_results(
                key, kind, area, status
            ), where
            assert policy.may_manage_round(user, rnd) == (key in OWNERS), where
        # Nothing else leaks in (the rounds of other tests do not exist here).
        assert visible <= {rnd.pk for rnd in rounds.values()}


def test_the_assigned_inspector_sees_only_his_undercover_rounds_before_publication(city):
    people = personas(city)
    mine = make_round(city, status="active", name="mine")
    theirs = make_round(city, status="active", name="theirs", inspectors=("inspector2",))
    assert set(policy.visible_rounds(people["inspector"])) == {mine}
    assert set(policy.visible_rounds(people["inspector2"])) == {theirs}
    assert not policy.round_results_visible(people["inspector"], theirs)
    theirs = advance(city, theirs, "published")
    policy.forget(people["inspector"])
    assert set(policy.visible_rounds(people["inspector"])) == {mine, theirs}
    assert policy.round_results_visible(people["inspector"], theirs)


def test_a_unit_answerable_for_a_finding_learns_of_an_undercover_round_only_at_publication(city):
    """District B's round samples only 团结社区 (jwc3): the sanitation office (hwc) is drawn in
    by a finding of its item, and must not see the round before it is published."""
    people = personas(city)
    sites = make_sites(city)
    rnd = make_round(city, area="sB", status="active")
    location = rnd.locations.get(site=sites["c3_old"])
    record_visit(location, found={(1, 1): 2})  # item 1.1 names the sanitation office (hwc)
    assert Finding.objects.get(visit__location=location).unit == city.units["hwc"]
    for status in ("active", "closed", "published"):
        if status != "active":
            rnd = advance(city, rnd, status)
        revealed_now = status == "published"
        for key in (
            "unit_staff",
            "cgj_staff",
            "community3_staff",
            "dispatcher_b",
            "leader",
            "inspector2",
        ):
            user = people[key]
            sees = policy.visible_rounds(user).filter(pk=rnd.pk).exists()
            # inspector2 is bound to dA: district B's round is none of his business.
            assert sees == (revealed_now and key != "inspector2"), f"{key} / {status}"
            assert policy.round_results_visible(user, rnd) == sees, f"{key} / {status}"
        for key in ("park_staff", "community_staff", "dispatcher", "grid_worker"):
            assert not policy.visible_rounds(people[key]).filter(pk=rnd.pk).exists(), (
                f"{key} / {status}"
            )
        for key in ("inspector_b", "campaign_office", "admin"):
            assert policy.round_results_visible(people.get(key) or city.users[key], rnd)


def test_visible_rounds_lists_each_round_once(city):
    """A unit answerable for several sampled sites of a round must not see it several times."""
    people = personas(city)
    rnd = make_round(city, kind="open", status="active")
    staff = people["community_staff"]  # jwc1 and wy answer for three sites of the round
    assert list(policy.visible_rounds(staff)) == [rnd]
    assert policy.visible_rounds(staff).count() == 1
    assert Round.objects.count() == 1


def test_a_district_office_inspected_by_a_city_round_does_not_own_it(city):
    """The city's campaign office plans an undercover round of district A: district A's own
    campaign office is inspected by it, so it neither sees nor manages the round before it
    is published; a round the district office plans itself is its own, and the city's too."""
    from civicloop.org.models import Role, RoleAssignment, User

    district_office = User.objects.create_user(username="district_office", password="pw")
    RoleAssignment.objects.create(user=district_office, role=Role.CAMPAIGN_OFFICE, area=city.areas["dA"])
    rnd = make_round(city, area="dA", status=RoundStatus.ACTIVE)
    assert rnd.owner_path == city.areas["city"].path
    assert not policy.visible_rounds(district_office).filter(pk=rnd.pk).exists()
    assert not policy.may_manage_round(district_office, rnd)
    assert not policy.round_results_visible(district_office, rnd)
    rnd = advance(city, rnd, RoundStatus.PUBLISHED)
    assert policy.visible_rounds(district_office).filter(pk=rnd.pk).exists()
    assert policy.round_results_visible(district_office, rnd)
    assert not policy.may_manage_round(district_office, rnd)

    city.users["district_office"] = district_office
    own = make_round(city, area="dA", by="district_office", name="老城区自查", draw=False)
    assert own.owner_path == city.areas["dA"].path
    assert policy.may_manage_round(district_office, own)
    assert policy.may_manage_round(city.users["campaign_office"], own)
    assert policy.visible_rounds(city.users["campaign_office"]).filter(pk=own.pk).exists()


def test_saving_a_plan_does_not_hand_the_round_to_the_district_it_inspects(city):
    """An admin saves the plan of the city's round of district A (the form always posts the
    area): the round stays the city's, so district A's office still knows nothing of it."""
    from civicloop.inspections.rounds import round_update
    from civicloop.org.models import Role, RoleAssignment, User

    district_office = User.objects.create_user(username="district_office2", password="pw")
    RoleAssignment.objects.create(user=district_office, role=Role.CAMPAIGN_OFFICE, area=city.areas["dA"])
    rnd = make_round(city, area="dA", draw=False)
    assert rnd.owner_path == city.areas["city"].path
    rnd = round_update(round=rnd, by=city.users["admin"], area=city.areas["dA"], name="改个名字")
    assert rnd.owner_path == city.areas["city"].path
    rnd = round_update(round=rnd, by=city.users["admin"], area=city.areas["sA"])
    assert rnd.owner_path == city.areas["city"].path
    assert not policy.visible_rounds(district_office).filter(pk=rnd.pk).exists()
    assert not policy.may_manage_round(district_office, rnd)
