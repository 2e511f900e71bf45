"""Working time on the Chinese calendar: which days are working days, when a case is due.

Every case deadline in civicloop is computed here, so the web pages, the API, the
worker and the reports all agree on one rule.

Which days are working days
===========================

For a date ``d`` the answer comes from the first source that knows it:

1. an administrator's :class:`~civicloop.core.models.CalendarDay` row for ``d``
   (a city office enters next year's State Council notice, or a local rest day
   such as the Corban festival in Xinjiang, or corrects the library);
2. the ``chinese-calendar`` library, which carries the State Council's notices,
   official holidays and make-up working days (调休), for the years it knows
   (2004–2026 in version 1.11);
3. the plain week: Monday to Friday work, Saturday and Sunday rest.
   - If administrators have entered at least one day of that year, the year counts
     as *published*: the notice has been entered, days without a row follow the
     plain week and are ``known``. So enter the whole notice of a year (every
     holiday and every make-up working day) at once.
   - Otherwise the plain week is a *fallback* and the day is ``known=False``.
     A deadline whose computation crossed such a day is ``estimated``, and the UI
     shows it as provisional until the year's notice is entered.

Nothing here raises on a year the library does not know; only bad input raises
:class:`~civicloop.core.errors.ValidationFailed`.

Time
====

Day boundaries and office periods are wall-clock times in ``settings.TIME_ZONE``
(the default time zone, never the zone activated for the current user, so a
deadline does not depend on who looks at it). Inputs are aware datetimes in any
zone; results are aware datetimes in ``settings.TIME_ZONE``. Elapsed time is
measured in absolute time (UTC), so daylight saving time elsewhere cannot shift it.

Office periods come from ``settings.CIVICLOOP["WORKDAY_HOURS"]``, by default
09:00–12:00 and 13:30–17:30 (7 office hours a day). Every working day has the
same periods.

Time limit kinds (``civicloop.cases.models.TimeLimitKind``)
============================================================

``emergency_hours``
    Plain clock hours, round the clock, holidays included: ``start + N h``.
    Never estimated; no calendar is consulted.

``calendar_days``
    Exactly ``N × 24 h`` after the start (rolling, like emergency hours, holidays
    included: a calendar-day limit is a 自然日 limit). Chosen over "end of the
    N-th day" so that the deadline keeps the time of day it was set at and a
    deferred case keeps exactly the time it had left. Never estimated.

``working_hours``
    Counted only inside the office periods of working days, from the start
    instant itself. The deadline is the first instant at which N office hours
    have elapsed: 2 h from Monday 11:00 is Monday 14:30 (lunch skipped); 3 h
    from Monday 16:30 is Tuesday 11:00; an amount that ends exactly at 12:00
    ends at 12:00, not at 13:30.

``working_days``
    The day on which the clock starts (dispatch, or resumption after a deferral)
    is not counted, whatever the hour and whether or not it is a working day
    (as in the Civil Code, art. 201: a period counted in days starts on the
    following day). Counting begins at 00:00 of the next local day, and a
    working day is used up by its office hours; so N working days end at the
    close of the office day (17:30 by default) of the N-th working day after
    the start day (art. 203: where there are business hours, the period ends
    when business stops). A case dispatched on Tuesday 30 Sep 2025 at 10:00
    with 3 working days is due on Saturday 11 Oct 2025 at 17:30: 9 Oct,
    10 Oct, and the make-up working day 11 Oct.
    Fractional amounts (what is left after a deferral) are spread over office
    time: one working day is one office day's hours (7 h by default), so
    0.5 working days (3.5 h) started on a Thursday are due on Friday at 14:00
    (9:00–12:00, then 13:30–14:00).

Measuring time already used
===========================

:func:`working_time_between` measures with the same clock as :func:`deadline_for`,
so ``working_time_between(start=s, end=deadline_for(start=s, kind=k, value=n).at,
kind=k) == n`` for every kind. For ``working_days`` that means the day of
``start`` does not count: from Tuesday 10:00 to Tuesday 16:00 is 0 working days,
to Wednesday 17:30 is 1. The measure is signed (``end`` before ``start`` gives a
negative amount) and is 0 for ``start == end``.

:func:`remaining_fraction` is ``1 - used / limit`` where ``used`` is measured from
``start`` to ``now`` and ``limit`` from ``start`` to ``deadline``, clamped to
[0, 1]: 1 before and on the start day (for working days), 0 at and after the
deadline. Overdue status comes from comparing ``now`` with the deadline, not
from this fraction.

A deferral keeps the time left: ``left = working_time_between(start=paused_at,
end=deadline, kind=k)``, then on resumption ``deadline_for(start=resumed_at,
kind=k, value=left)``. For working days both the pause day and the resume day are
treated as clock-start days (the rest of the pause day is not kept, the rest of
the resume day is free), so a case paused on its deadline day keeps 0 days.

Admin days and the database
===========================

The admin days are read once per call with one small query (the rows of the
years the computation can touch), never per day. There is no cross-call cache:
``CalendarDay`` has no modification timestamp, so a cheap version check (count,
highest id) would miss an administrator's in-place edit made in another process
(the admin runs in the web process, deadlines are also computed by the task
worker); reading the rows is as cheap as such a check and always right.
Callers that compute many deadlines at once load a snapshot with
:func:`work_calendar` and pass it as ``calendar=``: then no query at all is made
per case. A snapshot does not see edits made after it was loaded, so keep it for
one request or one batch only.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

import chinese_calendar
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civicloop.cases.models import TimeLimitKind
from civicloop.core.errors import ValidationFailed
from civicloop.core.models import CalendarDay

__all__ = [
    "MAX_SPAN_YEARS",
    "DayInfo",
    "Deadline",
    "WorkCalendar",
    "deadline_for",
    "is_workday",
    "remaining_fraction",
    "work_calendar",
    "working_time_between",
]

UTC = dt.UTC
ONE_DAY = dt.timedelta(days=1)
# A limit reaching further than this is a data-entry error (or an attack), not a case.
MAX_SPAN_YEARS = 10
_MAX_SPAN_DAYS = MAX_SPAN_YEARS * 366

# The library's holiday names (its Holiday enum values), for translation.
_HOLIDAY_NAMES = {
    "New Year's Day": gettext_lazy("New Year's Day"),
    "Spring Festival": gettext_lazy("Spring Festival"),
    "Tomb-sweeping Day": gettext_lazy("Tomb-sweeping Day"),
    "Labour Day": gettext_lazy("Labour Day"),
    "Dragon Boat Festival": gettext_lazy("Dragon Boat Festival"),
    "National Day": gettext_lazy("National Day"),
    "Mid-autumn Festival": gettext_lazy("Mid-autumn Festival"),
    "Anti-Fascist 70th Day": gettext_lazy("Victory Day (70th anniversary)"),
}

_FIELD_LABELS = {
    "start": gettext_lazy("start time"),
    "end": gettext_lazy("end time"),
    "deadline": gettext_lazy("deadline"),
    "now": gettext_lazy("current time"),
    "date": gettext_lazy("date"),
}


@dataclass(frozen=True, slots=True)
class DayInfo:
    """What the calendar says about one date.

    ``known`` is False when neither an administrator nor the library knows the
    year and the plain week was assumed.
    """

    is_workday: bool
    name: str
    known: bool


@dataclass(frozen=True, slots=True)
class Deadline:
    """An aware datetime in ``settings.TIME_ZONE``; ``estimated`` when the
    computation crossed a day of a year whose holidays nobody has entered yet."""

    at: dt.datetime
    estimated: bool


# ---- input checks -------------------------------------------------------------------------


def _aware(value: object, field: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise ValidationFailed(
            _("The %(field)s must be a date and time with a time zone.")
            % {"field": _FIELD_LABELS.get(field, field)},
            field=field,
        )
    return value.astimezone(UTC)


def _kind(value: object) -> TimeLimitKind:
    if isinstance(value, str) and value in TimeLimitKind.values:
        return TimeLimitKind(value)
    raise ValidationFailed(
        _("Unknown time limit type “%(kind)s”; expected one of: %(choices)s.")
        % {"kind": value, "choices": ", ".join(TimeLimitKind.values)},
        field="kind",
    )


def _amount(value: object, kind: TimeLimitKind) -> float:
    # bool is an int; True working days is a bug, not a limit.
    number = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an int beyond float range
            number = math.inf
    if not number > 0:  # also refuses NaN
        raise ValidationFailed(
            _("The time limit must be a positive number, not %(value)s.") % {"value": value},
            field="value",
        )
    hours = (
        number
        if kind in (TimeLimitKind.EMERGENCY_HOURS, TimeLimitKind.WORKING_HOURS)
        else number * 24
    )
    if not hours <= _MAX_SPAN_DAYS * 24:
        raise _too_long(number, kind)
    return number


def _too_long(value: float, kind: TimeLimitKind) -> ValidationFailed:
    return ValidationFailed(
        _(
            "The time limit of %(value)s (%(kind)s) is too long: deadlines more than %(years)s years ahead are not supported."
        )
        % {"value": f"{value:g}", "kind": kind.label, "years": MAX_SPAN_YEARS},
        field="value",
    )


# ---- configuration and the library --------------------------------------------------------


def _parse_clock(text: object) -> dt.time:
    try:
        return dt.time.fromisoformat(str(text))
    except ValueError as exc:
        raise ImproperlyConfigured(
            f'CIVICLOOP["WORKDAY_HOURS"]: {text!r} is not a time like "09:00"'
        ) from exc


def _office_periods() -> tuple[tuple[dt.time, dt.time], ...]:
    raw = cast("Sequence[tuple[str, str]]", settings.CIVICLOOP.get("WORKDAY_HOURS") or ())
    if not raw:
        raise ImproperlyConfigured(
            'CIVICLOOP["WORKDAY_HOURS"] must list at least one office period'
        )
    periods = tuple((_parse_clock(start), _parse_clock(end)) for start, end in raw)
    previous_end = dt.time.min
    for start, end in periods:
        if not start < end or start < previous_end:
            raise ImproperlyConfigured(
                'CIVICLOOP["WORKDAY_HOURS"] periods must be ordered, non-overlapping, and end after they start '
                "on the same day"
            )
        previous_end = end
    return periods


@lru_cache(maxsize=8192)
def _library_day(day: dt.date) -> tuple[bool, str | None] | None:
    """(is a working day, holiday name or None) from the library; None if it lacks the year."""
    try:
        on_holiday, holiday = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return None
    return (not on_holiday, holiday)


def _holiday_label(english: str) -> str:
    label = _HOLIDAY_NAMES.get(english)
    return str(label) if label is not None else english


# ---- the calendar ------------------------------------------------------------------------


class WorkCalendar:
    """A snapshot of the working-day calendar: admin days, library and fallback.

    After construction it never touches the database, so one snapshot serves any
    number of computations (see the module docstring for when to keep one).
    """

    def __init__(
        self,
        *,
        admin_days: Mapping[dt.date, tuple[bool, str]] | None = None,
        years: tuple[int, int | None] | None = None,
    ) -> None:
        self._admin: dict[dt.date, tuple[bool, str]] = dict(admin_days or {})
        self._published_years = frozenset(day.year for day in self._admin)
        # Years whose admin rows were loaded; None means every year.
        self._years = years
        self._periods = _office_periods()
        self._tz = timezone.get_default_timezone()
        reference = dt.date(2000, 1, 3)
        self._office_day = sum(
            (
                dt.datetime.combine(reference, end) - dt.datetime.combine(reference, start)
                for start, end in self._periods
            ),
            dt.timedelta(),
        )
        self._status_memo: dict[dt.date, tuple[bool, bool]] = {}

    @classmethod
    def load(cls, *, first_year: int | None = None, last_year: int | None = None) -> WorkCalendar:
        """Read the admin days (of the given years, inclusive) with one query."""
        rows = CalendarDay.objects.all()
        if first_year is not None:
            rows = rows.filter(date__gte=dt.date(first_year, 1, 1))
        if last_year is not None:
            rows = rows.filter(date__lte=dt.date(last_year, 12, 31))
        admin_days = {
            day: (workday, name)
            for day, workday, name in rows.values_list("date", "is_workday", "name")
        }
        years = (
            None
            if first_year is None and last_year is None
            else (first_year or dt.MINYEAR, last_year)
        )
        return cls(admin_days=admin_days, years=years)

    @property
    def office_periods(self) -> tuple[tuple[dt.time, dt.time], ...]:
        return self._periods

    # -- days --

    def day(self, day: dt.date) -> DayInfo:
        self._check_loaded(day)
        row = self._admin.get(day)
        if row is not None:
            return DayInfo(is_workday=row[0], name=row[1], known=True)
        library = _library_day(day)
        if library is not None:
            workday, holiday = library
            if holiday is None:
                name = "" if workday else _("Weekend")
            elif workday:
                name = _("Make-up working day (%(holiday)s)") % {"holiday": _holiday_label(holiday)}
            else:
                name = _holiday_label(holiday)
            return DayInfo(is_workday=workday, name=name, known=True)
        workday = day.weekday() < 5
        return DayInfo(
            is_workday=workday,
            name="" if workday else _("Weekend"),
            known=day.year in self._published_years,
        )

    def _status(self, day: dt.date) -> tuple[bool, bool]:
        """(is a working day, known) without building names; memoised for loops."""
        status = self._status_memo.get(day)
        if status is None:
            self._check_loaded(day)
            row = self._admin.get(day)
            if row is not None:
                status = (row[0], True)
            else:
                library = _library_day(day)
                if library is not None:
                    status = (library[0], True)
                else:
                    status = (day.weekday() < 5, day.year in self._published_years)
            self._status_memo[day] = status
        return status

    def _check_loaded(self, day: dt.date) -> None:
        if self._years is None:
            return
        first, last = self._years
        if day.year < first or (last is not None and day.year > last):
            # A programming error in this module, not bad input: the loaded rows
            # would silently miss an admin day.
            raise RuntimeError(f"calendar snapshot for years {first}–{last} asked about {day}")

    # -- clock helpers (all datetimes here are aware, in UTC) --

    def _local_date(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self._tz).date()

    def _midnight_after(self, moment: dt.datetime) -> dt.datetime:
        """00:00 local of the day after the one containing ``moment``."""
        return dt.datetime.combine(
            self._local_date(moment) + ONE_DAY, dt.time.min, tzinfo=self._tz
        ).astimezone(UTC)

    def _segments(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        return [
            (
                dt.datetime.combine(day, start, tzinfo=self._tz).astimezone(UTC),
                dt.datetime.combine(day, end, tzinfo=self._tz).astimezone(UTC),
            )
            for start, end in self._periods
        ]

    def _office_time(self, begin: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Office time of working days inside [begin, end], begin <= end."""
        total = dt.timedelta()
        day, last = self._local_date(begin), self._local_date(end)
        while day <= last:
            overlaps = [
                min(seg_end, end) - max(seg_start, begin)
                for seg_start, seg_end in self._segments(day)
            ]
            overlaps = [overlap for overlap in overlaps if overlap > dt.timedelta()]
            if overlaps and self._status(day)[0]:
                total += sum(overlaps, dt.timedelta())
            day += ONE_DAY
        return total

    def _advance(self, begin: dt.datetime, amount: dt.timedelta) -> tuple[dt.datetime, bool]:
        """The first instant at which ``amount`` of office time has elapsed since ``begin``.

        Also says whether any day whose status mattered was a fallback day.
        """
        estimated = False
        day = self._local_date(begin)
        for _scanned in range(_MAX_SPAN_DAYS + 1):
            open_segments = [
                (max(start, begin), end) for start, end in self._segments(day) if end > begin
            ]
            if open_segments:
                workday, known = self._status(day)
                estimated = estimated or not known
                if workday:
                    for start, end in open_segments:
                        available = end - start
                        if amount <= available:
                            return start + amount, estimated
                        amount -= available
            day += ONE_DAY
        raise OverflowError("working time does not fit in the supported span")

    # -- the rules --

    def deadline_for(self, *, start: dt.datetime, kind: str, value: float) -> Deadline:
        """When a time limit of ``value`` (unit of ``kind``) that starts at ``start`` runs out."""
        begin = _aware(start, "start")
        limit_kind = _kind(kind)
        amount = _amount(value, limit_kind)
        try:
            if limit_kind == TimeLimitKind.EMERGENCY_HOURS:
                at, estimated = begin + dt.timedelta(hours=amount), False
            elif limit_kind == TimeLimitKind.CALENDAR_DAYS:
                at, estimated = begin + dt.timedelta(days=amount), False
            elif limit_kind == TimeLimitKind.WORKING_HOURS:
                at, estimated = self._advance(begin, dt.timedelta(hours=amount))
            else:
                at, estimated = self._advance(
                    self._midnight_after(begin), self._office_day * amount
                )
        except OverflowError:
            raise _too_long(amount, limit_kind) from None
        return Deadline(at=at.astimezone(self._tz), estimated=estimated)

    def working_time_between(self, *, start: dt.datetime, end: dt.datetime, kind: str) -> float:
        """Time of ``kind`` from ``start`` to ``end``, in its unit (hours or days), signed."""
        begin, finish = _aware(start, "start"), _aware(end, "end")
        limit_kind = _kind(kind)
        sign = 1.0
        if finish < begin:
            begin, finish, sign = finish, begin, -1.0
        if limit_kind == TimeLimitKind.EMERGENCY_HOURS:
            amount = (finish - begin) / dt.timedelta(hours=1)
        elif limit_kind == TimeLimitKind.CALENDAR_DAYS:
            amount = (finish - begin) / ONE_DAY
        elif limit_kind == TimeLimitKind.WORKING_HOURS:
            amount = self._office_time(begin, finish) / dt.timedelta(hours=1)
        else:
            counted_from = self._midnight_after(begin)
            if finish <= counted_from:
                return 0.0
            amount = self._office_time(counted_from, finish) / self._office_day
        return sign * amount if amount else 0.0

    def remaining_fraction(
        self, *, start: dt.datetime, deadline: dt.datetime, now: dt.datetime, kind: str
    ) -> float:
        """Share of the time limit still left at ``now``, in [0, 1]."""
        _aware(deadline, "deadline")
        _aware(now, "now")
        limit = self.working_time_between(start=start, end=deadline, kind=kind)
        if limit <= 0:
            return 0.0 if now >= deadline else 1.0
        used = self.working_time_between(start=start, end=now, kind=kind)
        return min(1.0, max(0.0, 1.0 - used / limit))


