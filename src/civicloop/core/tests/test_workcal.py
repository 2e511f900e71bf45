"""The working-time calendar against the real 2025 and 2026 State Council notices.

Expected days come from 国办发明电〔2024〕12号 (2025) and 国办发明电〔2025〕7号 (2026),
as carried by chinese-calendar 1.11. The 2027 rows below are test data standing
in for a notice an administrator would enter.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from civicloop.cases.models import TimeLimitKind
from civicloop.core import workcal
from civicloop.core.errors import ErrorCode, ValidationFailed
from civicloop.core.models import CalendarDay

SHANGHAI = ZoneInfo("Asia/Shanghai")
WD = TimeLimitKind.WORKING_DAYS
WH = TimeLimitKind.WORKING_HOURS
EH = TimeLimitKind.EMERGENCY_HOURS
CD = TimeLimitKind.CALENDAR_DAYS


def at(y: int, m: int, d: int, h: int = 0, mi: int = 0, tz: dt.tzinfo = SHANGHAI) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=tz)


def days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(n) for n in range((end - start).days + 1)]


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def new_year_2027() -> None:
    """An administrator entered a (test) 2027 New Year notice: 1–3 Jan rest."""
    for day in (1, 2, 3):
        CalendarDay.objects.create(date=dt.date(2027, 1, day), is_workday=False, name="元旦")


# ---- which days are working days -----------------------------------------------------------


@pytest.mark.django_db
class TestDays2025:
    def test_spring_festival_is_eight_days_off(self) -> None:
        for day in days(dt.date(2025, 1, 28), dt.date(2025, 2, 4)):
            info = workcal.is_workday(day)
            assert (info.is_workday, info.known, info.name) == (False, True, "Spring Festival"), day

    def test_spring_festival_make_up_days_are_working_days(self) -> None:
        # Sunday 26 Jan and Saturday 8 Feb 2025.
        for day in (dt.date(2025, 1, 26), dt.date(2025, 2, 8)):
            assert day.weekday() >= 5
            info = workcal.is_workday(day)
            assert info.is_workday and info.known
            assert info.name == "Make-up working day (Spring Festival)"
        assert workcal.is_workday(dt.date(2025, 1, 27)).is_workday  # Monday before New Year's Eve
        assert workcal.is_workday(dt.date(2025, 2, 5)).is_workday

    def test_national_day_and_mid_autumn(self) -> None:
        off = days(dt.date(2025, 10, 1), dt.date(2025, 10, 8))
        assert all(not workcal.is_workday(day).is_workday for day in off)
        assert workcal.is_workday(dt.date(2025, 10, 6)).name == "Mid-autumn Festival"
        assert workcal.is_workday(dt.date(2025, 10, 1)).name == "National Day"
        for make_up in (dt.date(2025, 9, 28), dt.date(2025, 10, 11)):  # Sunday, Saturday
            assert workcal.is_workday(make_up).is_workday
        assert workcal.is_workday(dt.date(2025, 10, 9)).is_workday

    def test_plain_days(self) -> None:
        assert workcal.is_workday(dt.date(2025, 3, 3)) == workcal.DayInfo(True, "", True)
        assert workcal.is_workday(dt.date(2025, 3, 8)) == workcal.DayInfo(False, "Weekend", True)


@pytest.mark.django_db
class TestDays2026:
    def test_new_year(self) -> None:
        assert [
            workcal.is_workday(d).is_workday for d in days(dt.date(2026, 1, 1), dt.date(2026, 1, 4))
        ] == [
            False,
            False,
            False,
            True,  # Sunday 4 Jan, make-up day
        ]

    def test_spring_festival_nine_days_with_two_saturday_make_ups(self) -> None:
        off = days(dt.date(2026, 2, 15), dt.date(2026, 2, 23))
        assert len(off) == 9
        assert all(not workcal.is_workday(d).is_workday for d in off)
        assert workcal.is_workday(dt.date(2026, 2, 14)).is_workday  # Saturday
        assert workcal.is_workday(dt.date(2026, 2, 28)).is_workday  # Saturday
        assert workcal.is_workday(dt.date(2026, 2, 24)).is_workday

    def test_mid_autumn_and_national_day_are_separate(self) -> None:
        assert all(
            not workcal.is_workday(d).is_workday
            for d in days(dt.date(2026, 9, 25), dt.date(2026, 9, 27))
        )
        assert all(
            not workcal.is_workday(d).is_workday
            for d in days(dt.date(2026, 10, 1), dt.date(2026, 10, 7))
        )
        assert workcal.is_workday(dt.date(2026, 9, 20)).is_workday  # Sunday make-up
        assert workcal.is_workday(dt.date(2026, 10, 10)).is_workday  # Saturday make-up
        assert workcal.is_workday(dt.date(2026, 10, 8)).is_workday  # Thursday after the week off


@pytest.mark.django_db
class TestUnknownYears:
    def test_fallback_is_plain_week_and_marked_unknown(self) -> None:
        assert workcal.is_workday(dt.date(2027, 1, 1)) == workcal.DayInfo(True, "", False)  # Friday
        assert workcal.is_workday(dt.date(2027, 1, 2)) == workcal.DayInfo(False, "Weekend", False)

    @pytest.mark.parametrize("day", [dt.date(1, 1, 1), dt.date(1999, 5, 1), dt.date(9999, 12, 31)])
    def test_never_crashes(self, day: dt.date) -> None:
        assert workcal.is_workday(day).known is False

    def test_published_year_is_known(self, new_year_2027: None) -> None:
        assert workcal.is_workday(dt.date(2027, 1, 1)) == workcal.DayInfo(False, "元旦", True)
        # A day without a row in a published year follows the plain week and is known.
        assert workcal.is_workday(dt.date(2027, 1, 4)) == workcal.DayInfo(True, "", True)
        assert workcal.is_workday(dt.date(2028, 1, 3)).known is False

    def test_aware_datetime_is_read_as_local_date(self) -> None:
        # 30 Sep 2025 17:00 UTC is already 1 Oct in Shanghai.
        assert not workcal.is_workday(at(2025, 9, 30, 17, tz=dt.UTC)).is_workday


@pytest.mark.django_db
class TestAdminOverride:
    def test_admin_row_beats_library(self) -> None:
        # Aksu rests for the Corban festival (a Friday in 2025); the library says work.
        assert workcal.is_workday(dt.date(2025, 6, 6)).is_workday
        CalendarDay.objects.create(date=dt.date(2025, 6, 6), is_workday=False, name="古尔邦节")
        assert workcal.is_workday(dt.date(2025, 6, 6)) == workcal.DayInfo(False, "古尔邦节", True)
        # Thursday 5 Jun, 1 working day: Friday is off now, so Monday 9 Jun.
        deadline = workcal.deadline_for(start=at(2025, 6, 5, 10), kind=WD, value=1)
        assert deadline.at == at(2025, 6, 9, 17, 30)

    def test_admin_can_turn_a_holiday_into_a_working_day(self) -> None:
        CalendarDay.objects.create(
            date=dt.date(2025, 10, 8), is_workday=True, name="local duty day"
        )
        assert workcal.deadline_for(start=at(2025, 9, 30, 10), kind=WD, value=1).at == at(
            2025, 10, 8, 17, 30
        )

    def test_edits_are_seen_at_once_even_without_signals(self) -> None:
        day = CalendarDay.objects.create(
            date=dt.date(2025, 6, 6), is_workday=False, name="古尔邦节"
        )
        assert not workcal.is_workday(dt.date(2025, 6, 6)).is_workday
        # A bulk update (no signals), as another process or a shell would do it.
        CalendarDay.objects.filter(pk=day.pk).update(is_workday=True)
        assert workcal.is_workday(dt.date(2025, 6, 6)).is_workday
        CalendarDay.objects.filter(pk=day.pk).delete()
        assert workcal.is_workday(dt.date(2025, 6, 6)).name == ""


# ---- deadlines ----------------------------------------------------------------------------


@pytest.mark.django_db
class TestWorkingDays:
    def test_dispatched_on_the_eve_of_national_day_2025(self) -> None:
        # Tue 30 Sep, 3 working days: Thu 9, Fri 10 and the make-up Saturday 11 Oct.
        deadline = workcal.deadline_for(start=at(2025, 9, 30, 10), kind=WD, value=3)
        assert deadline == workcal.Deadline(at=at(2025, 10, 11, 17, 30), estimated=False)
        assert deadline.at.utcoffset() == dt.timedelta(hours=8)

    def test_dispatched_before_spring_festival_2025(self) -> None:
        assert workcal.deadline_for(start=at(2025, 1, 27, 15), kind=WD, value=3).at == at(
            2025, 2, 7, 17, 30
        )
        assert workcal.deadline_for(start=at(2025, 1, 27, 15), kind=WD, value=4).at == at(
            2025, 2, 8, 17, 30
        )
        # Saturday 25 Jan: the make-up Sunday 26 Jan is the first working day.
        assert workcal.deadline_for(start=at(2025, 1, 25, 11), kind=WD, value=1).at == at(
            2025, 1, 26, 17, 30
        )

    def test_spring_festival_2026(self) -> None:
        # Fri 13 Feb: the make-up Saturday 14 Feb, then nine days off, then Tue 24 Feb.
        assert workcal.deadline_for(start=at(2026, 2, 13, 9, 30), kind=WD, value=2).at == at(
            2026, 2, 24, 17, 30
        )

    def test_national_day_2026(self) -> None:
        assert workcal.deadline_for(start=at(2026, 9, 18, 10), kind=WD, value=3).at == at(
            2026, 9, 22, 17, 30
        )
        assert workcal.deadline_for(start=at(2026, 9, 30, 16), kind=WD, value=3).at == at(
            2026, 10, 10, 17, 30
        )

    def test_start_day_never_counts(self) -> None:
        # Before office hours, during, after, and late at night: always the next day.
        for hour in (0, 8, 10, 18, 23):
            assert workcal.deadline_for(start=at(2025, 3, 3, hour), kind=WD, value=1).at == at(
                2025, 3, 4, 17, 30
            )

    def test_input_in_another_time_zone(self) -> None:
        # 30 Sep 2025 17:00 UTC is 1 Oct 01:00 in Shanghai, a holiday: same deadline as from 30 Sep.
        deadline = workcal.deadline_for(start=at(2025, 9, 30, 17, tz=dt.UTC), kind=WD, value=3)
        assert deadline.at == at(2025, 10, 11, 17, 30)
        assert deadline.at.tzinfo == SHANGHAI

    def test_fraction_left_after_deferral(self) -> None:
        # 0.5 of a 7-hour office day from Thursday: Friday 9:00–12:00, then 13:30–14:00.
        assert workcal.deadline_for(start=at(2025, 3, 6, 15), kind=WD, value=0.5).at == at(
            2025, 3, 7, 14
        )

    @override_settings(CIVICLOOP={"WORKDAY_HOURS": (("08:30", "12:00"), ("14:30", "18:00"))})
    def test_office_hours_come_from_settings(self) -> None:
        assert workcal.deadline_for(start=at(2025, 3, 3, 10), kind=WD, value=1).at == at(
            2025, 3, 4, 18
        )
        assert workcal.deadline_for(start=at(2025, 3, 3, 11), kind=WH, value=2).at == at(
            2025, 3, 3, 15, 30
        )


@pytest.mark.django_db
class TestWorkingHours:
    def test_across_lunch(self) -> None:
        assert workcal.deadline_for(start=at(2025, 3, 3, 11), kind=WH, value=2).at == at(
            2025, 3, 3, 14, 30
        )
        assert workcal.deadline_for(start=at(2025, 3, 3, 12, 15), kind=WH, value=1).at == at(
            2025, 3, 3, 14, 30
        )

    def test_ending_exactly_at_noon_is_noon(self) -> None:
        assert workcal.deadline_for(start=at(2025, 3, 3, 10), kind=WH, value=2).at == at(
            2025, 3, 3, 12
        )

    def test_overnight_and_before_office(self) -> None:
        assert workcal.deadline_for(start=at(2025, 3, 3, 16, 30), kind=WH, value=3).at == at(
            2025, 3, 4, 11
        )
        assert workcal.deadline_for(start=at(2025, 3, 4, 7), kind=WH, value=1).at == at(
            2025, 3, 4, 10
        )
        assert workcal.deadline_for(start=at(2025, 3, 3, 9), kind=WH, value=7).at == at(
            2025, 3, 3, 17, 30
        )

    def test_over_a_weekend_and_a_long_holiday(self) -> None:
        assert workcal.deadline_for(start=at(2025, 3, 7, 17), kind=WH, value=1).at == at(
            2025, 3, 10, 9, 30
        )
        assert workcal.deadline_for(start=at(2025, 9, 30, 17), kind=WH, value=2).at == at(
            2025, 10, 9, 10, 30
        )


@pytest.mark.django_db
class TestRoundTheClock:
    def test_emergency_hours_ignore_holidays_and_office_hours(self) -> None:
        deadline = workcal.deadline_for(start=at(2025, 10, 1, 22), kind=EH, value=4)
        assert deadline == workcal.Deadline(at=at(2025, 10, 2, 2), estimated=False)

    def test_calendar_days_are_whole_24_hours(self) -> None:
        assert workcal.deadline_for(start=at(2025, 9, 30, 10), kind=CD, value=7).at == at(
            2025, 10, 7, 10
        )

    def test_never_estimated_and_no_query(self, django_assert_num_queries) -> None:
        with django_assert_num_queries(0):
            assert not workcal.deadline_for(start=at(2026, 12, 31, 10), kind=EH, value=48).estimated
            assert not workcal.deadline_for(start=at(2026, 12, 31, 10), kind=CD, value=30).estimated

    @override_settings(TIME_ZONE="America/New_York")
    def test_hours_are_real_elapsed_hours_across_dst(self) -> None:
        new_york = ZoneInfo("America/New_York")
        # Clocks jump forward on 9 Mar 2025 at 02:00: 24 real hours end at 13:00 EDT.
        deadline = workcal.deadline_for(start=at(2025, 3, 8, 12, tz=new_york), kind=EH, value=24)
        assert deadline.at == at(2025, 3, 9, 13, tz=new_york)
        assert deadline.at.tzinfo == new_york


@pytest.mark.django_db
class TestIntoAnUnknownYear:
    def test_without_the_2027_notice_the_deadline_is_estimated(self) -> None:
        # Wed 30 Dec 2026: Thu 31 Dec (known), Fri 1 Jan and Mon 4 Jan 2027 by the plain week.
        deadline = workcal.deadline_for(start=at(2026, 12, 30, 10), kind=WD, value=3)
        assert deadline == workcal.Deadline(at=at(2027, 1, 4, 17, 30), estimated=True)

    def test_with_the_2027_notice_entered_it_is_not(self, new_year_2027: None) -> None:
        deadline = workcal.deadline_for(start=at(2026, 12, 30, 10), kind=WD, value=3)
        assert deadline == workcal.Deadline(at=at(2027, 1, 5, 17, 30), estimated=False)

    def test_a_deadline_inside_known_days_is_not_estimated(self) -> None:
        assert not workcal.deadline_for(start=at(2026, 12, 28, 10), kind=WD, value=3).estimated

    def test_working_hours_into_2027(self) -> None:
        deadline = workcal.deadline_for(start=at(2026, 12, 31, 16), kind=WH, value=2)
        assert deadline == workcal.Deadline(at=at(2027, 1, 1, 9, 30), estimated=True)
        # After office hours on the last known day, 2027 is the only day that matters.
        assert workcal.deadline_for(start=at(2026, 12, 31, 10), kind=WH, value=2).estimated is False


@pytest.mark.django_db
class TestQueries:
    def test_one_query_per_call_whatever_the_span(self, django_assert_num_queries) -> None:
        with django_assert_num_queries(1):
            workcal.deadline_for(start=at(2025, 1, 1, 10), kind=WD, value=400)
        with django_assert_num_queries(1):
            workcal.working_time_between(start=at(2025, 1, 1), end=at(2026, 12, 31), kind=WH)

    def test_a_snapshot_serves_a_batch_with_one_query(self, django_assert_num_queries) -> None:
        with django_assert_num_queries(1):
            calendar = workcal.work_calendar()
            for day in range(1, 29):
                start = at(2025, 2, day, 10)
                deadline = workcal.deadline_for(start=start, kind=WD, value=5, calendar=calendar)
                workcal.remaining_fraction(
                    start=start,
                    deadline=deadline.at,
                    now=at(2025, 3, 1),
                    kind=WD,
                    calendar=calendar,
                )


# ---- measuring used and remaining time --------------------------------------------------


@pytest.mark.django_db
class TestWorkingTimeBetween:
    def test_working_hours(self) -> None:
        assert (
            workcal.working_time_between(
                start=at(2025, 3, 3, 11), end=at(2025, 3, 3, 14, 30), kind=WH
            )
            == 2.0
        )
        assert (
            workcal.working_time_between(
                start=at(2025, 3, 7, 17), end=at(2025, 3, 10, 9, 30), kind=WH
            )
            == 1.0
        )
        assert (
            workcal.working_time_between(
                start=at(2025, 3, 10, 9, 30), end=at(2025, 3, 7, 17), kind=WH
            )
            == -1.0
        )
        assert (
            workcal.working_time_between(start=at(2025, 10, 2), end=at(2025, 10, 5), kind=WH) == 0.0
        )

    def test_working_days_do_not_count_the_start_day(self) -> None:
        start = at(2025, 9, 30, 10)
        assert workcal.working_time_between(start=start, end=at(2025, 9, 30, 17), kind=WD) == 0.0
        assert workcal.working_time_between(
            start=start, end=at(2025, 10, 9, 13, 30), kind=WD
        ) == pytest.approx(3 / 7)
        assert (
            workcal.working_time_between(start=start, end=at(2025, 10, 11, 17, 30), kind=WD) == 3.0
        )

    def test_round_the_clock_kinds(self) -> None:
        assert (
            workcal.working_time_between(start=at(2025, 10, 1), end=at(2025, 10, 2, 12), kind=EH)
            == 36.0
        )
        assert (
            workcal.working_time_between(start=at(2025, 10, 1), end=at(2025, 10, 2, 12), kind=CD)
            == 1.5
        )

    def test_deferral_keeps_the_time_left(self) -> None:
        # 10 working hours from Mon 9:00 (due Tue 12:00); paused Mon 16:30 with 4 h used.
        deadline = workcal.deadline_for(start=at(2025, 3, 3, 9), kind=WH, value=10).at
        assert deadline == at(2025, 3, 4, 12)
        left = workcal.working_time_between(start=at(2025, 3, 3, 16, 30), end=deadline, kind=WH)
        assert left == 4.0
        # Resumed Thursday 15:00: 2.5 h that day, 1.5 h on Friday.
        resumed = workcal.deadline_for(start=at(2025, 3, 6, 15), kind=WH, value=left)
        assert resumed.at == at(2025, 3, 7, 10, 30)


@pytest.mark.django_db
class TestRemainingFraction:
    def test_working_days(self) -> None:
        start, deadline = at(2025, 9, 30, 10), at(2025, 10, 11, 17, 30)
        assert (
            workcal.remaining_fraction(
                start=start, deadline=deadline, now=at(2025, 9, 30, 17), kind=WD
            )
            == 1.0
        )
        assert (
            workcal.remaining_fraction(start=start, deadline=deadline, now=at(2025, 10, 5), kind=WD)
            == 1.0
        )
        assert workcal.remaining_fraction(
            start=start, deadline=deadline, now=at(2025, 10, 10, 17, 30), kind=WD
        ) == pytest.approx(1 / 3)
        assert (
            workcal.remaining_fraction(start=start, deadline=deadline, now=deadline, kind=WD) == 0.0
        )
        assert (
            workcal.remaining_fraction(
                start=start, deadline=deadline, now=at(2025, 10, 20), kind=WD
            )
            == 0.0
        )
        assert (
            workcal.remaining_fraction(start=start, deadline=deadline, now=at(2025, 9, 1), kind=WD)
            == 1.0
        )

    def test_reminder_at_twenty_percent_of_working_hours(self) -> None:
        start = at(2025, 3, 3, 9)
        deadline = workcal.deadline_for(start=start, kind=WH, value=10).at
        now = at(2025, 3, 4, 10)  # 7 h on Monday + 1 h = 8 of 10 used
        assert workcal.remaining_fraction(
            start=start, deadline=deadline, now=now, kind=WH
        ) == pytest.approx(0.2)


# ---- bad input ------------------------------------------------------------------------------


@pytest.mark.django_db
class TestBadInput:
    @pytest.mark.parametrize("value", [0, -1, -0.5, True, float("nan"), "3", None])
    def test_value_must_be_positive_number(self, value: object) -> None:
        with pytest.raises(ValidationFailed) as caught:
            workcal.deadline_for(start=at(2025, 3, 3, 10), kind=WD, value=value)  # type: ignore[arg-type]
        assert caught.value.code == ErrorCode.INVALID
        assert caught.value.field == "value"
        assert "positive number" in caught.value.message

    @pytest.mark.parametrize(
        ("kind", "value"), [(WD, 10**6), (WH, 10**9), (EH, float("inf")), (CD, 10**400)]
    )
    def test_value_too_large(self, kind: str, value: float) -> None:
        with pytest.raises(ValidationFailed, match="too long") as caught:
            workcal.deadline_for(start=at(2025, 3, 3, 10), kind=kind, value=value)
        assert caught.value.field == "value"

    def test_near_the_end_of_time(self) -> None:
        with pytest.raises(ValidationFailed, match="too long"):
            workcal.deadline_for(start=at(9999, 12, 30, 10), kind=WD, value=5)
        with pytest.raises(ValidationFailed, match="too long"):
            workcal.deadline_for(start=at(9999, 12, 30, 10), kind=EH, value=100)

    def test_naive_datetime(self) -> None:
        with pytest.raises(ValidationFailed, match="time zone") as caught:
            workcal.deadline_for(start=dt.datetime(2025, 3, 3, 10), kind=WD, value=3)
        assert caught.value.field == "start"
        with pytest.raises(ValidationFailed) as caught:
            workcal.working_time_between(start=at(2025, 3, 3), end=dt.datetime(2025, 3, 4), kind=WH)
        assert caught.value.field == "end"
        with pytest.raises(ValidationFailed) as caught:
            workcal.remaining_fraction(
                start=at(2025, 3, 3), deadline=at(2025, 3, 4), now=dt.datetime(2025, 3, 3), kind=WH
            )
        assert caught.value.field == "now"
        with pytest.raises(ValidationFailed):
            workcal.is_workday(dt.datetime(2025, 3, 3))  # type: ignore[arg-type]

    def test_unknown_kind(self) -> None:
        with pytest.raises(
            ValidationFailed, match="Unknown time limit type “fortnights”"
        ) as caught:
            workcal.deadline_for(start=at(2025, 3, 3, 10), kind="fortnights", value=3)
        assert caught.value.field == "kind"

    def test_bad_input_makes_no_query(self, django_assert_num_queries) -> None:
        with django_assert_num_queries(0), pytest.raises(ValidationFailed):
            workcal.deadline_for(start=at(2025, 3, 3, 10), kind=WD, value=0)

    @pytest.mark.parametrize(
        "hours",
        [(), (("12:00", "09:00"),), (("09:00", "12:00"), ("11:00", "17:30")), (("9h", "12:00"),)],
    )
    def test_bad_office_hours_setting(self, hours: tuple[tuple[str, str], ...]) -> None:
        with (
            override_settings(CIVICLOOP={"WORKDAY_HOURS": hours}),
            pytest.raises(ImproperlyConfigured),
        ):
            workcal.deadline_for(start=at(2025, 3, 3, 10), kind=WD, value=3)


# ---- properties -----------------------------------------------------------------------------

ZONES = [
    SHANGHAI,
    dt.UTC,
    ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("Pacific/Chatham"),
]
starts = st.builds(
    lambda moment, zone: moment.replace(tzinfo=dt.UTC).astimezone(zone),
    st.datetimes(min_value=dt.datetime(2024, 12, 1), max_value=dt.datetime(2027, 6, 30)),
    st.sampled_from(ZONES),
)
# In memory, no database: the same code path the module functions use after loading.
PLAIN = workcal.WorkCalendar()
PUBLISHED_2027 = workcal.WorkCalendar(
    admin_days={dt.date(2027, 1, d): (False, "元旦") for d in (1, 2, 3)}
)
calendars = st.sampled_from([PLAIN, PUBLISHED_2027])


@settings(max_examples=300, deadline=None)
@given(start=starts, kind=st.sampled_from([WD, WH]), n=st.integers(1, 60), calendar=calendars)
def test_working_time_to_the_deadline_is_the_limit(
    start: dt.datetime, kind: str, n: int, calendar: workcal.WorkCalendar
) -> None:
    deadline = calendar.deadline_for(start=start, kind=kind, value=n)
    assert deadline.at > start
    assert deadline.at.tzinfo == SHANGHAI
    assert calendar.working_time_between(start=start, end=deadline.at, kind=kind) == pytest.approx(
        n, abs=1e-9
    )
    assert calendar.working_time_between(start=deadline.at, end=start, kind=kind) == pytest.approx(
        -n, abs=1e-9
    )
    if kind == WD:
        assert deadline.at.time() == dt.time(17, 30)
        assert calendar.day(deadline.at.date()).is_workday
        assert deadline.at.date() > start.astimezone(SHANGHAI).date()


@settings(max_examples=200, deadline=None)
@given(start=starts, kind=st.sampled_from([WD, WH]), amount=st.floats(0.01, 40), calendar=calendars)
def test_fractions_round_trip(
    start: dt.datetime, kind: str, amount: float, calendar: workcal.WorkCalendar
) -> None:
    deadline = calendar.deadline_for(start=start, kind=kind, value=amount)
    assert calendar.working_time_between(start=start, end=deadline.at, kind=kind) == pytest.approx(
        amount, abs=1e-6
    )


@settings(max_examples=200, deadline=None)
@given(
    start=starts,
    kind=st.sampled_from(list(TimeLimitKind)),
    n=st.integers(1, 40),
    extra=st.integers(1, 20),
)
def test_deadline_is_after_start_and_grows_with_the_limit(
    start: dt.datetime, kind: str, n: int, extra: int
) -> None:
    shorter = PLAIN.deadline_for(start=start, kind=kind, value=n)
    longer = PLAIN.deadline_for(start=start, kind=kind, value=n + extra)
    assert start < shorter.at < longer.at
    # Crossing more days can only make the estimate less certain.
    assert longer.estimated or not shorter.estimated


@settings(max_examples=150, deadline=None)
@given(
    start=starts,
    kind=st.sampled_from(list(TimeLimitKind)),
    n=st.integers(1, 20),
    offsets=st.lists(st.integers(-200, 2000), min_size=2, max_size=2),
)
def test_remaining_fraction_falls_from_one_to_zero(
    start: dt.datetime, kind: str, n: int, offsets: list[int]
) -> None:
    deadline = PLAIN.deadline_for(start=start, kind=kind, value=n).at
    early, late = (start + dt.timedelta(hours=h) for h in sorted(offsets))
    fraction = PLAIN.remaining_fraction
    assert fraction(start=start, deadline=deadline, now=start, kind=kind) == 1.0
    assert fraction(start=start, deadline=deadline, now=deadline, kind=kind) == pytest.approx(
        0.0, abs=1e-9
    )
    assert (
        0.0
        <= fraction(start=start, deadline=deadline, now=late, kind=kind)
        <= fraction(start=start, deadline=deadline, now=early, kind=kind)
        <= 1.0
    )


# ---- admin ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_lists_filters_and_searches_days(
    client, django_user_model, new_year_2027: None
) -> None:
    CalendarDay.objects.create(date=dt.date(2025, 6, 6), is_workday=False, name="古尔邦节")
    admin_user = django_user_model.objects.create_superuser(
        "calendar-admin", "admin@example.cn", "pw"
    )
    client.force_login(admin_user)
    url = "/admin/core/calendarday/"
    page = client.get(url, {"year": "2027"}).content.decode()
    assert "元旦" in page and "古尔邦节" not in page
    page = client.get(url, {"q": "古尔邦"}).content.decode()
    assert "古尔邦节" in page and "元旦" not in page
    page = client.get(url, {"q": "2025-06-06"}).content.decode()
    assert "古尔邦节" in page
    # The library's view of the day is shown next to the override.
    assert "working day" in client.get(url, {"year": "2025"}).content.decode()
    assert client.get(f"{url}add/").status_code == 200
