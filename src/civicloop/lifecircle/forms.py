"""Forms of the life-circle pages: they parse; ``actions`` and ``selectors`` decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import FacilityKind

LEVEL_CHOICES = (
    ("community", _("Communities")),
    ("street", _("Street offices")),
    ("district", _("Districts")),
)
SOURCE_CHOICES = (
    ("civicloop", _("Registered in civicloop")),
    ("osm", _("OpenStreetMap")),
    ("all", _("All")),
)


def kind_choices(kinds: list[FacilityKind], *, blank: Any = None) -> list[tuple[str, Any]]:
    """(code, "超市 (10 min)") for each kind; a blank first choice when ``blank`` is given."""
    choices: list[tuple[str, Any]] = [
        (
            k.code,
            gettext("%(name)s (%(minutes)d min)") % {"name": k.name, "minutes": k.level_minutes},
        )
        for k in kinds
    ]
    return [("", blank), *choices] if blank is not None else choices


class LevelForm(forms.Form):
    level = forms.ChoiceField(
        label=_("Level"),
        choices=LEVEL_CHOICES,
        required=False,
        error_messages={"invalid_choice": _("Choose communities, street offices or districts.")},
    )


class KindFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind of facility"),
        required=False,
        error_messages={"invalid_choice": _("Choose a kind of facility from the list.")},
    )

    def __init__(self, *args: Any, kinds: list[FacilityKind], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = kind_choices(kinds, blank=_("All kinds"))


class FacilitySearchForm(KindFilterForm):
    q = forms.CharField(label=_("Name contains"), required=False, max_length=100)
    source = forms.ChoiceField(
        label=_("Source"),
        choices=SOURCE_CHOICES,
        required=False,
        error_messages={"invalid_choice": _("Choose where the facilities come from.")},
    )


class FacilityForm(forms.Form):
    """Register or correct a facility; lon/lat may be filled by clicking the small map."""

    kind = forms.ChoiceField(
        label=_("Kind of facility"),
        error_messages={
            "required": _("Choose a kind of facility from the list."),
            "invalid_choice": _("Choose a kind of facility from the list."),
        },
    )
    name = forms.CharField(
        label=_("Name"),
        max_length=200,
        error_messages={"required": _("Give the facility a name.")},
    )
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    lon = forms.FloatField(
        label=_("Longitude"),
        error_messages={
            "required": _("Give the position as longitude and latitude."),
            "invalid": _("Give the position as longitude and latitude."),
        },
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    lat = forms.FloatField(
        label=_("Latitude"),
        error_messages={
            "required": _("Give the position as longitude and latitude."),
            "invalid": _("Give the position as longitude and latitude."),
        },
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )

    def __init__(self, *args: Any, kinds: list[FacilityKind], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = kind_choices(kinds, blank="—")


class ActiveForm(forms.Form):
    active = forms.TypedChoiceField(
        coerce=lambda v: v == "1",
        choices=(("1", _("Restore")), ("0", _("Retire"))),
        error_messages={
            "invalid_choice": _("Retire or restore?"),
            "required": _("Retire or restore?"),
        },
    )


class NetworkUploadForm(forms.Form):
    source = forms.FileField(
        label=_("OpenStreetMap extract (.osm.pbf)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".pbf"}),
        error_messages={
            "required": _("Choose an .osm.pbf file."),
            "empty": _("The file is empty."),
            "invalid": _("Choose an .osm.pbf file."),
        },
    )