# ---- module API: each call loads what it needs with at most one query ---------------------

_CALENDAR_KINDS = (TimeLimitKind.WORKING_HOURS, TimeLimitKind.WORKING_DAYS)


def work_calendar() -> WorkCalendar:
    """A snapshot of all admin days, for computing many deadlines with one query."""
    return WorkCalendar.load()


def _years_of(moments: Iterable[dt.datetime]) -> tuple[int, int]:
    tz = timezone.get_default_timezone()
    years = [moment.astimezone(tz).year for moment in moments]
    return min(years), max(years)


def is_workday(day: dt.date, *, calendar: WorkCalendar | None = None) -> DayInfo:
    """Whether ``day`` is a working day, its name (holiday, make-up day) and whether it is known.

    An aware datetime is read as its local date in ``settings.TIME_ZONE``.
    """
    if isinstance(day, dt.datetime):
        day = _aware(day, "date").astimezone(timezone.get_default_timezone()).date()
    elif not isinstance(day, dt.date):
        raise ValidationFailed(_("“%(value)s” is not a date.") % {"value": day}, field="date")
    if calendar is None:
        calendar = WorkCalendar.load(first_year=day.year, last_year=day.year)
    return calendar.day(day)


def deadline_for(
    *, start: dt.datetime, kind: str, value: float, calendar: WorkCalendar | None = None
) -> Deadline:
    """The deadline of a time limit of ``value`` units of ``kind`` starting at ``start``.

    ``value`` is normally a whole number from a category; a fraction (the time left
    after a deferral) is allowed. Raises ``ValidationFailed`` for a non-positive or
    absurdly large value, a naive ``start`` or an unknown kind.
    """
    begin = _aware(start, "start")
    limit_kind = _kind(kind)
    _amount(value, limit_kind)
    if calendar is None:
        if limit_kind in _CALENDAR_KINDS:
            calendar = WorkCalendar.load(first_year=_years_of([begin])[0])
        else:
            calendar = WorkCalendar()
    return calendar.deadline_for(start=start, kind=limit_kind, value=value)


