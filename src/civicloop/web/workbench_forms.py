"""Forms of the handling unit's tasks, the grid worker's page and the overview: they parse input only.

What a reason needs, whether a photo is required and what a photo must be, whether the
requested deadline is late enough: those rules live in ``cases.actions`` and
``cases.evidence`` and come back as ``CivicError`` messages, shown next to the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MAX_TEXT = 2000
MAX_PHOTOS = 6


class MultiplePhotoInput(forms.FileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Zero or more uploads; their content is checked by ``cases.evidence`` in the action."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultiplePhotoInput(attrs={"accept": "image/jpeg,image/png,image/webp", "multiple": True}))
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:  # type: ignore[override]
        items = data if isinstance(data, list | tuple) else [data]
        cleaned = [super(PhotosField, self).clean(item, initial) for item in items if item]
        if len(cleaned) > MAX_PHOTOS:
            raise forms.ValidationError(_("At most %(max)d photos at a time.") % {"max": MAX_PHOTOS})
        return [c for c in cleaned if c]


class VersionedForm(forms.Form):
    """The case version the page showed: acting on a stale page is a conflict, not a surprise."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


def _text(label: Any, *, rows: int = 2, help_text: Any = "") -> forms.CharField:
    # Not required here: the action says what is missing, in one place for every client.
    return forms.CharField(label=label, required=False, max_length=MAX_TEXT, help_text=help_text,
                           widget=forms.Textarea(attrs={"rows": rows}))


class AcceptForm(VersionedForm):
    note = _text(_("Note (optional)"), rows=1)


class ReturnForm(VersionedForm):
    reason = _text(_("Why is this not your unit's task?"))


class FeedbackForm(VersionedForm):
    note = _text(_("What was done"), rows=3)
    photos = PhotosField(label=_("Photos of the result"), help_text=_("JPEG, PNG or WebP; at least one."))


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class ExtensionForm(VersionedForm):
    until = forms.DateTimeField(
        label=_("New deadline"),
        widget=LocalDateTimeInput(),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
        error_messages={"required": _("Give the new deadline you need."), "invalid": _("Enter a date and time, e.g. 2026-12-01 17:30.")},
    )
    reason = _text(_("Reason"))


VERDICTS = (("pass", _("Fixed")), ("fail", _("Not fixed")))


class VerdictForm(VersionedForm):
    verdict = forms.ChoiceField(
        label=_("On the spot"),
        choices=VERDICTS,
        widget=forms.RadioSelect,
        error_messages={"required": _("Say whether it is fixed."), "invalid_choice": _("Say whether it is fixed.")},
    )
    note = _text(_("Note (required when not fixed)"))
    photos = PhotosField(label=_("Photo from the spot (optional)"))

    @property
    def passed(self) -> bool:
        return self.cleaned_data["verdict"] == "pass"


class VerifyForm(VerdictForm):
    pass


class LookbackForm(VerdictForm):
    verdict = forms.ChoiceField(
        label=_("Look-back"),
        choices=(("pass", _("Still fixed")), ("fail", _("It came back"))),
        widget=forms.RadioSelect,
        error_messages={"required": _("Say whether it is still fixed."), "invalid_choice": _("Say whether it is still fixed.")},
    )
    note = _text(_("Note (required when it came back)"))


# ---- the overview's period ---------------------------------------------------------

PERIODS = (("7", _("Last 7 days")), ("30", _("Last 30 days")), ("90", _("Last 90 days")), ("month", _("A month")))


class PeriodForm(forms.Form):
    period = forms.ChoiceField(label=_("Period"), choices=PERIODS, required=False,
                               error_messages={"invalid_choice": _("Choose 7, 30 or 90 days, or a month.")})
    month = forms.CharField(label=_("Month"), required=False,
                            widget=forms.TextInput(attrs={"type": "month", "placeholder": "2026-11"}))

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        period = data.get("period") or "30"
        data["period"] = period
        if period == "month":
            text = (data.get("month") or "").strip()
            if not text:
                today = timezone.localdate()
                data["month_start"] = dt.date(today.year, today.month, 1)
            else:
                try:
                    year, month = (int(x) for x in text.split("-"))
                    data["month_start"] = dt.date(year, month, 1)
                except ValueError:
                    self.add_error("month", _("Enter a month as year-month, e.g. 2026-11."))
                    return data
                if not 2000 <= year <= 2100:
                    self.add_error("month", _("Enter a month as year-month, e.g. 2026-11."))
        return data

    def bounds(self, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """``[start, end)`` of the chosen period; the default (or an invalid choice) is the last 30 days."""
        data: dict[str, Any] = self.cleaned_data if self.is_valid() else {"period": "30"}
        if data["period"] == "month":
            first: dt.date = data["month_start"]
            following = dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1)
            tz = timezone.get_current_timezone()
            return (dt.datetime.combine(first, dt.time(), tzinfo=tz), dt.datetime.combine(following, dt.time(), tzinfo=tz))
        return now - dt.timedelta(days=int(data["period"])), now
