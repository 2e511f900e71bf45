"""Look-back rounds (回头看): re-inspect a published round's findings; a recurrence opens a
linked case and counts against the unit."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from civicloop.cases.models import Case, EventKind, Photo, PhotoKind, Source, State
from civicloop.core.errors import (
    NotFoundOrForbidden,
    PermissionRefused,
    TransitionRefused,
    ValidationFailed,
)
from civicloop.inspections.lookback import lookback_create, lookback_summary, recurrences_by_unit
from civicloop.inspections.models import (
    Finding,
    Recheck,
    Round,
    RoundKind,
    RoundLocation,
    RoundStatus,
)
from civicloop.inspections.rectification import FindingState
from civicloop.inspections.rounds import round_close, round_publish, round_start
from civicloop.inspections.visits import PhotoInput, RecheckInput, visit_submit
from civicloop.org import policy
from civicloop.testing import SHANGHAI, T0, jpeg_upload

from .round_helpers import make_round, make_sites, site_point
from .test_rectification import (
    GARBAGE,
    PARKING,
    SORTING,
    STRUCTURE,
    close_case,
    finding_at,
    inspected_round,
)

pytestmark = pytest.mark.django_db

LB_DAY = (T0 + dt.timedelta(days=20)).date()  # Mon 7 Dec 2026, after the publication on 25 Nov


def office(city):
    return city.users["campaign_office"]


def plan(city, rnd, **kw):
    args = {
        "of_round": rnd,
        "by": office(city),
        "period_start": LB_DAY,
        "period_end": LB_DAY + dt.timedelta(days=6),
        "inspectors": [city.users["inspector"]],
        "at": T0 + dt.timedelta(days=20),
    }
    args.update(kw)
    return lookback_create(**args)


def recheck(city, location, verdicts, *, at):
    """Submit the look-back visit of ``location``: ``verdicts`` maps finding ids to recurred?"""
    photos = [
        PhotoInput(jpeg_upload(f"again-{fid}-{i}.jpg", color=(200, 30 * i, 30)), finding_id=fid)
        for fid, recurred in verdicts.items()
        if recurred
        for i in range(max(1, Finding.objects.get(pk=fid).item.photos_required))
    ]
    lat, lon = site_point(location.site)
    return visit_submit(
        location=location,
        by=city.users["inspector"],
        client_uuid=uuid.uuid4(),
        rechecks=[
            RecheckInput(finding_id=fid, recurred=r, note="垃圾又堆起来了" if r else "")
            for fid, r in verdicts.items()
        ],
        photos=photos,
        lat=lat,
        lon=lon,
        at=at,
    )


def rounds_count() -> tuple[int, int]:
    return Round.objects.count(), RoundLocation.objects.count()


# ---- planning -------------------------------------------------------------------------------------------


def test_a_lookback_visits_the_sites_with_findings(city):
    rnd = inspected_round(city)
    lb = plan(city, rnd)
    sites = make_sites(city)
    assert lb.lookback_of == rnd and lb.is_lookback
    assert lb.status == RoundStatus.DRAFT and lb.kind == RoundKind.UNDERCOVER == rnd.kind
    assert lb.area == rnd.area
    assert lb.name == f"{rnd.name} (look-back)"
    assert (lb.period_start, lb.period_end) == (LB_DAY, LB_DAY + dt.timedelta(days=6))
    assert set(lb.standards.all()) == set(rnd.standards.all())
    assert list(lb.inspectors.all()) == [city.users["inspector"]]
    locations = list(lb.locations.order_by("draw_order"))
    assert {loc.site for loc in locations} == {
        sites["c1_street"],
        sites["c2_street"],
    }  # not the clean c1_old2
    earlier = {loc.site_id: loc.standard_id for loc in rnd.locations.all()}
    for loc in locations:
        assert loc.standard_id == earlier[loc.site_id]
        assert loc.stratum == "look-back"
        assert loc.inspector == city.users["inspector"]
    # Undercover until published: the inspected unit does not see the look-back being planned.
    assert not policy.visible_rounds(city.users["community_staff"]).filter(pk=lb.pk).exists()
    assert policy.visible_rounds(city.users["community_staff"]).filter(pk=rnd.pk).exists()


def test_a_given_name_is_kept_and_inspectors_may_come_later(city):
    rnd = inspected_round(city)
    lb = plan(city, rnd, name="  回头看 2026年12月 ", inspectors=())
    assert lb.name == "回头看 2026年12月"
    assert not lb.inspectors.exists() and not lb.locations.exclude(inspector=None).exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"period_start": "12/07/2026"}, "period_start"),
        ({"period_end": LB_DAY - dt.timedelta(days=1)}, "period_end"),
        (
            {"period_start": (T0 + dt.timedelta(days=3)).date()},
            "period_start",
        ),  # before the publication
        ({"name": "很" * 121}, "name"),
    ],
)
def test_bad_plans_are_refused_and_nothing_is_written(city, changes, field):
    rnd = inspected_round(city)
    before = rounds_count()
    with pytest.raises(ValidationFailed) as caught:
        plan(city, rnd, **changes)
    assert caught.value.field == field and caught.value.message
    assert rounds_count() == before


def test_a_refused_inspector_undoes_the_lookback(city):
    rnd = inspected_round(city)
    before = rounds_count()
    with pytest.raises(ValidationFailed) as caught:
        plan(city, rnd, inspectors=[city.users["resident"]])
    assert caught.value.field == "inspectors"
    assert rounds_count() == before


def test_only_a_published_round_is_looked_back_at(city):
    rnd = inspected_round(city, publish=False)
    before = rounds_count()
    with pytest.raises(TransitionRefused):
        plan(city, rnd)
    assert rounds_count() == before


def test_a_lookback_is_not_looked_back_at(city):
    rnd = inspected_round(city)
    lb = plan(city, rnd)
    Round.objects.filter(pk=lb.pk).update(
        status=RoundStatus.PUBLISHED, published_at=T0 + dt.timedelta(days=30)
    )
    lb.refresh_from_db()
    before = rounds_count()
    with pytest.raises(ValidationFailed) as caught:
        plan(
            city,
            lb,
            period_start=LB_DAY + dt.timedelta(days=30),
            period_end=LB_DAY + dt.timedelta(days=35),
        )
    assert caught.value.field == "of_round" and rnd.name in caught.value.message
    assert rounds_count() == before


def test_a_round_without_findings_has_nothing_to_look_back_at(city):
    rnd = make_round(city, status=RoundStatus.PUBLISHED)
    with pytest.raises(ValidationFailed) as caught:
        plan(city, rnd)
    assert caught.value.field == "of_round"


@pytest.mark.parametrize(
    ("persona", "error"),
    [
        ("inspector", PermissionRefused),  # sees the round (his own), does not own it
        ("community_staff", PermissionRefused),  # sees the published round, does not own it
        ("leader_b", NotFoundOrForbidden),  # another district: the round does not exist for him
        ("outsider", NotFoundOrForbidden),
        ("resident", NotFoundOrForbidden),
    ],
)
def test_only_the_owning_campaign_office_plans_a_lookback(city, persona, error):
    rnd = inspected_round(city)
    before = rounds_count()
    with pytest.raises(error):
        plan(city, rnd, by=city.users[persona])
    assert rounds_count() == before


# ---- the whole chain ----------------------------------------------------------------------------------


def run_lookback(city, rnd, verdicts_by_site):
    """Plan, start, recheck, close and publish a look-back of ``rnd``."""
    lb = plan(city, rnd)
    lb = round_start(round=lb, by=office(city), at=T0 + dt.timedelta(days=20, hours=1))
    sites = make_sites(city)
    for key, verdicts in verdicts_by_site.items():
        location = lb.locations.select_related("site").get(site=sites[key])
        recheck(city, location, verdicts, at=T0 + dt.timedelta(days=21))
    lb = round_close(round=lb, by=office(city), at=T0 + dt.timedelta(days=24))
    return lb


def test_a_recurred_finding_opens_a_linked_case_that_counts_against_the_unit(city):
    rnd = inspected_round(city)
    garbage = finding_at(rnd, "c1_street", GARBAGE, city)
    sorting = finding_at(rnd, "c1_street", SORTING, city)
    parking = finding_at(rnd, "c2_street", PARKING, city)
    structure = finding_at(rnd, "c2_street", STRUCTURE, city)
    close_case(
        garbage.case,
        city,
        handler="unit_staff",
        at=dt.datetime(2026, 11, 27, 15, 0, tzinfo=SHANGHAI),
    )

    lb = run_lookback(
        city,
        rnd,
        {
            "c1_street": {garbage.pk: True, sorting.pk: False},
            "c2_street": {parking.pk: False, structure.pk: False},
        },
    )
    assert Case.objects.count() == 4  # nothing opens before the look-back is published
    publish_at = T0 + dt.timedelta(days=25)  # Sat 12 Dec 2026 10:00
    lb = round_publish(round=lb, by=office(city), at=publish_at)

    again = Finding.objects.select_related("case").get(visit__location__round=lb)
    assert again.recurrence_of == garbage and again.unit == garbage.unit == city.units["hwc"]
    case = again.case
    assert case.source == Source.LOOKBACK and case.recurrence_of == garbage.case
    assert case.state == State.DISPATCHED and case.unit == city.units["hwc"]
    # 3 working days from Saturday: Mon 14, Tue 15, Wed 16 Dec, at the close of office hours.
    assert case.deadline_at == dt.datetime(2026, 12, 16, 17, 30, tzinfo=SHANGHAI)
    assert case.description.startswith(f"[Rectification] {lb.name} · 幸福巷 · ")
    assert "垃圾又堆起来了" in case.description
    assert Photo.objects.filter(case=case, kind=PhotoKind.BEFORE).count() == 1
    assert (
        case.events.get(kind=EventKind.REGISTERED).data["recurrence_of"] == garbage.case.ticket_no
    )
    assert Case.objects.count() == 5
    assert policy.visible_cases(city.users["unit_staff"]).filter(pk=case.pk).exists()

    assert recurrences_by_unit([lb]) == {city.units["hwc"].pk: 1}
    assert recurrences_by_unit(Round.objects.filter(pk=lb.pk)) == {city.units["hwc"].pk: 1}
    assert recurrences_by_unit([rnd]) == {}  # the original round's findings are not recurrences

    summary = {row.finding.pk: row for row in lookback_summary(lb, now=publish_at)}
    assert set(summary) == {garbage.pk, sorting.pk, parking.pk, structure.pk}
    row = summary[garbage.pk]
    assert (row.rechecked, row.recurred, row.recurrence, row.case) == (True, True, again, case)
    # The finding was rectified; its recurrence is a new case.
    assert row.state == FindingState.RECTIFIED_IN_TIME
    row = summary[sorting.pk]
    assert (row.rechecked, row.recurred, row.recurrence, row.case) == (True, False, None, None)
    assert row.state == FindingState.OVERDUE
    assert Recheck.objects.filter(visit__location__round=lb).count() == 4


def test_the_summary_shows_findings_not_rechecked_yet(city):
    rnd = inspected_round(city)
    lb = plan(city, rnd)
    rows = lookback_summary(lb)
    assert len(rows) == 4
    assert all((r.rechecked, r.recurred, r.case) == (False, None, None) for r in rows)
    with pytest.raises(ValidationFailed):
        lookback_summary(rnd)
