"""Rectification (限期整改): a published round's findings become cases in the case loop,
and each finding shows whether it was rectified, in time or late."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pytest

from civicloop.cases import actions as A
from civicloop.cases.models import (
    Case,
    CaseEvent,
    Category,
    EventKind,
    Photo,
    PhotoKind,
    RoutingRule,
    Source,
    State,
)
from civicloop.core.errors import CivicError, ErrorCode, TransitionRefused, ValidationFailed
from civicloop.inspections.models import (
    Finding,
    Round,
    RoundLocation,
    RoundStatus,
    Site,
    VisitPhoto,
)
from civicloop.inspections.rectification import (
    FindingState,
    finding_state,
    findings_for_unit,
    findings_open_cases,
    findings_with_state,
)
from civicloop.inspections.rounds import round_publish
from civicloop.inspections.scoring import item_key
from civicloop.inspections.sites import site_create
from civicloop.org import policy
from civicloop.testing import SHANGHAI, T0, jpeg_upload

from .round_helpers import advance, make_round, make_sites, site_box
from .visit_helpers import checks_for, items_of, location_of, photos_for, submit

if TYPE_CHECKING:
    from civicloop.testing import TestCity

pytestmark = pytest.mark.django_db

# make_round / advance publish 8 days after T0: Wed 25 Nov 2026 10:00.
PUBLISHED_AT = T0 + dt.timedelta(days=8)
# Items of the test standards (helpers.old_community_sections) by scoring key.
GARBAGE, SORTING, PARKING, STRUCTURE = "s1_i1", "s1_i2", "s2_i1", "s2_i2"


# ---- helpers shared with test_lookback --------------------------------------------------------------


def record_visit(
    city: TestCity,
    location: RoundLocation,
    found: Mapping[str, int] | None = None,
    *,
    description: str = "",
    at: dt.datetime | None = None,
):
    """A complete visit through ``visit_submit``: ``found`` maps item keys to occurrences;
    each item found gets the photos its standard requires (at least one)."""
    found = found or {}
    items = items_of(location)
    checks = checks_for(
        location,
        **{key: {"occurrences": n, "description": description} for key, n in found.items()},
    )
    photos = [
        p for key in found for p in photos_for(items[key], max(1, items[key].photos_required))
    ]
    return submit(
        location,
        city.users["inspector"],
        checks=checks,
        photos=photos,
        at=at or T0 + dt.timedelta(days=2),
    )


def inspected_round(
    city: TestCity, *, publish: bool = True, extra: Mapping[str, Mapping] | None = None
) -> Round:
    """An undercover round of district A with findings at two back streets; ``extra`` maps
    further site names to what was found there."""
    rnd = make_round(city, status=RoundStatus.ACTIVE)
    record_visit(
        city,
        location_of(rnd, "c1_street", city),
        {GARBAGE: 2, SORTING: 1},
        description="楼道垃圾堆积两处",
    )
    record_visit(city, location_of(rnd, "c2_street", city), {PARKING: 3, STRUCTURE: 1})
    record_visit(city, location_of(rnd, "c1_old2", city))  # nothing found
    for name, found in (extra or {}).items():
        record_visit(city, location_of(rnd, Site.objects.get(name=name)), found)
    return advance(city, rnd, RoundStatus.PUBLISHED if publish else RoundStatus.CLOSED)


def finding_at(rnd: Round, site_key: str, item: str, city: TestCity) -> Finding:
    found = Finding.objects.select_related("case", "unit", "item__section").filter(
        visit__location__round=rnd, visit__location__site=make_sites(city)[site_key]
    )
    (finding,) = [f for f in found if item_key(f.item.section.position, f.item.position) == item]
    return finding


def close_case(case: Case, city: TestCity, *, handler: str, at: dt.datetime) -> Case:
    if case.state == State.DISPATCHED:
        case = A.case_accept(case=case, by=city.users[handler], at=at - dt.timedelta(hours=2))
    case = A.case_feedback(
        case=case,
        by=city.users[handler],
        note="已整改",
        photos=[jpeg_upload("after.jpg")],
        at=at - dt.timedelta(hours=1),
    )
    return A.case_verify(case=case, by=city.users["dispatcher"], passed=True, at=at)


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


# ---- publication opens the cases -------------------------------------------------------------------


def test_no_case_exists_before_publication(city):
    rnd = inspected_round(city, publish=False)
    assert Finding.objects.filter(visit__location__round=rnd).count() == 4
    assert not Case.objects.exists()
    finding = finding_at(rnd, "c1_street", SORTING, city)
    assert finding_state(finding) == FindingState.PENDING
    assert not findings_for_unit(city.users["community_staff"]).exists()


def test_publication_opens_one_dispatched_case_per_finding(city):
    rnd = inspected_round(city)
    findings = list(Finding.objects.filter(visit__location__round=rnd).select_related("case"))
    assert len(findings) == 4 and Case.objects.count() == 4
    for finding in findings:
        case = finding.case
        assert case is not None and case.state == State.DISPATCHED
        assert case.source == Source.INSPECTION and case.recurrence_of is None
        assert case.unit_id == finding.unit_id
        assert case.dispatched_at == case.registered_at == PUBLISHED_AT
        assert (case.lat, case.lon) == (finding.lat, finding.lon)
        assert [e.kind for e in case.events.order_by("id")] == [
            EventKind.REGISTERED,
            EventKind.DISPATCHED,
        ]
        assert case.reports.get().reporter == city.users["campaign_office"]


def test_each_case_has_the_items_deadline_and_responsible_unit(city):
    rnd = inspected_round(city)
    units = city.units
    expected = {
        # item: (site, unit, deadline)
        # 3 working days; the item names its unit
        GARBAGE: ("c1_street", units["hwc"], local(2026, 11, 30, 17, 30)),
        # 8 working hours; the site's unit
        SORTING: ("c1_street", units["jwc1"], local(2026, 11, 26, 11, 0)),
        # 24 hours round the clock
        PARKING: ("c2_street", units["hwc"], local(2026, 11, 26, 10, 0)),
        # 7 calendar days
        STRUCTURE: ("c2_street", units["hwc"], local(2026, 12, 2, 10, 0)),
    }
    for item, (site, unit, deadline) in expected.items():
        case = finding_at(rnd, site, item, city).case
        assert (case.unit, case.deadline_at) == (unit, deadline), item


def test_the_category_is_the_items_else_the_default(city, settings):
    settings.CIVICLOOP = {
        **settings.CIVICLOOP,
        "INSPECTIONS": {**settings.CIVICLOOP["INSPECTIONS"], "DEFAULT_CATEGORY": "E0104"},
    }
    rnd = inspected_round(city)
    named, default = (
        finding_at(rnd, "c1_street", GARBAGE, city),
        finding_at(rnd, "c1_street", SORTING, city),
    )
    assert named.case.category.code == "E0102"  # the item names it
    assert default.case.category.code == "E0104"  # the item names none


def test_the_case_text_names_round_site_item_and_finding(city):
    rnd = inspected_round(city)
    finding = finding_at(rnd, "c1_street", GARBAGE, city)
    text = finding.case.description
    assert text.startswith("[Rectification] ")
    for part in (rnd.name, "幸福巷", finding.item.content, "楼道垃圾堆积两处"):
        assert part in text
    # A finding described only by its item does not repeat the item.
    bare = finding_at(rnd, "c2_street", PARKING, city)
    assert bare.case.description == f"[Rectification] {rnd.name} · 和平巷 · {bare.item.content}"


def test_the_findings_photos_become_before_photos(city):
    rnd = inspected_round(city)
    finding = finding_at(rnd, "c2_street", PARKING, city)
    taken = VisitPhoto.objects.filter(finding=finding).count()
    assert taken == 2
    photos = Photo.objects.filter(case=finding.case)
    assert photos.count() == taken
    assert set(photos.values_list("kind", flat=True)) == {PhotoKind.BEFORE}
    assert set(photos.values_list("event__kind", flat=True)) == {EventKind.REGISTERED}


def test_a_lost_photo_file_does_not_stop_publication(city, caplog):
    rnd = inspected_round(city, publish=False)
    parking = finding_at(rnd, "c2_street", PARKING, city)
    lost, kept = VisitPhoto.objects.filter(finding=parking).order_by("pk")
    lost.image.storage.delete(lost.image.name)
    advance(city, rnd, RoundStatus.PUBLISHED)
    parking.refresh_from_db()
    assert Photo.objects.filter(case=parking.case).count() == 1
    assert f"Visit photo {lost.pk}" in caplog.text


def test_the_unit_sees_its_cases_and_findings(city, django_capture_on_commit_callbacks):
    from civicloop.notifications.models import Notice

    with django_capture_on_commit_callbacks(execute=True):
        rnd = inspected_round(city)
    staff = city.users["community_staff"]
    sorting = finding_at(rnd, "c1_street", SORTING, city)
    assert policy.visible_cases(staff).filter(pk=sorting.case_id).exists()
    assert Notice.objects.filter(case=sorting.case, recipient=staff).exists()
    mine = list(findings_for_unit(staff, now=PUBLISHED_AT + dt.timedelta(minutes=5)))
    assert [(f.pk, f.state) for f in mine] == [(sorting.pk, FindingState.OPEN)]
    assert len(findings_for_unit(city.users["unit_staff"])) == 3
    assert not findings_for_unit(city.users["park_staff"]).exists()
    assert not findings_for_unit(city.users["resident"]).exists()


def test_a_finding_without_a_unit_goes_to_the_routing_default(city):
    make_sites(city)
    site_create(
        by=city.users["campaign_office"],
        name="无名巷",
        location_type="back_street",
        geometry=site_box(2.2, 1.0, 2.8, 1.1),
    )
    rnd = inspected_round(city, extra={"无名巷": {SORTING: 1}})
    finding = Finding.objects.get(visit__location__round=rnd, visit__location__site__name="无名巷")
    assert finding.unit is None
    # The routing rule: city appearance events → sanitation.
    assert finding.case.unit == city.units["hwc"]


def test_publication_is_refused_naming_findings_without_any_unit(city):
    make_sites(city)
    site_create(
        by=city.users["campaign_office"],
        name="无名巷",
        location_type="back_street",
        geometry=site_box(2.2, 1.0, 2.8, 1.1),
    )
    rnd = inspected_round(city, publish=False, extra={"无名巷": {SORTING: 1}})
    RoutingRule.objects.all().delete()
    with pytest.raises(ValidationFailed) as caught:
        round_publish(round=rnd, by=city.users["campaign_office"], at=PUBLISHED_AT)
    assert "无名巷" in caught.value.message and "1 finding" in caught.value.message
    assert caught.value.field == "unit"
    assert Round.objects.get(pk=rnd.pk).status == RoundStatus.CLOSED
    assert not Case.objects.exists() and not Finding.objects.filter(case__isnull=False).exists()


def test_an_unknown_default_category_refuses_publication_and_writes_nothing(city, settings):
    settings.CIVICLOOP = {
        **settings.CIVICLOOP,
        "INSPECTIONS": {**settings.CIVICLOOP["INSPECTIONS"], "DEFAULT_CATEGORY": "X9999"},
    }
    rnd = inspected_round(city, publish=False)
    with pytest.raises(ValidationFailed) as caught:
        round_publish(round=rnd, by=city.users["campaign_office"], at=PUBLISHED_AT)
    assert "X9999" in caught.value.message
    assert Round.objects.get(pk=rnd.pk).status == RoundStatus.CLOSED
    assert not Case.objects.exists() and not CaseEvent.objects.exists()


def test_a_case_refused_by_the_case_loop_names_its_finding_and_undoes_everything(city, settings):
    settings.CIVICLOOP = {
        **settings.CIVICLOOP,
        "INSPECTIONS": {**settings.CIVICLOOP["INSPECTIONS"], "DEFAULT_CATEGORY": "E0104"},
    }
    rnd = inspected_round(city, publish=False)
    Category.objects.filter(code="E0102").update(active=False)  # the garbage item's category
    with pytest.raises(CivicError) as caught:
        round_publish(round=rnd, by=city.users["campaign_office"], at=PUBLISHED_AT)
    assert caught.value.code == ErrorCode.UNKNOWN_CATEGORY
    assert "幸福巷" in caught.value.message and "E0102" in caught.value.message
    assert Round.objects.get(pk=rnd.pk).status == RoundStatus.CLOSED
    assert not Case.objects.exists() and not Photo.objects.exists()


def test_opening_is_idempotent_and_needs_a_published_round(city):
    rnd = inspected_round(city)
    assert findings_open_cases(round=rnd, by=city.users["campaign_office"], at=PUBLISHED_AT) == []
    assert Case.objects.count() == 4
    closed = make_round(city, status=RoundStatus.CLOSED, area="dB", name="团结暗访")
    with pytest.raises(TransitionRefused):
        findings_open_cases(round=closed, by=city.users["campaign_office"])


# ---- the finding follows its case ------------------------------------------------------------------


def test_rectified_in_time_late_overdue_and_open(city):
    rnd = inspected_round(city)
    garbage = finding_at(rnd, "c1_street", GARBAGE, city)  # due Mon 30 Nov 17:30
    sorting = finding_at(rnd, "c1_street", SORTING, city)  # due Thu 26 Nov 11:00
    parking = finding_at(rnd, "c2_street", PARKING, city)  # due Thu 26 Nov 10:00
    structure = finding_at(rnd, "c2_street", STRUCTURE, city)  # due Wed 2 Dec 10:00

    close_case(garbage.case, city, handler="unit_staff", at=local(2026, 11, 27, 15, 0))
    close_case(sorting.case, city, handler="community_staff", at=local(2026, 11, 27, 15, 0))
    A.case_accept(case=parking.case, by=city.users["unit_staff"], at=local(2026, 11, 25, 11, 0))

    before = local(2026, 11, 25, 12, 0)
    after = local(2026, 11, 28, 9, 0)
    assert finding_state(garbage, after) == FindingState.RECTIFIED_IN_TIME
    assert finding_state(sorting, after) == FindingState.RECTIFIED_LATE
    assert finding_state(parking, before) == FindingState.OPEN
    assert finding_state(parking, after) == FindingState.OVERDUE
    assert finding_state(structure, after) == FindingState.OPEN
    annotated = {
        f.pk: f.state
        for f in findings_with_state(Finding.objects.filter(visit__location__round=rnd), after)
    }
    assert annotated == {
        garbage.pk: FindingState.RECTIFIED_IN_TIME,
        sorting.pk: FindingState.RECTIFIED_LATE,
        parking.pk: FindingState.OVERDUE,
        structure.pk: FindingState.OPEN,
    }


def test_an_approved_extension_counts_as_the_deadline(city):
    rnd = inspected_round(city)
    structure = finding_at(rnd, "c2_street", STRUCTURE, city)  # due Wed 2 Dec 10:00
    staff, dispatcher = city.users["unit_staff"], city.users["dispatcher"]
    case = A.case_accept(case=structure.case, by=staff, at=local(2026, 11, 26, 9, 0))
    A.case_request_extension(
        case=case,
        by=staff,
        until=local(2026, 12, 10, 17, 30),
        reason="需拆除审批",
        at=local(2026, 11, 27, 9, 0),
    )
    A.case_decide_extension(
        case=Case.objects.get(pk=case.pk),
        by=dispatcher,
        approve=True,
        at=local(2026, 11, 27, 10, 0),
    )
    # Past the first deadline, not the new one.
    assert finding_state(structure, local(2026, 12, 5, 9, 0)) == FindingState.OPEN
    close_case(
        Case.objects.get(pk=case.pk), city, handler="unit_staff", at=local(2026, 12, 8, 15, 0)
    )
    assert finding_state(structure, local(2026, 12, 9, 9, 0)) == FindingState.RECTIFIED_IN_TIME


def test_a_voided_case_leaves_its_finding_open(city):
    rnd = inspected_round(city)
    parking = finding_at(rnd, "c2_street", PARKING, city)
    case = A.case_return(
        case=parking.case,
        by=city.users["unit_staff"],
        reason="不属于本单位职责",
        at=local(2026, 11, 25, 11, 0),
    )
    A.case_void(
        case=case, by=city.users["dispatcher"], reason="误报", at=local(2026, 11, 25, 12, 0)
    )
    assert finding_state(parking, local(2026, 12, 20, 9, 0)) == FindingState.OPEN


def test_rectification_cases_stay_out_of_public_lists_and_are_not_joined_by_residents(city):
    """Open311 lists (policy.public_cases) and duplicate detection leave a finding's case out:
    its text and photos are the inspection's results."""
    from civicloop.cases.actions import duplicate_candidates
    from civicloop.org import policy

    rnd = inspected_round(city)
    cases = list(Case.objects.filter(finding__visit__location__round=rnd))
    assert cases
    assert not policy.public_cases().filter(pk__in=[c.pk for c in cases]).exists()
    for case in cases:
        found = duplicate_candidates(category=case.category, lat=case.lat, lon=case.lon, at=case.reported_at)
        assert case.pk not in {c.pk for c, _d in found}
