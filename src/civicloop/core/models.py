from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CalendarDay(models.Model):
    """An admin-entered day that overrides the calendar library.

    The library (chinese-calendar) knows official holidays only up to the year it
    was released for; a city office enters the coming year's holidays and make-up
    working days (调休) here as soon as the State Council publishes them.
    """

    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(_("is a working day"))
    name = models.CharField(_("name"), max_length=64, blank=True, help_text=_("e.g. Spring Festival, make-up working day"))

    class Meta:
        ordering = ["date"]
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")

    def __str__(self) -> str:
        return f"{self.date} {'✔' if self.is_workday else '✘'} {self.name}"


class TicketCounter(models.Model):
    """Per-day sequence behind human ticket numbers such as 20261123-000123."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("ticket counter")
        verbose_name_plural = _("ticket counters")


    def __str__(self) -> str:
        return f"{self.day:%Y%m%d}: {self.last}"

class RateCounter(models.Model):
    """Requests counted per key in a fixed window (core/ratelimit.py).

    In the database rather than a process-local cache so that every gunicorn worker
    and every server behind a load balancer counts against the same limit.
    """

    key = models.CharField(max_length=200)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("rate counter")
        verbose_name_plural = _("rate counters")
        constraints = [models.UniqueConstraint(fields=["key", "window_start"], name="core_rate_counter_unique")]
        indexes = [models.Index(fields=["window_start"], name="core_rate_window_idx")]

    def __str__(self) -> str:
        return f"{self.key} @ {self.window_start:%Y-%m-%d %H:%M}: {self.count}"
