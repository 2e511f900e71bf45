"""``case_open_assigned``: a case found by staff, registered and dispatched in one action."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from civicloop.cases import actions as A
from civicloop.cases.models import (
    Case,
    CaseEvent,
    CaseUnit,
    EventKind,
    Photo,
    PhotoKind,
    Report,
    Source,
    State,
)
from civicloop.core.errors import CivicError, ErrorCode, ValidationFailed
from civicloop.org import policy
from civicloop.testing import SHANGHAI, T0, jpeg_upload

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int, int, int]:
    return (
        Case.objects.count(),
        Report.objects.count(),
        CaseEvent.objects.count(),
        Photo.objects.count(),
        CaseUnit.objects.count(),
    )


def open_case(city, **kw):
    lat, lon = city.point_in("g1")
    args = {
        "category": "E0102",
        "lat": lat,
        "lon": lon,
        "unit": city.units["hwc"],
        "description": "[督查整改] 楼道垃圾堆积",
        "by": city.users["campaign_office"],
        "source": Source.INSPECTION,
        "at": T0,
    }
    args.update(kw)
    return A.case_open_assigned(**args)


# ---- what it writes -----------------------------------------------------------------------------


def test_the_case_is_registered_and_dispatched_at_once(city):
    office = city.users["campaign_office"]
    case = open_case(city, limit_kind="working_days", limit_value=3, address="幸福路12号")

    assert case.state == State.DISPATCHED
    assert case.source == Source.INSPECTION
    assert case.grid == city.areas["g1"]
    assert case.area_path == city.areas["g1"].path
    assert case.unit == city.units["hwc"]
    assert case.address == "幸福路12号"
    assert case.reported_at == case.registered_at == case.dispatched_at == T0
    assert case.reporter_count == 1 and case.version == 1
    events = list(case.events.order_by("created_at", "id"))
    assert [e.kind for e in events] == [EventKind.REGISTERED, EventKind.DISPATCHED]
    assert [(e.from_state, e.to_state) for e in events] == [
        ("", State.REGISTERED),
        (State.REGISTERED, State.DISPATCHED),
    ]
    assert all(e.actor == office and e.created_at == T0 for e in events)
    assert events[1].data["unit"] == city.units["hwc"].pk
    assert (events[1].data["limit_kind"], events[1].data["limit_value"]) == ("working_days", 3)
    report = case.reports.get()
    assert (
        report.reporter == office
        and report.ticket_no == case.ticket_no
        and report.source == Source.INSPECTION
    )
    link = CaseUnit.objects.get(case=case)
    assert (link.unit, link.role, link.active) == (city.units["hwc"], CaseUnit.Role.MAIN, True)


def test_the_given_limit_sets_the_deadline_else_the_category_does(city):
    # Tuesday 10:00 + 3 working days: Friday at the close of office hours.
    given = open_case(city, limit_kind="working_days", limit_value=3)
    assert given.deadline_at == dt.datetime(2026, 11, 20, 17, 30, tzinfo=SHANGHAI)
    # E0102 (exposed garbage) is 4 working hours: 10:00 → 12:00, 13:30 → 15:30.
    default = open_case(city)
    assert default.deadline_at == dt.datetime(2026, 11, 17, 15, 30, tzinfo=SHANGHAI)
    assert default.events.get(kind=EventKind.DISPATCHED).data["limit_kind"] == "working_hours"


def test_working_days_skip_the_national_day_holiday(city):
    # Wednesday 30 Sep 2026: 1–7 Oct are holidays, Saturday 10 Oct is a make-up working day.
    start = dt.datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
    case = open_case(city, limit_kind="working_days", limit_value=3, at=start)
    assert case.deadline_at == dt.datetime(2026, 10, 10, 17, 30, tzinfo=SHANGHAI)
    assert case.deadline_estimated is False


def test_before_photos_belong_to_the_registration(city):
    case = open_case(city, photos=[jpeg_upload("a.jpg"), jpeg_upload("b.jpg", color=(10, 200, 10))])
    photos = list(Photo.objects.filter(case=case))
    assert len(photos) == 2
    assert {p.kind for p in photos} == {PhotoKind.BEFORE}
    assert {p.event.kind for p in photos} == {EventKind.REGISTERED}
    assert {p.uploaded_by for p in photos} == {city.users["campaign_office"]}


def test_a_look_back_recurrence_links_the_earlier_case(city):
    first = open_case(city)
    again = open_case(
        city, source=Source.LOOKBACK, recurrence_of=first, at=T0 + dt.timedelta(days=30)
    )
    assert again.recurrence_of == first and again.source == Source.LOOKBACK
    assert list(first.recurrences.all()) == [again]
    assert again.events.get(kind=EventKind.REGISTERED).data["recurrence_of"] == first.ticket_no


def test_the_unit_sees_it_and_hears_of_it(city, django_capture_on_commit_callbacks):
    from civicloop.notifications.models import Notice

    with django_capture_on_commit_callbacks(execute=True):
        case = open_case(city)
    assert policy.visible_cases(city.users["unit_staff"]).filter(pk=case.pk).exists()
    assert policy.visible_cases(city.users["dispatcher"]).filter(pk=case.pk).exists()
    assert not policy.visible_cases(city.users["park_staff"]).filter(pk=case.pk).exists()
    assert not policy.visible_cases(city.users["dispatcher_b"]).filter(pk=case.pk).exists()
    assert Notice.objects.filter(case=case, recipient=city.users["unit_staff"]).exists()
    assert not Notice.objects.filter(case=case, recipient=city.users["park_staff"]).exists()


def test_the_rest_of_the_loop_runs_as_for_any_case(city):
    case = open_case(city, limit_kind="working_days", limit_value=3)
    staff, worker = city.users["unit_staff"], city.users["grid_worker"]
    case = A.case_accept(case=case, by=staff, at=T0 + dt.timedelta(hours=1))
    case = A.case_feedback(
        case=case,
        by=staff,
        note="已清理",
        photos=[jpeg_upload("after.jpg")],
        at=T0 + dt.timedelta(days=1),
    )
    case = A.case_verify(case=case, by=worker, passed=True, at=T0 + dt.timedelta(days=1, hours=2))
    assert case.state == State.CLOSED
    assert case.closed_on_time is True and case.handled_on_time is True
    assert list(case.events.order_by("created_at", "id").values_list("kind", flat=True)) == [
        EventKind.REGISTERED,
        EventKind.DISPATCHED,
        EventKind.ACCEPTED,
        EventKind.FEEDBACK,
        EventKind.VERIFIED,
    ]


def test_closing_after_the_limit_is_late(city):
    case = open_case(city, limit_kind="emergency_hours", limit_value=24)
    staff = city.users["unit_staff"]
    case = A.case_accept(case=case, by=staff, at=T0 + dt.timedelta(hours=1))
    case = A.case_feedback(
        case=case, by=staff, note="已清理", photos=[jpeg_upload()], at=T0 + dt.timedelta(hours=30)
    )
    case = A.case_verify(
        case=case, by=city.users["grid_worker"], passed=True, at=T0 + dt.timedelta(hours=31)
    )
    assert case.closed_on_time is False


# ---- bad input: a clear error, nothing written ------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"category": "X9999"}, "category"),
        ({"description": "   "}, "description"),
        ({"description": "很" * 4001}, "description"),
        ({"lat": "north"}, "location"),
        ({"lat": 95.0}, "lat"),
        ({"source": Source.RESIDENT}, "source"),
        ({"source": "carrier pigeon"}, "source"),
        ({"unit": 999_999}, "unit"),
        ({"limit_kind": "fortnights", "limit_value": 2}, "limit_kind"),
        ({"limit_kind": "working_days", "limit_value": 0}, "limit_value"),
        ({"limit_kind": "working_days", "limit_value": -1}, "limit_value"),
        ({"limit_kind": "working_days", "limit_value": True}, "limit_value"),
        ({"limit_kind": "working_days", "limit_value": "3"}, "limit_value"),
        ({"limit_kind": "working_days"}, "limit_value"),
        ({"limit_value": 3}, "limit_kind"),
        ({"recurrence_of": "20261117-000001"}, "recurrence_of"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(city, changes, field):
    before = counts()
    with pytest.raises(CivicError) as caught:
        open_case(city, **changes)
    assert caught.value.field == field
    assert str(caught.value)
    assert counts() == before


def test_a_point_outside_every_grid_is_refused(city):
    before = counts()
    with pytest.raises(CivicError) as caught:
        open_case(city, lat=39.9, lon=116.4)
    assert caught.value.code == ErrorCode.OUTSIDE_GRID
    assert counts() == before


def test_an_inactive_unit_is_refused(city):
    unit = city.units["ylj"]
    unit.active = False
    unit.save(update_fields=["active"])
    before = counts()
    with pytest.raises(ValidationFailed) as caught:
        open_case(city, unit=unit)
    assert caught.value.field == "unit"
    assert counts() == before


def test_a_bad_photo_is_refused_before_anything_is_written(city):
    before = counts()
    bad = SimpleUploadedFile("notes.jpg", b"this is not a photo", content_type="image/jpeg")
    with pytest.raises(CivicError) as caught:
        open_case(city, photos=[jpeg_upload(), bad])
    assert caught.value.code == ErrorCode.BAD_FILE
    assert counts() == before


def test_an_absurd_limit_is_refused_and_nothing_is_written(city):
    before = counts()
    with pytest.raises(ValidationFailed):
        open_case(city, limit_kind="calendar_days", limit_value=10**9)
    assert counts() == before