def working_time_between(
    *, start: dt.datetime, end: dt.datetime, kind: str, calendar: WorkCalendar | None = None
) -> float:
    """Time of ``kind`` between two instants: hours for the hour kinds, days for the day kinds."""
    begin, finish = _aware(start, "start"), _aware(end, "end")
    limit_kind = _kind(kind)
    if calendar is None:
        if limit_kind in _CALENDAR_KINDS:
            first, last = _years_of([begin, finish])
            calendar = WorkCalendar.load(first_year=first, last_year=last)
        else:
            calendar = WorkCalendar()
    return calendar.working_time_between(start=start, end=end, kind=limit_kind)


def remaining_fraction(
    *,
    start: dt.datetime,
    deadline: dt.datetime,
    now: dt.datetime,
    kind: str,
    calendar: WorkCalendar | None = None,
) -> float:
    """Share of the limit left at ``now``: 1.0 untouched, 0.0 used up or overdue."""
    moments = [_aware(start, "start"), _aware(deadline, "deadline"), _aware(now, "now")]
    limit_kind = _kind(kind)
    if calendar is None:
        if limit_kind in _CALENDAR_KINDS:
            first, last = _years_of(moments)
            calendar = WorkCalendar.load(first_year=first, last_year=last)
        else:
            calendar = WorkCalendar()
    return calendar.remaining_fraction(start=start, deadline=deadline, now=now, kind=limit_kind)
