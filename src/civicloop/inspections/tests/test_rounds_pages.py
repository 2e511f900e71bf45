"""The round and site pages through the HTTP client: who may see which round (an undercover
round does not exist for the inspected units before publication), planning with its bad
inputs, the sample (seed shown, the same seed draws the same sample), inspectors, start,
close, publish with its confirmation, findings with their rectification state, the look-back,
and the site register."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.urls import reverse

from civicloop.cases.models import Case
from civicloop.inspections.models import Finding, Round, RoundKind, RoundLocation, RoundStatus, Site
from civicloop.places.models import BackStreet, Compound
from civicloop.testing import LAT0, LON0, STEP, T0

from .round_helpers import (
    SEED,
    advance,
    make_inspector,
    make_round,
    make_sites,
    make_standards,
    site_box,
)
from .visit_helpers import checks_for, location_of, submit

pytestmark = pytest.mark.django_db

NOBODY = ["resident", "outsider"]


def login(city, key: str) -> Client:
    client = Client()
    client.force_login(city.users[key])
    return client


def html(response) -> str:
    return response.content.decode()


def detail(rnd: Round) -> str:
    return reverse("inspections:round_detail", args=[rnd.pk])


def url(name: str, rnd: Round) -> str:
    return reverse(f"inspections:{name}", args=[rnd.pk])


def inspected(city, *, kind: str = RoundKind.UNDERCOVER) -> Round:
    """An active round over dA with one finding (c1_old: item s1_i2, 3 points), then closed."""
    rnd = make_round(city, kind=kind, status=RoundStatus.ACTIVE)
    location = location_of(rnd, "c1_old", city)
    submit(location, city.users["inspector"], checks=checks_for(location, s1_i2={"occurrences": 1}))
    return advance(city, Round.objects.get(pk=rnd.pk), RoundStatus.CLOSED)


# ---- who sees which round ------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login(city):
    rnd = make_round(city, draw=False)
    for target in (
        reverse("inspections:home"),
        reverse("inspections:sites"),
        detail(rnd),
        reverse("inspections:round_create"),
    ):
        response = Client().get(target)
        assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))


@pytest.mark.parametrize("key", NOBODY)
def test_residents_and_people_without_a_role_are_refused(city, key):
    rnd = make_round(city, kind=RoundKind.OPEN, status=RoundStatus.PUBLISHED)
    client = login(city, key)
    assert client.get(reverse("inspections:home")).status_code == 403
    assert client.get(reverse("inspections:sites")).status_code == 403
    assert client.get(reverse("inspections:round_create")).status_code == 403
    assert client.get(detail(rnd)).status_code == 404


@pytest.mark.parametrize(
    ("key", "status"),
    [
        ("campaign_office", 200),
        ("admin", 200),
        ("inspector", 200),  # the round's own inspector
        ("leader", 404),
        ("leader_b", 404),
        ("unit_staff", 404),
        ("community_staff", 404),
        ("dispatcher", 404),
        ("grid_worker", 404),
        ("resident", 404),
        ("outsider", 404),
    ],
)
def test_an_undercover_round_in_planning_does_not_exist_for_the_inspected(city, key, status):
    rnd = make_round(city)  # undercover, drawn, inspector assigned
    client = login(city, key)
    assert client.get(detail(rnd)).status_code == status
    assert client.get(url("round_points", rnd)).status_code == status
    assert client.get(url("round_sites", rnd)).status_code == status
    if key not in NOBODY:
        page = html(client.get(reverse("inspections:home")))
        assert (detail(rnd) in page) is (status == 200)


def test_an_undercover_round_is_revealed_by_publication(city):
    rnd = inspected(city)
    unit_client = login(city, "community_staff")  # 幸福社区居委会: answerable for sites of c1
    assert unit_client.get(detail(rnd)).status_code == 404
    login(city, "campaign_office").post(
        url("round_publish", rnd), {"version": Round.objects.get(pk=rnd.pk).version}
    )
    assert Round.objects.get(pk=rnd.pk).status == RoundStatus.PUBLISHED
    page = html(unit_client.get(detail(rnd)))
    assert "幸福里小区" in page and "findings" in page
    # Now with scores: the finding's location scored (30 − 3) × 100 / 30 = 90.00.
    assert "90.00" in page
    assert login(city, "leader_b").get(detail(rnd)).status_code == 404  # another district


def test_open_round_readers_see_the_plan_but_not_the_scores(city):
    rnd = make_round(city, kind=RoundKind.OPEN, status=RoundStatus.ACTIVE)
    location = location_of(rnd, "c1_old", city)
    submit(location, city.users["inspector"], checks=checks_for(location, s1_i2={"occurrences": 1}))
    leader = html(login(city, "leader").get(detail(rnd)))
    assert "幸福里小区" in leader and ">Score<" not in leader and "90.00" not in leader
    assert "Scores and findings are shown once the round is published." in leader
    points = login(city, "leader").get(url("round_points", rnd)).json()
    assert points["features"] and not any(
        "score" in f["properties"]["subtitle"] for f in points["features"]
    )
    owner = html(login(city, "campaign_office").get(detail(rnd)))
    assert "90.00" in owner
    owner_points = login(city, "campaign_office").get(url("round_points", rnd)).json()
    assert any("score 90.00" in f["properties"]["subtitle"] for f in owner_points["features"])
    # The inspector sees scores of his round and may inspect his pending locations.
    inspector = html(login(city, "inspector").get(detail(rnd)))
    assert (
        "90.00" in inspector
        and reverse("inspections:inspect_location", args=[location_of(rnd, "c2_old", city).pk])
        in inspector
    )


def test_the_home_page_groups_rounds_by_status_with_progress(city):
    active = make_round(city, kind=RoundKind.OPEN, status=RoundStatus.ACTIVE, name="十一月明查")
    location = location_of(active, "c1_old", city)
    submit(location, city.users["inspector"])
    draft = make_round(city, name="十二月暗访", draw=False, at=T0 + dt.timedelta(days=30))
    page = html(login(city, "campaign_office").get(reverse("inspections:home")))
    assert "十一月明查" in page and "十二月暗访" in page
    assert "1 of 5 inspected" in page and "no sample yet" in page
    assert page.index("Inspecting") < page.index("十一月明查") and page.index(
        "Planning"
    ) < page.index("十二月暗访")
    assert reverse("inspections:round_create") in page
    leader = html(login(city, "leader").get(reverse("inspections:home")))
    assert (
        "十一月明查" in leader
        and "十二月暗访" not in leader
        and reverse("inspections:round_create") not in leader
    )
    assert detail(draft) not in leader


def test_the_home_page_query_count_does_not_grow_with_rounds(city, django_assert_max_num_queries):
    make_round(city, kind=RoundKind.OPEN, status=RoundStatus.ACTIVE)
    client = login(city, "campaign_office")
    client.get(reverse("inspections:home"))
    with django_assert_max_num_queries(12):
        client.get(reverse("inspections:home"))
    for day in (10, 20, 30):
        make_round(city, draw=False, at=T0 + dt.timedelta(days=day))
    with django_assert_max_num_queries(12):
        client.get(reverse("inspections:home"))


# ---- planning -------------------------------------------------------------------------------------


def plan(city, **changes):
    standards = make_standards(city)
    data = {
        "name": "2026年11月暗访",
        "kind": "undercover",
        "area": city.areas["dA"].pk,
        "period_start": "2026-11-17",
        "period_end": "2026-11-30",
        "standards": [s.pk for s in standards.values()],
        "stratify": "street",
        "per_stratum": "3",
        "grade_bands": "",
        "off_site_metres": "",
        "note": "",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize("key", ["leader", "inspector", "dispatcher", "unit_staff", "leader_b"])
def test_only_the_campaign_office_plans(city, key):
    client = login(city, key)
    assert client.get(reverse("inspections:round_create")).status_code == 403
    assert client.post(reverse("inspections:round_create"), plan(city)).status_code == 403
    assert not Round.objects.exists()


def test_plan_a_round(city):
    make_standards(city)
    client = login(city, "campaign_office")
    page = html(client.get(reverse("inspections:round_create")))
    assert "老旧小区测评标准 v1" in page and "背街小巷测评标准 v1" in page
    data = plan(
        city,
        weight_old_community="2",
        weight_back_street="1",
        grade_bands="优 90, 良 75, 中 60, 差 0",
        off_site_metres="50",
        note="重点查看消防通道",
    )
    response = client.post(reverse("inspections:round_create"), data)
    rnd = Round.objects.get()
    assert response.status_code == 302 and response["Location"] == detail(rnd)
    assert (rnd.name, rnd.kind, rnd.area, rnd.status, rnd.created_by) == (
        "2026年11月暗访",
        "undercover",
        city.areas["dA"],
        RoundStatus.DRAFT,
        city.users["campaign_office"],
    )
    assert (rnd.period_start, rnd.period_end) == (dt.date(2026, 11, 17), dt.date(2026, 11, 30))
    assert rnd.type_weights == {"old_community": "2", "back_street": "1"}
    assert rnd.grade_bands == [["优", "90"], ["良", "75"], ["中", "60"], ["差", "0"]]
    assert rnd.off_site_metres == 50 and rnd.note == "重点查看消防通道"
    assert set(rnd.standards.values_list("code", flat=True)) == {"LXXQ", "BJXX"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"period_start": "2026-11-30", "period_end": "2026-11-01"},
            "The period cannot end before it starts.",
        ),
        ({"period_start": "2026-13-45"}, "Enter a valid date."),
        ({"period_end": ""}, "This field is required."),
        ({"standards": []}, "Choose at least one published assessment standard."),
        ({"standards": ["999999"]}, "Select a valid choice"),
        ({"name": ""}, "This field is required."),
        ({"kind": "secret"}, "Select a valid choice"),
        ({"per_stratum": "0"}, "Locations per stratum must be a whole number from 1 to 100."),
        ({"grade_bands": "A ninety"}, "Write each grade with its lower bound"),
        ({"grade_bands": "A 90, B 75"}, "The lowest grade band must start at 0"),
        ({"grade_bands": "A 75, B 90, C 0"}, "Grade bands go from the highest bound down"),
        (
            {"weight_old_community": "0", "weight_back_street": "0"},
            "At least one location type must have a weight above zero.",
        ),
        ({"weight_market": "-1"}, "greater than or equal to 0"),
        ({"off_site_metres": "0"}, "The off-site tolerance must be a whole number"),
        ({"stratify": "by_mood"}, "Select a valid choice"),
    ],
)
def test_bad_plans_are_shown_and_nothing_is_written(city, changes, message):
    response = login(city, "campaign_office").post(
        reverse("inspections:round_create"), plan(city, **changes)
    )
    assert response.status_code == 400
    assert message in html(response).replace("&#x27;", "'")
    assert not Round.objects.exists()


def test_an_area_outside_ones_own_cannot_be_chosen(city):
    from civicloop.org.models import Role, RoleAssignment, User

    office_b = User.objects.create_user(username="office_b", password="pw")
    RoleAssignment.objects.create(user=office_b, role=Role.CAMPAIGN_OFFICE, area=city.areas["dB"])
    city.users["office_b"] = office_b
    client = login(city, "office_b")
    page = html(client.get(reverse("inspections:round_create")))
    assert "新华区" in page and "老城区" not in page
    response = client.post(
        reverse("inspections:round_create"), plan(city, area=city.areas["dA"].pk)
    )
    assert response.status_code == 400 and "Select a valid choice" in html(response)
    response = client.post(
        reverse("inspections:round_create"), plan(city, area=city.areas["c3"].pk)
    )
    assert response.status_code == 400
    assert not Round.objects.exists()
    # … and the other district's rounds do not exist for this office.
    rnd = make_round(city, draw=False)
    assert client.get(detail(rnd)).status_code == 404


def test_two_standards_of_one_location_type_are_refused(city):
    from civicloop.inspections.tests.helpers import make_standard

    other = make_standard(city, code="LXXQ2", publish=True, name="另一个老旧小区标准")
    standards = make_standards(city)
    response = login(city, "campaign_office").post(
        reverse("inspections:round_create"),
        plan(city, standards=[standards["old_community"].pk, other.pk]),
    )
    assert response.status_code == 400 and "choose one standard per location type" in html(response)
    assert not Round.objects.exists()


def test_change_the_plan_of_a_draft(city):
    rnd = make_round(city)
    assert rnd.locations.exists()
    client = login(city, "campaign_office")
    edit = url("round_edit", rnd)
    page = html(client.get(edit))
    assert rnd.name in page and "drops the sample" in page
    data = plan(city, name="改名后的轮次", per_stratum="1", version=rnd.version)
    assert client.post(edit, data).status_code == 302
    rnd.refresh_from_db()
    assert rnd.name == "改名后的轮次" and rnd.per_stratum == 1
    assert not rnd.locations.exists() and rnd.seed is None  # the sample was dropped: draw again
    # A stale copy is refused; a bad period too; nothing changes.
    response = client.post(edit, plan(city, name="又改", version=rnd.version - 1))
    assert response.status_code == 409 and "changed this round meanwhile" in html(response)
    response = client.post(
        edit, plan(city, period_start="2026-12-01", period_end="2026-11-01", version=rnd.version)
    )
    assert response.status_code == 400
    assert Round.objects.get(pk=rnd.pk).name == "改名后的轮次"
    # A started round's plan no longer changes.
    started = make_round(city, status=RoundStatus.ACTIVE, at=T0 + dt.timedelta(days=40))
    assert client.get(url("round_edit", started)).status_code == 409
    response = client.post(
        url("round_edit", started), plan(city, name="x", version=started.version)
    )
    assert response.status_code == 400 and "you cannot change its plan now" in html(response)
    assert Round.objects.get(pk=started.pk).name != "x"


# ---- the sample -----------------------------------------------------------------------------------


def sample(rnd: Round) -> list[tuple[int, str]]:
    return list(
        RoundLocation.objects.filter(round=rnd)
        .order_by("draw_order")
        .values_list("site_id", "stratum")
    )


def test_draw_shows_the_seed_and_the_same_seed_draws_the_same_sample(city):
    make_sites(city)
    rnd = make_round(city, draw=False, per_stratum=2)
    client = login(city, "campaign_office")
    response = client.post(url("round_draw", rnd), {"seed": "42", "version": rnd.version})
    assert response.status_code == 302
    rnd.refresh_from_db()
    first = sample(rnd)
    assert rnd.seed == 42 and len(first) == 2 and len(rnd.frame) == 5
    page = html(client.get(detail(rnd)))
    assert (
        "<code>42</code>" in page and "5 sites" in page and "reproduces this sample exactly" in page
    )
    assert "东关街道" in page  # the stratum, with its frame and sample counts
    # A new random seed, then the first seed again: the first sample comes back.
    assert (
        client.post(url("round_draw", rnd), {"seed": "", "version": rnd.version}).status_code == 302
    )
    rnd.refresh_from_db()
    assert rnd.seed != 42
    assert (
        client.post(url("round_draw", rnd), {"seed": "42", "version": rnd.version}).status_code
        == 302
    )
    assert sample(Round.objects.get(pk=rnd.pk)) == first


def test_bad_draws_are_refused(city):
    open_round = make_round(
        city, kind=RoundKind.OPEN, status=RoundStatus.ACTIVE, at=T0 + dt.timedelta(days=40)
    )
    rnd = make_round(city, draw=False)
    client = login(city, "campaign_office")
    response = client.post(url("round_draw", rnd), {"seed": "abc", "version": rnd.version})
    assert response.status_code == 400 and "Enter a whole number." in html(response)
    response = client.post(url("round_draw", rnd), {"seed": "-1", "version": rnd.version})
    assert response.status_code == 400
    response = client.post(url("round_draw", rnd), {"seed": "1", "version": rnd.version + 5})
    assert response.status_code == 409
    assert not Round.objects.get(pk=rnd.pk).locations.exists()
    # No site in the area: the reason is shown.
    Site.objects.update(active=False)
    response = client.post(url("round_draw", rnd), {"seed": "1", "version": rnd.version})
    assert response.status_code == 400 and "register sites first" in html(response)
    # Not the owner: 403 for a round one may see, 404 for one one may not.
    assert login(city, "inspector").post(url("round_draw", rnd), {"seed": "1"}).status_code == 404
    assert (
        login(city, "leader").post(url("round_draw", open_round), {"seed": "1"}).status_code == 403
    )
    assert login(city, "leader").post(url("round_start", open_round)).status_code == 403


# ---- inspectors, start, close, publish -------------------------------------------------------------


def test_assign_inspectors_with_a_per_location_override(city):
    second = make_inspector(city, "inspector2", "dA")
    make_inspector(city, "inspector_b", "dB")
    rnd = make_round(city, inspectors=())
    locations = list(rnd.locations.order_by("draw_order"))
    client = login(city, "campaign_office")
    page = html(client.get(detail(rnd)))
    assert (
        "inspector2" in page and "inspector_b" not in page
    )  # only inspectors of an overlapping area
    data = {
        "inspectors": [city.users["inspector"].pk, second.pk],
        f"loc_{locations[0].pk}": str(second.pk),
        f"loc_{locations[1].pk}": str(second.pk),
        "version": rnd.version,
    }
    assert client.post(url("round_assign", rnd), data).status_code == 302
    inspectors = list(
        RoundLocation.objects.filter(round=rnd)
        .order_by("draw_order")
        .values_list("inspector__username", flat=True)
    )
    assert inspectors[:2] == ["inspector2", "inspector2"]
    assert set(inspectors[2:]) == {"inspector", "inspector2"}  # the rest round-robin
    assert set(Round.objects.get(pk=rnd.pk).inspectors.values_list("username", flat=True)) == {
        "inspector",
        "inspector2",
    }


def test_bad_assignments_are_refused(city):
    make_inspector(city, "inspector_b", "dB")
    rnd = make_round(city, inspectors=())
    location = rnd.locations.order_by("draw_order").first()
    client = login(city, "campaign_office")
    response = client.post(url("round_assign", rnd), {"inspectors": [], "version": rnd.version})
    assert response.status_code == 400 and "This field is required." in html(response)
    response = client.post(
        url("round_assign", rnd), {"inspectors": [city.users["leader"].pk], "version": rnd.version}
    )
    assert response.status_code == 400 and "Select a valid choice" in html(response)
    response = client.post(
        url("round_assign", rnd),
        {"inspectors": [city.users["inspector_b"].pk], "version": rnd.version},
    )
    assert response.status_code == 400
    # A location given to an inspector not among the round's.
    second = make_inspector(city, "inspector2", "dA")
    response = client.post(
        url("round_assign", rnd),
        {
            "inspectors": [city.users["inspector"].pk],
            f"loc_{location.pk}": str(second.pk),
            "version": rnd.version,
        },
    )
    assert response.status_code == 400 and "Assign locations to the round" in html(response)
    assert not Round.objects.get(pk=rnd.pk).inspectors.exists()
    assert not RoundLocation.objects.filter(round=rnd).exclude(inspector=None).exists()


def test_start_needs_a_sample_and_inspectors(city):
    rnd = make_round(city, draw=False)
    client = login(city, "campaign_office")
    response = client.post(url("round_start", rnd), {"version": rnd.version})
    assert response.status_code == 400
    assert "Draw the sample before starting the round." in html(response)
    assert Round.objects.get(pk=rnd.pk).status == RoundStatus.DRAFT


def test_the_whole_round_through_the_pages(city):
    rnd = make_round(city, kind=RoundKind.UNDERCOVER, inspectors=())
    client = login(city, "campaign_office")
    rnd = Round.objects.get(pk=rnd.pk)
    client.post(
        url("round_assign", rnd),
        {"inspectors": [city.users["inspector"].pk], "version": rnd.version},
    )
    rnd.refresh_from_db()
    assert client.post(url("round_start", rnd), {"version": rnd.version}).status_code == 302
    rnd.refresh_from_db()
    assert rnd.status == RoundStatus.ACTIVE
    # Starting again is refused with the reason.
    response = client.post(url("round_start", rnd), {"version": rnd.version})
    assert response.status_code == 400 and "you cannot start it now" in html(response)
    # Publishing before closing is refused.
    assert client.get(url("round_publish", rnd)).status_code == 409
    assert client.post(url("round_publish", rnd), {"version": rnd.version}).status_code == 400
    location = location_of(rnd, "c1_old", city)
    submit(location, city.users["inspector"], checks=checks_for(location, s1_i2={"occurrences": 1}))
    other = location_of(rnd, "c2_street", city)
    submit(other, city.users["inspector"], checks=checks_for(other, s2_i2={"occurrences": 1}))
    rnd.refresh_from_db()
    assert client.post(url("round_close", rnd), {"version": rnd.version}).status_code == 302
    rnd.refresh_from_db()
    assert rnd.status == RoundStatus.CLOSED
    # The confirmation says how many cases publication opens.
    page = html(client.get(url("round_publish", rnd)))
    assert (
        "2 rectification cases will be opened" in page
        and "becomes visible to the inspected units" in page
    )
    assert "3 of 5 locations were not inspected" in page
    # A stale copy does not publish.
    response = client.post(url("round_publish", rnd), {"version": rnd.version - 1})
    assert response.status_code == 409 and Round.objects.get(pk=rnd.pk).status == RoundStatus.CLOSED
    assert not Case.objects.exists()
    response = client.post(url("round_publish", rnd), {"version": rnd.version})
    assert response.status_code == 302
    rnd.refresh_from_db()
    assert rnd.status == RoundStatus.PUBLISHED and Case.objects.count() == 2
    page = html(client.get(detail(rnd)))
    assert "Findings and rectification" in page and "Being rectified" in page
    for finding in Finding.objects.filter(visit__location__round=rnd):
        assert reverse("web:case", kwargs={"case_id": finding.case_id}) in page
    assert reverse("inspections:round_results", args=[rnd.pk]) in page
    assert f"{reverse('inspections:rankings')}?scope=round&amp;round={rnd.pk}" in page


def test_readers_cannot_act_on_a_round(city):
    rnd = make_round(city, kind=RoundKind.OPEN, status=RoundStatus.CLOSED)
    for key in ("leader", "inspector", "dispatcher"):
        client = login(city, key)
        assert client.get(detail(rnd)).status_code == 200
        assert client.get(url("round_publish", rnd)).status_code == 403
        assert client.post(url("round_publish", rnd), {"version": rnd.version}).status_code == 403
        assert client.post(url("round_close", rnd), {"version": rnd.version}).status_code == 403
        assert (
            client.post(
                url("round_assign", rnd), {"inspectors": [city.users["inspector"].pk]}
            ).status_code
            == 403
        )
        assert client.get(url("round_edit", rnd)).status_code == 403
        assert client.post(url("round_lookback", rnd), {}).status_code == 403
    assert Round.objects.get(pk=rnd.pk).status == RoundStatus.CLOSED


def test_the_map_layers_hold_the_sampled_sites(city):
    rnd = make_round(city)
    client = login(city, "campaign_office")
    page = html(client.get(detail(rnd)))
    assert (
        f'data-boundaries-url="{url("round_sites", rnd)}"' in page
        and f'data-points="{url("round_points", rnd)}"' in page
    )
    outlines = client.get(url("round_sites", rnd)).json()
    points = client.get(url("round_points", rnd)).json()
    assert len(outlines["features"]) == len(points["features"]) == rnd.locations.count() == 5
    assert {f["properties"]["title"] for f in points["features"]} == {
        "幸福巷",
        "幸福里小区",
        "光明小区",
        "和平巷",
        "和平小区",
    }
    assert all(f["geometry"]["type"] == "Point" for f in points["features"])


# ---- the look-back ------------------------------------------------------------------------------


def test_plan_a_lookback_from_a_published_round(city):
    rnd = inspected(city)
    client = login(city, "campaign_office")
    client.post(url("round_publish", rnd), {"version": Round.objects.get(pk=rnd.pk).version})
    rnd.refresh_from_db()
    assert "Plan the look-back" in html(client.get(detail(rnd)))
    published_on = rnd.published_at.astimezone(T0.tzinfo).date()
    bad = {
        "period_start": (published_on - dt.timedelta(days=3)).isoformat(),
        "period_end": (published_on + dt.timedelta(days=7)).isoformat(),
    }
    response = client.post(url("round_lookback", rnd), bad)
    assert (
        response.status_code == 400
        and "A look-back starts after the round was published" in html(response)
    )
    response = client.post(
        url("round_lookback", rnd), {"period_start": "2026-12-30", "period_end": "2026-12-01"}
    )
    assert response.status_code == 400 and "cannot end before it starts" in html(response)
    response = client.post(url("round_lookback", rnd), {"period_start": "", "period_end": ""})
    assert response.status_code == 400
    assert Round.objects.count() == 1
    good = {
        "period_start": (published_on + dt.timedelta(days=10)).isoformat(),
        "period_end": (published_on + dt.timedelta(days=20)).isoformat(),
        "inspectors": [city.users["inspector"].pk],
    }
    response = client.post(url("round_lookback", rnd), good)
    created = Round.objects.get(lookback_of=rnd)
    assert response.status_code == 302 and response["Location"] == detail(created)
    assert list(created.locations.values_list("site__name", flat=True)) == ["幸福里小区"]
    page = html(client.get(detail(created)))
    assert rnd.name in page and "Look-back of" in page and "Draw the sample" not in page
    assert detail(created) in html(client.get(detail(rnd)))
    # Its plan changes without area, standards or sampling (they stay the earlier round's).
    edit = html(client.get(url("round_edit", created)))
    assert (
        'name="period_start"' in edit
        and 'name="standards"' not in edit
        and 'name="area"' not in edit
    )
    data = {
        "name": "回头看（改）",
        "kind": created.kind,
        "period_start": good["period_start"],
        "period_end": good["period_end"],
        "version": created.version,
    }
    assert client.post(url("round_edit", created), data).status_code == 302
    created.refresh_from_db()
    assert created.name == "回头看（改）" and created.locations.count() == 1


def test_no_lookback_before_publication(city):
    rnd = inspected(city)
    client = login(city, "campaign_office")
    assert "Plan the look-back" not in html(client.get(detail(rnd)))
    response = client.post(
        url("round_lookback", rnd), {"period_start": "2026-12-10", "period_end": "2026-12-20"}
    )
    assert response.status_code == 400 and "is not published yet" in html(response)
    assert Round.objects.count() == 1


# ---- the site register ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["campaign_office", "leader", "inspector", "grid_worker", "admin"])
def test_the_register_lists_the_sites_of_ones_area(city, key):
    make_sites(city)
    page = html(login(city, key).get(reverse("inspections:sites")))
    expected = {"campaign_office": 7, "leader": 7, "inspector": 5, "grid_worker": 3, "admin": 7}[
        key
    ]
    assert f"{expected} sites" in page or f"{expected} site" in page
    assert ("Register sites from places" in page) is (key in ("campaign_office", "admin"))


def test_filter_the_register(city):
    make_sites(city)
    client = login(city, "campaign_office")
    page = html(
        client.get(
            reverse("inspections:sites"), {"type": "back_street", "area": city.areas["dA"].pk}
        )
    )
    assert (
        "2 sites" in page
        and "幸福巷" in page
        and "和平巷" in page
        and "团结巷" not in page
        and "幸福里小区" not in page
    )
    page = html(client.get(reverse("inspections:sites"), {"q": "团结"}))
    assert "2 sites" in page
    points = client.get(reverse("inspections:sites_points"), {"type": "old_community"}).json()
    assert len(points["features"]) == 4
    # An unknown filter value is ignored, not an error.
    assert client.get(reverse("inspections:sites"), {"type": "moon"}).status_code == 200


def site_post(**changes):
    data = {
        "name": "新建巷",
        "location_type": "back_street",
        "area": "",
        "unit": "",
        "address": "新建路1号",
        "geometry": json.dumps(
            {"type": "Point", "coordinates": [LON0 + 0.5 * STEP, LAT0 + 1.2 * STEP]}
        ),
    }
    data.update(changes)
    return data


def test_add_a_site(city):
    client = login(city, "campaign_office")
    response = client.post(reverse("inspections:sites"), site_post(unit=city.units["jwc1"].pk))
    assert response.status_code == 302
    site = Site.objects.get(name="新建巷")
    assert (site.area, site.unit, site.address) == (
        city.areas["c1"],
        city.units["jwc1"],
        "新建路1号",
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"geometry": "not json"}, "The geometry is not valid GeoJSON."),
        (
            {"geometry": json.dumps({"type": "Point", "coordinates": [10.0, 10.0]})},
            "The geometry lies outside the city.",
        ),
        (
            {"geometry": json.dumps({"type": "Point", "coordinates": [500, 10]})},
            "longitude/latitude degrees",
        ),
        ({"geometry": ""}, "This field is required."),
        ({"name": ""}, "This field is required."),
        ({"location_type": "castle"}, "Select a valid choice"),
    ],
)
def test_bad_sites_are_refused_and_nothing_is_written(city, changes, message):
    response = login(city, "campaign_office").post(
        reverse("inspections:sites"), site_post(**changes)
    )
    assert response.status_code == 400
    assert message in html(response)
    assert not Site.objects.exists()


def test_a_site_in_another_area_and_a_duplicate_are_refused(city):
    from civicloop.org.models import Role, RoleAssignment, User

    office_b = User.objects.create_user(username="office_b", password="pw")
    RoleAssignment.objects.create(user=office_b, role=Role.CAMPAIGN_OFFICE, area=city.areas["dB"])
    city.users["office_b"] = office_b
    response = login(city, "office_b").post(
        reverse("inspections:sites"), site_post()
    )  # the point lies in c1 (dA)
    assert response.status_code == 403 and not Site.objects.exists()
    client = login(city, "campaign_office")
    assert client.post(reverse("inspections:sites"), site_post()).status_code == 302
    response = client.post(reverse("inspections:sites"), site_post())
    assert response.status_code == 400 and "already has a site of this type" in html(response)
    assert Site.objects.count() == 1


@pytest.mark.parametrize("key", ["leader", "inspector", "unit_staff"])
def test_only_the_campaign_office_registers_sites(city, key):
    client = login(city, key)
    assert client.post(reverse("inspections:sites"), site_post()).status_code == 403
    assert client.post(reverse("inspections:sites_register"), {}).status_code == 403
    assert not Site.objects.exists()


def test_register_sites_from_places(city):
    compound = Compound(name="老纺织厂家属院", community=city.areas["c1"], built_year=1988)
    compound.set_geometry(site_box(0.3, 0.3, 0.6, 0.6))
    compound.save()
    lane = BackStreet(name="团结西巷", street=city.areas["sB"])
    lane.set_geometry(site_box(3.3, 1.0, 3.7, 1.05))
    lane.save()
    client = login(city, "campaign_office")
    response = client.post(reverse("inspections:sites_register"), {"area": city.areas["dA"].pk})
    assert response.status_code == 302
    assert list(Site.objects.values_list("name", "location_type")) == [
        ("老纺织厂家属院", "old_community")
    ]
    response = client.post(reverse("inspections:sites_register"), {})
    assert Site.objects.count() == 2
    response = client.post(reverse("inspections:sites_register"), {}, follow=True)
    assert "registered already" in html(response) and Site.objects.count() == 2
    response = client.post(reverse("inspections:sites_register"), {"area": "999999"})
    assert response.status_code == 400 and "Select a valid choice" in html(response)


def test_the_sample_seed_default_is_recorded_by_make_round(city):
    # The helper's fixed seed shows on the page: a reader can redraw the same sample.
    rnd = make_round(city)
    assert rnd.seed == SEED
    assert f"<code>{SEED}</code>" in html(login(city, "campaign_office").get(detail(rnd)))


def test_the_round_page_query_count_does_not_grow_with_locations(
    city, django_assert_max_num_queries
):
    small = make_round(city, kind=RoundKind.OPEN, status=RoundStatus.ACTIVE, per_stratum=1)
    big = make_round(
        city, kind=RoundKind.OPEN, status=RoundStatus.ACTIVE, at=T0 + dt.timedelta(days=20)
    )
    assert small.locations.count() == 1 and big.locations.count() == 5
    for key in ("campaign_office", "inspector", "leader"):
        client = login(city, key)
        client.get(detail(small))
        with django_assert_max_num_queries(30) as small_queries:
            client.get(detail(small))
        with django_assert_max_num_queries(30) as big_queries:
            client.get(detail(big))
        assert len(big_queries.captured_queries) == len(small_queries.captured_queries), key


def test_a_visit_without_a_position_is_marked_no_gps_not_on_site(city):
    rnd = make_round(city, status=RoundStatus.ACTIVE)
    submit(location_of(rnd, "c1_old", city), city.users["inspector"], lat=None, lon=None)
    page = html(login(city, "campaign_office").get(detail(rnd)))
    row = page[page.index(f'id="loc-{location_of(rnd, "c1_old", city).pk}"') :].split("</tr>")[0]
    assert "no GPS" in row
    other = page[page.index(f'id="loc-{location_of(rnd, "c1_old2", city).pk}"') :].split("</tr>")[0]
    assert "no GPS" not in other
