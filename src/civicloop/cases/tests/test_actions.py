"""The case loop's rules, one behaviour per test (given / when / then)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from civicloop.cases import actions as A
from civicloop.cases import selectors
from civicloop.cases.models import Case, CaseEvent, CaseUnit, EventKind, Photo, Report, State
from civicloop.cases.sweeps import sweep
from civicloop.core.errors import (
    CivicError,
    ConflictError,
    ErrorCode,
    NotFoundOrForbidden,
    PermissionRefused,
    TransitionRefused,
    ValidationFailed,
)
from civicloop.testing import Loop, jpeg_upload

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int, int]:
    return Case.objects.count(), Report.objects.count(), CaseEvent.objects.count(), Photo.objects.count()


# ---- reporting and bad input ---------------------------------------------------------


def test_report_gets_a_ticket_number_and_lands_in_its_grid(city):
    report = Loop(city).report()
    assert re.fullmatch(r"\d{8}-\d{6}", report.ticket_no)
    assert report.case.ticket_no == report.ticket_no
    assert report.case.grid == city.areas["g1"]
    assert report.case.state == State.REPORTED
    assert report.case.area_path == city.areas["g1"].path


def test_ticket_numbers_count_per_local_day(city):
    loop = Loop(city)
    first, second = loop.report(), loop.report(category="C0118")
    assert first.ticket_no[:8] == "20261117"
    assert int(second.ticket_no[-6:]) == int(first.ticket_no[-6:]) + 1


def test_gcj02_point_is_converted_before_the_grid_lookup(city):
    from civicloop.places.coords import wgs84_to_gcj02

    lat, lon = city.point_in("g4")
    glat, glon = wgs84_to_gcj02(lat, lon)
    report = A.case_report(category="E0102", lat=glat, lon=glon, crs="gcj02", description="垃圾", at=Loop(city).tick())
    assert report.case.grid == city.areas["g4"]
    assert (glat, glon) != (lat, lon)  # Aksu is inside China: the offset is real
    assert abs(report.case.lat - lat) < 1e-7 and abs(report.case.lon - lon) < 1e-7


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"category": "X9999"}, ErrorCode.UNKNOWN_CATEGORY),
        ({"lat": 39.9, "lon": 116.4}, ErrorCode.OUTSIDE_GRID),
        ({"description": "   "}, ErrorCode.INVALID),
        ({"description": "长" * 4001}, ErrorCode.INVALID),
        ({"email": "not-an-email"}, ErrorCode.INVALID),
        ({"phone": "call me maybe"}, ErrorCode.INVALID),
        ({"lat": "north", "lon": "east"}, ErrorCode.INVALID),
        ({"photos": [SimpleUploadedFile("x.jpg", b"this is not a picture", content_type="image/jpeg")]}, ErrorCode.BAD_FILE),
    ],
)
def test_bad_report_is_refused_and_nothing_is_written(city, kwargs, code):
    lat, lon = city.point_in("g1")
    args = {"category": "E0102", "lat": lat, "lon": lon, "description": "垃圾堆放", **kwargs}
    before = counts()
    with pytest.raises(CivicError) as err:
        A.case_report(**args)
    assert err.value.code == code
    assert str(err.value)  # a readable reason
    assert counts() == before


def test_oversize_photo_is_refused(city, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "MAX_PHOTO_BYTES": 1000}
    lat, lon = city.point_in("g1")
    before = counts()
    with pytest.raises(CivicError) as err:
        A.case_report(category="E0102", lat=lat, lon=lon, description="垃圾", photos=[jpeg_upload(size=(400, 400))])
    assert err.value.code == ErrorCode.FILE_TOO_LARGE
    assert counts() == before


def test_report_with_photo_keeps_it_as_before_evidence(city):
    report = Loop(city).report(photos=[jpeg_upload("before.jpg")])
    photo = report.case.photos.get()
    assert photo.kind == "before" and photo.event.kind == EventKind.REPORTED


# ---- duplicates ----------------------------------------------------------------------


def test_same_problem_nearby_joins_the_open_case_and_each_reporter_keeps_a_ticket(city):
    loop = Loop(city)
    first = loop.report(by="resident")
    second = loop.report(by="resident2", description="这里垃圾没人管")
    third = loop.report(by=None, email="a@example.com")
    case = Case.objects.get(pk=first.case_id)
    assert second.case_id == third.case_id == case.pk
    assert second.joined_existing and third.joined_existing
    assert case.reporter_count == 3 and case.reports.count() == 3
    assert len({first.ticket_no, second.ticket_no, third.ticket_no}) == 3
    assert selectors.public_case_by_ticket(ticket_no=third.ticket_no).case_ticket_no == case.ticket_no
    assert case.events.filter(kind=EventKind.REPORTER_JOINED).count() == 2


@pytest.mark.parametrize("variant", ["other_category", "far_away", "after_window", "closed"])
def test_reports_that_are_not_duplicates_open_their_own_case(city, variant):
    loop = Loop(city)
    first = loop.to(State.CLOSED) if variant == "closed" else loop.report().case
    if variant == "other_category":
        second = loop.report(category="E0103")
    elif variant == "far_away":
        second = loop.report(grid="g4")
    elif variant == "after_window":
        loop.t += dt.timedelta(hours=73)
        second = loop.report()
    else:
        second = loop.report()
    assert second.case_id != first.pk and not second.joined_existing


def test_joining_a_closed_case_explicitly_is_refused(city):
    loop = Loop(city)
    closed = loop.to(State.CLOSED)
    before = counts()
    with pytest.raises(TransitionRefused):
        loop.report(join_case=closed)
    assert counts() == before


# ---- dispatch and routing --------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "grid", "unit"),
    [("E0102", "g1", "hwc"), ("C0402", "g1", "ylj"), ("E0501", "g1", "jwc1"), ("E0501", "g3", "cgj"), ("C0118", "g4", "cgj")],
)
def test_dispatch_follows_the_most_specific_routing_rule(city, category, grid, unit):
    loop = Loop(city, category=category, grid=grid)
    case = loop.to(State.REGISTERED, category=category, grid=grid)
    dispatcher = loop.u("dispatcher") if grid != "g4" else loop.u("dispatcher_b")
    case = A.case_dispatch(case=case, by=dispatcher, at=loop.tick())
    assert case.unit == city.units[unit]
    assert CaseUnit.objects.get(case=case, role="main", active=True).unit == city.units[unit]
    assert case.deadline_at is not None and case.deadline_at > case.dispatched_at


def test_dispatch_with_co_units_and_deadline_from_the_category(city):
    loop = Loop(city)
    case = loop.to(State.REGISTERED)
    case = A.case_dispatch(case=case, by=loop.u("dispatcher"), unit=city.units["cgj"], co_units=[city.units["jdA"]], at=loop.tick())
    assert set(case.case_units.values_list("unit__code", "role")) == {("U-CGJ", "main"), ("U-SA", "assist")}
    # E0102 暴露垃圾: 4 working hours from Tuesday 11:30 → half an hour before lunch,
    # three and a half after it (13:30–17:00): 17:00 the same day.
    assert timezone.localtime(case.dispatched_at).strftime("%a %H:%M") == "Tue 11:30"
    assert timezone.localtime(case.deadline_at).strftime("%Y-%m-%d %H:%M") == "2026-11-17 17:00"


def test_return_needs_a_reason_and_hands_the_case_back(city):
    loop = Loop(city)
    case = loop.to(State.DISPATCHED)
    staff = loop.handler_for(case)
    before = counts()
    with pytest.raises(ValidationFailed) as err:
        A.case_return(case=case, by=staff, reason="  ")
    assert err.value.code == ErrorCode.REASON_REQUIRED and counts() == before
    case = A.case_return(case=case, by=staff, reason="该路段归园林局管理", at=loop.tick())
    assert case.state == State.RETURNED and case.unit is None and case.return_count == 1
    assert not case.case_units.filter(active=True).exists()
    case = A.case_dispatch(case=case, by=loop.u("dispatcher"), unit=city.units["ylj"], at=loop.tick())
    assert case.unit == city.units["ylj"]


def test_rejection_needs_a_reason(city):
    loop = Loop(city)
    case = loop.report().case
    before = counts()
    with pytest.raises(ValidationFailed):
        A.case_reject(case=case, by=loop.u("dispatcher"), reason="")
    assert counts() == before and Case.objects.get(pk=case.pk).state == State.REPORTED


# ---- verification, rework, look-back ----------------------------------------------------


def test_the_handler_cannot_verify_his_own_work(city):
    loop = Loop(city)
    case = loop.to(State.HANDLED)
    with pytest.raises(PermissionRefused):
        A.case_verify(case=case, by=loop.handler_for(case), passed=True)


def test_failed_verification_is_rework_and_counted(city):
    loop = Loop(city)
    case = loop.to(State.HANDLED)
    case = A.case_verify(case=case, by=loop.u("grid_worker"), passed=False, note="垃圾仍未清运", at=loop.tick())
    assert case.state == State.IN_PROGRESS and case.rework_count == 1 and case.handled_at is None
    staff = loop.handler_for(case)
    case = A.case_feedback(case=case, by=staff, note="已再次清运", photos=[jpeg_upload()], at=loop.tick())
    case = A.case_verify(case=case, by=loop.u("grid_worker"), passed=True, at=loop.tick())
    assert case.state == State.CLOSED and case.rework_count == 1 and case.closed_on_time is True


def test_feedback_needs_an_after_photo(city):
    loop = Loop(city)
    case = loop.to(State.IN_PROGRESS)
    before = counts()
    with pytest.raises(ValidationFailed):
        A.case_feedback(case=case, by=loop.handler_for(case), note="已处理")
    assert counts() == before


def test_lookback_is_refused_before_it_is_due_and_a_recurrence_opens_a_linked_case(city):
    loop = Loop(city)
    case = loop.to(State.CLOSED)
    with pytest.raises(TransitionRefused):
        A.case_lookback(case=case, by=loop.u("grid_worker"), passed=True, at=loop.tick())
    at = case.lookback_due_at + dt.timedelta(minutes=5)
    case = A.case_lookback(case=case, by=loop.u("grid_worker"), passed=False, note="垃圾又堆起来了", at=at)
    assert case.state == State.RECURRED
    new = case.recurrences.get()
    assert new.state == State.REGISTERED and new.source == "lookback" and new.grid == case.grid
    event = case.events.get(kind=EventKind.LOOKBACK_FAILED)
    assert event.data["recurrence"] == new.ticket_no


def test_resident_rates_by_ticket_without_an_account_and_flags_unfixed(city):
    loop = Loop(city)
    case = loop.to(State.CLOSED, by=None)
    ticket = case.reports.get().ticket_no
    case = A.case_rate(case=case, rating="dissatisfied", ticket_no=ticket, unfixed=True, at=loop.tick())
    assert case.rating == "dissatisfied" and case.resident_says_unfixed
    with pytest.raises(NotFoundOrForbidden):
        A.case_rate(case=case, rating="satisfied", ticket_no="20260101-999999")
    with pytest.raises(ValidationFailed):
        A.case_rate(case=case, rating="meh", ticket_no=ticket)


# ---- deadlines, overdue, extension, deferral, urging, escalation --------------------------


def test_overdue_is_computed_from_the_deadline_without_the_worker(city):
    loop = Loop(city)
    case = loop.to(State.IN_PROGRESS)
    assert not selectors.is_overdue(case, now=case.deadline_at - dt.timedelta(minutes=1))
    late = case.deadline_at + dt.timedelta(minutes=1)
    assert selectors.is_overdue(case, now=late)
    listed = selectors.case_list(user=loop.u("dispatcher"), overdue=True, now=late)
    assert case.pk in {c.pk for c in listed}


def test_extension_request_and_denial_need_reasons_and_one_pending_at_a_time(city):
    loop = Loop(city)
    case = loop.to(State.IN_PROGRESS)
    staff, d = loop.handler_for(case), loop.u("dispatcher")
    with pytest.raises(ValidationFailed):
        A.case_request_extension(case=case, by=staff, until=case.deadline_at + dt.timedelta(days=1), reason="")
    with pytest.raises(ValidationFailed):
        A.case_request_extension(case=case, by=staff, until=case.deadline_at - dt.timedelta(hours=1), reason="来不及")
    A.case_request_extension(case=case, by=staff, until=case.deadline_at + dt.timedelta(days=2), reason="需要吊车", at=loop.tick())
    case = Case.objects.get(pk=case.pk)
    with pytest.raises(TransitionRefused):
        A.case_request_extension(case=case, by=staff, until=case.deadline_at + dt.timedelta(days=3), reason="再延", at=loop.tick())
    with pytest.raises(ValidationFailed):
        A.case_decide_extension(case=case, by=d, approve=False, note="")
    deadline = case.deadline_at
    case = A.case_decide_extension(case=case, by=d, approve=False, note="时限内可完成", at=loop.tick())
    assert case.deadline_at == deadline and case.extension_count == 0


def test_deferral_stops_the_clock_and_resume_restores_the_time_left(city):
    loop = Loop(city, category="E0110")  # 道路破损: 5 working days
    case = loop.to(State.IN_PROGRESS, category="E0110")
    d = loop.u("dispatcher")
    case = A.case_defer(case=case, by=d, reason="冬季无法施工", at=loop.tick())
    left = case.events.get(kind=EventKind.DEFERRED).data["remaining"]
    assert 3.5 < left <= 5
    assert not selectors.is_overdue(case, now=case.deadline_at + dt.timedelta(days=30))
    resumed_at = dt.datetime(2026, 12, 1, 9, 0, tzinfo=loop.t.tzinfo)
    case = A.case_resume(case=case, by=d, at=resumed_at)
    assert case.state == State.IN_PROGRESS and case.deadline_at > resumed_at + dt.timedelta(days=3)


def test_deferral_on_the_last_day_gives_back_the_rest_of_that_day(city):
    """A working-days case deferred at 10:00 on its last day keeps 6 office hours
    (10:00–12:00, 13:30–17:30), not zero: resumed on a Monday at 09:00 it is due 16:30."""
    loop = Loop(city, category="E0110")
    case = loop.to(State.IN_PROGRESS, category="E0110")
    last_day = timezone.localtime(case.deadline_at)
    assert last_day.strftime("%H:%M") == "17:30"
    d = loop.u("dispatcher")
    case = A.case_defer(case=case, by=d, reason="等待管线迁改", at=last_day.replace(hour=10, minute=0))
    event = case.events.get(kind=EventKind.DEFERRED)
    assert event.data["remaining"] == 0.0 and event.data["remaining_hours"] == 6.0
    monday = dt.datetime(2026, 12, 7, 9, 0, tzinfo=last_day.tzinfo)
    case = A.case_resume(case=case, by=d, at=monday)
    assert timezone.localtime(case.deadline_at).strftime("%Y-%m-%d %H:%M") == "2026-12-07 16:30"
    assert not selectors.is_overdue(case, now=monday + dt.timedelta(hours=7))


def test_a_case_deferred_while_overdue_is_overdue_again_when_it_resumes(city):
    loop = Loop(city)
    case = loop.to(State.IN_PROGRESS)
    d = loop.u("dispatcher")
    late = case.deadline_at + dt.timedelta(hours=2)
    case = A.case_defer(case=case, by=d, reason="等待上级批复", at=late)
    resumed = A.case_resume(case=case, by=d, at=late + dt.timedelta(days=3))
    assert resumed.deadline_at == late + dt.timedelta(days=3)
    assert selectors.is_overdue(resumed, now=late + dt.timedelta(days=3, minutes=1))


def test_escalation_climbs_the_area_hierarchy_and_stops_at_the_city(city):
    loop = Loop(city)
    case = loop.to(State.IN_PROGRESS)
    names = []
    for _ in range(4):
        case = A.case_escalate(case=case, by=loop.u("dispatcher"), at=loop.tick())
        names.append(case.escalated_to.kind)
    assert names == ["community", "street", "district", "city"]
    with pytest.raises(TransitionRefused):
        A.case_escalate(case=case, by=loop.u("dispatcher"))


def test_worker_sweep_urges_once_and_escalates_by_overdue_time(city):
    loop = Loop(city)
    case = loop.to(State.IN_PROGRESS)
    late = case.deadline_at + dt.timedelta(hours=1)
    first = sweep(now=late)
    again = sweep(now=late + dt.timedelta(minutes=5))
    assert first.urged == 1 and again.urged == 0
    case = Case.objects.get(pk=case.pk)
    assert case.urge_count == 1 and case.escalation_level == 0
    sweep(now=case.deadline_at + dt.timedelta(hours=49))
    assert Case.objects.get(pk=case.pk).escalation_level == 1
    sweep(now=case.deadline_at + dt.timedelta(hours=49))
    assert Case.objects.get(pk=case.pk).escalation_level == 1


def test_sweep_reminds_the_unit_before_the_deadline_and_calls_lookbacks(city):
    from civicloop.notifications.models import Notice

    loop = Loop(city)
    case = loop.to(State.IN_PROGRESS)
    result = sweep(now=case.deadline_at - dt.timedelta(minutes=10))
    assert result.reminded >= 1
    assert Notice.objects.filter(case=case, kind="deadline_near", recipient=loop.u("unit_staff")).exists()
    closed = loop.to(State.CLOSED)
    result = sweep(now=closed.lookback_due_at + dt.timedelta(minutes=1))
    assert Notice.objects.filter(case=closed, kind="lookback_due", recipient=loop.u("grid_worker")).exists()


def test_dispatch_notifies_the_unit_staff(city, django_capture_on_commit_callbacks):
    from civicloop.notifications.models import Notice

    loop = Loop(city)
    # Notices are sent once the transition commits; run those callbacks here.
    with django_capture_on_commit_callbacks(execute=True):
        case = loop.to(State.DISPATCHED)
    assert Notice.objects.filter(case=case, recipient=loop.u("unit_staff")).exists()
    assert not Notice.objects.filter(case=case, recipient=loop.u("park_staff")).exists()


# ---- conflicts and atomicity ---------------------------------------------------------------


def test_a_stale_copy_gets_a_conflict_not_a_silent_overwrite(city):
    loop = Loop(city)
    case = loop.to(State.REGISTERED)
    stale = Case.objects.get(pk=case.pk)
    A.case_dispatch(case=case, by=loop.u("dispatcher"), at=loop.tick())
    with pytest.raises(ConflictError):
        A.case_void(case=stale, by=loop.u("dispatcher"), reason="重复")
    assert Case.objects.get(pk=case.pk).state == State.DISPATCHED


def test_failure_half_way_leaves_the_case_as_it_was(city, monkeypatch):
    loop = Loop(city)
    case = loop.to(State.IN_PROGRESS)
    before = (counts(), Case.objects.filter(pk=case.pk).values().get())

    def boom(*args, **kwargs):
        raise RuntimeError("disk full while storing the photo")

    monkeypatch.setattr("civicloop.cases.evidence.photo_attach", boom)
    with pytest.raises(RuntimeError):
        A.case_feedback(case=case, by=loop.handler_for(case), note="已处理", photos=[jpeg_upload()], at=loop.tick())
    assert (counts(), Case.objects.filter(pk=case.pk).values().get()) == before


def test_events_are_immutable(city):
    from civicloop.cases.models import ImmutableError

    event = Loop(city).report().case.events.get()
    event.note = "rewritten history"
    with pytest.raises(ImmutableError):
        event.save()
    with pytest.raises(ImmutableError):
        event.delete()


def test_each_photo_is_read_and_checked_once(city, monkeypatch):
    from civicloop.cases import evidence

    calls = []
    real = evidence.photo_check
    monkeypatch.setattr(evidence, "photo_check", lambda upload: calls.append(upload) or real(upload))
    loop = Loop(city)
    case = loop.to(State.IN_PROGRESS)
    photos = [jpeg_upload("a.jpg"), jpeg_upload("b.jpg", color=(10, 200, 30))]
    case = A.case_feedback(case=case, by=loop.handler_for(case), note="已清运", photos=photos, at=loop.tick())
    assert len(calls) == 2 and case.photos.filter(kind="after").count() == 2
