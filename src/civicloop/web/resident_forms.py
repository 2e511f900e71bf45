"""Forms of the resident's pages: they parse what was typed; the rules stay in ``cases.actions``.

Lengths, e-mail and phone format, the category, the location and the photos are
checked by ``case_report`` / ``case_rate`` (one home per rule); the forms only turn
text into Python values and refuse what cannot be parsed at all.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from civicloop.cases.models import Rating

MAX_PHOTOS = 6


class MultiplePhotoInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    """Several photos in one input; each is checked by ``cases.evidence`` inside the action."""

    widget = MultiplePhotoInput

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        files = [f for f in files if f]
        if len(files) > MAX_PHOTOS:
            raise forms.ValidationError(
                _("At most %(max)d photos, please; you picked %(count)d.") % {"max": MAX_PHOTOS, "count": len(files)}
            )
        return [super(MultiplePhotoField, self).clean(f, initial) for f in files]


class ReportForm(forms.Form):
    category = forms.CharField(
        label=_("What kind of problem?"),
        max_length=16,
        error_messages={"required": _("Pick the kind of problem from the list.")},
    )
    lat = forms.FloatField(
        label=_("Latitude"),
        required=True,
        error_messages={"required": _("Place the pin on the map or use your location."), "invalid": _("The location is not a pair of numbers.")},
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    lon = forms.FloatField(
        label=_("Longitude"),
        required=True,
        error_messages={"required": _("Place the pin on the map or use your location."), "invalid": _("The location is not a pair of numbers.")},
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    address = forms.CharField(
        label=_("Landmark or address (optional)"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    description = forms.CharField(
        label=_("What is wrong?"),
        max_length=4000,
        error_messages={"required": _("Please describe the problem.")},
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    photos = MultiplePhotoField(
        label=_("Photos (optional)"),
        required=False,
        widget=MultiplePhotoInput(attrs={"accept": "image/*", "capture": "environment"}),
    )
    name = forms.CharField(label=_("Your name (optional)"), required=False, max_length=64, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    phone = forms.CharField(
        label=_("Phone (optional)"),
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    # Checked by the action, so its message is the same everywhere (web, API, Open311).
    email = forms.CharField(
        label=_("E-mail for updates (optional)"),
        required=False,
        max_length=254,
        widget=forms.TextInput(attrs={"type": "email", "autocomplete": "email", "inputmode": "email"}),
    )
    # "" = not decided (the engine joins an obvious duplicate), "new" = a different problem, or a case id.
    join = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)

    def clean_category(self) -> str:
        return self.cleaned_data["category"].strip().upper()

    def clean_join(self) -> str:
        value = (self.cleaned_data.get("join") or "").strip()
        if value and value != "new" and not value.isdigit():
            raise forms.ValidationError(_("Choose one of the problems listed, or say yours is different."))
        return value


class RateForm(forms.Form):
    rating = forms.ChoiceField(
        label=_("How satisfied are you with the result?"),
        choices=Rating.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose satisfied, basically satisfied or dissatisfied."),
            "invalid_choice": _("Choose satisfied, basically satisfied or dissatisfied."),
        },
    )
    unfixed = forms.BooleanField(label=_("The problem is not fixed"), required=False)
    note = forms.CharField(label=_("Comment (optional)"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
