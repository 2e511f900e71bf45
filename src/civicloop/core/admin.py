"""Admin for the working-day calendar: a city office enters the State Council's
notice for a year the calendar library does not know yet, or a local rest day.

Enter a year's whole notice at once (every holiday and every make-up working
day): as soon as a year has one admin day, civicloop treats that year as
published and stops marking its deadlines as estimated (see ``core.workcal``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from civicloop.core import workcal
from civicloop.core.models import CalendarDay


class YearFilter(admin.SimpleListFilter):
    title = _("year")
    parameter_name = "year"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        years = CalendarDay.objects.dates("date", "year", order="DESC")
        return [(str(year.year), str(year.year)) for year in years]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[CalendarDay]
    ) -> QuerySet[CalendarDay]:
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(date__year=int(value))
        return queryset


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin[CalendarDay]):
    list_display = ("date", "weekday", "is_workday", "name", "library_says")
    list_filter = (YearFilter, "is_workday")
    search_fields = ("name",)
    date_hierarchy = "date"
    ordering = ("date",)

    @admin.display(description=_("weekday"))
    def weekday(self, obj: CalendarDay) -> str:
        return date_format(obj.date, "l")

    @admin.display(description=_("without this row"))
    def library_says(self, obj: CalendarDay) -> str:
        """What the day would be without the admin row, so overrides are visible."""
        info = workcal.WorkCalendar(admin_days={}).day(obj.date)
        if not info.known:
            return gettext("not in the calendar library")
        kind = gettext("working day") if info.is_workday else gettext("rest day")
        return f"{kind} · {info.name}" if info.name else kind

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[CalendarDay], search_term: str
    ) -> tuple[QuerySet[CalendarDay], bool]:
        # Also find a day by its date (2027-01-01) or a year (2027).
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        try:
            results |= queryset.filter(date=dt.date.fromisoformat(term))
        except ValueError:
            if term.isdigit() and len(term) == 4:
                results |= queryset.filter(date__year=int(term))
        return results, may_have_duplicates
