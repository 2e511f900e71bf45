"""What the REST API accepts: query filters, a new report and the fields of each workflow action.

These only parse (types, lengths, choices, finite numbers); every rule about the case
itself — the category exists, the point lies in a grid, a reason is required, the state
allows it, the copy is not stale — is the engine's (``cases.actions``), so the web page,
the API and Open311 refuse the same things with the same words.

Field descriptions (``help_text``) are the OpenAPI document's developer reference, in
English like the rest of it; messages a caller receives are translated.
"""

from __future__ import annotations

import math
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from civicloop.cases.actions import MAX_DESCRIPTION, MAX_NOTE
from civicloop.cases.models import Family, Rating, Source, State
from civicloop.places.models import AreaKind

from .serializers import STATE_KINDS

MAX_PHOTOS = 6
# Sources a report through the API may name (the others are the engine's own).
REPORT_SOURCES = [s for s in Source.choices if s[0] not in {Source.LOOKBACK, Source.IMPORT}]
# Database integers are 64-bit at most; a larger id can name nothing.
MAX_ID = 2**63 - 1


def _photos(required: bool = False) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        required=required,
        allow_empty=not required,
        max_length=MAX_PHOTOS,
        help_text="Photos (multipart/form-data): JPEG, PNG or WebP; checked by content, EXIF kept privately.",
    )


def _note(help_text: Any = "") -> serializers.CharField:
    return serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_NOTE, default="", help_text=help_text
    )


def _reason(help_text: Any = "") -> serializers.CharField:
    # Required by the engine (a blank one is refused there, with its own words).
    return serializers.CharField(allow_blank=True, max_length=MAX_NOTE, help_text=help_text)


class FiniteFloatField(serializers.FloatField):
    def to_internal_value(self, data: Any) -> float:
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


# ---- filters -------------------------------------------------------------------------------------


class CaseFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=State.choices, required=False, help_text="One state of the workflow."
    )
    state_kind = serializers.ChoiceField(
        choices=STATE_KINDS,
        required=False,
        help_text="open, closed or discarded (rejected/voided).",
    )
    category = serializers.CharField(
        required=False, max_length=16, help_text="Category code, e.g. E0102."
    )
    area = serializers.CharField(
        required=False,
        max_length=20,
        help_text="Code of an area (district … grid): cases inside it.",
    )
    unit = serializers.CharField(
        required=False, max_length=32, help_text="Code of the main handling unit."
    )
    source = serializers.ChoiceField(choices=Source.choices, required=False)
    overdue = serializers.BooleanField(required=False, allow_null=True, default=None)
    reported_after = serializers.DateTimeField(
        required=False, help_text="Reported at or after (ISO 8601 with time zone)."
    )
    reported_before = serializers.DateTimeField(
        required=False, help_text="Reported before (ISO 8601 with time zone)."
    )
    ticket = serializers.CharField(
        required=False, max_length=16, help_text="The case's or any reporter's ticket number."
    )
    q = serializers.CharField(
        required=False,
        max_length=100,
        help_text="Text in the ticket number, description or address.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("reported_after"), attrs.get("reported_before")
        if start and end and end <= start:
            raise serializers.ValidationError(
                {"reported_before": _("The end is not after the start.")}
            )
        return attrs


class CategoryFilterSerializer(serializers.Serializer):
    family = serializers.ChoiceField(choices=Family.choices, required=False)
    big_code = serializers.CharField(required=False, max_length=8)
    q = serializers.CharField(
        required=False, max_length=64, help_text="Text in the code or the names."
    )


class AreaFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AreaKind.choices, required=False)
    parent = serializers.CharField(
        required=False, max_length=20, help_text="Code of the parent area."
    )
    code = serializers.CharField(
        required=False,
        max_length=20,
        help_text="Codes starting with this (a community's code finds its grids too).",
    )
    geometry = serializers.BooleanField(
        required=False, default=True, help_text="false: properties only, no boundaries."
    )


class UnitFilterSerializer(serializers.Serializer):
    mine = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Only the caller's own units (and those under them).",
    )


# ---- a new report -------------------------------------------------------------------------------


class ReportCreateSerializer(serializers.Serializer):
    category = serializers.CharField(
        max_length=16, help_text="Category code (GET /api/v1/categories/)."
    )
    lat = FiniteFloatField(min_value=-90, max_value=90)
    lon = FiniteFloatField(min_value=-180, max_value=180)
    crs = serializers.ChoiceField(
        choices=[("wgs84", "WGS-84"), ("gcj02", "GCJ-02")], default="wgs84", required=False
    )
    description = serializers.CharField(max_length=MAX_DESCRIPTION, allow_blank=True)
    address = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    name = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32, default="")
    email = serializers.CharField(required=False, allow_blank=True, max_length=254, default="")
    source = serializers.ChoiceField(
        choices=REPORT_SOURCES,
        required=False,
        help_text="Staff only (hotline, grid worker …); residents' reports are always “resident”.",
    )
    photos = _photos()


# ---- workflow actions ----------------------------------------------------------------------------


class ActionSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1, help_text="The case's version as you read it; a newer one answers 409."
    )


class NoteInput(ActionSerializer):
    note = _note()


class ReasonInput(ActionSerializer):
    reason = _reason()


class CategoryNoteInput(ActionSerializer):
    category = serializers.CharField(max_length=16, help_text="Category code.")
    note = _note()


class RegisterInput(ActionSerializer):
    category = serializers.CharField(
        required=False,
        max_length=16,
        help_text="Category code, if the reporter chose the wrong one.",
    )
    note = _note()


class DispatchInput(ActionSerializer):
    unit = serializers.CharField(
        required=False, max_length=32, help_text="Unit code; default: the routing rule's unit."
    )
    co_units = serializers.ListField(
        child=serializers.CharField(max_length=32), required=False, default=list, max_length=20
    )
    note = _note("Instructions for the unit.")


class UnitReasonInput(ActionSerializer):
    unit = serializers.CharField(max_length=32, help_text="Unit code.")
    reason = _reason()


class UnitNoteInput(ActionSerializer):
    unit = serializers.CharField(max_length=32, help_text="Unit code.")
    note = _note()


class FeedbackInput(ActionSerializer):
    note = _reason("What was done.")
    photos = _photos()


class VerdictInput(ActionSerializer):
    passed = serializers.BooleanField(
        help_text="true: fixed; false: not fixed (a note is then required)."
    )
    note = _note()
    photos = _photos()


class RequestExtensionInput(ActionSerializer):
    until = serializers.DateTimeField(help_text="The new deadline (ISO 8601 with time zone).")
    reason = _reason()


class DecideExtensionInput(ActionSerializer):
    approve = serializers.BooleanField()
    note = _note("Required when you deny.")


class RateInput(ActionSerializer):
    rating = serializers.ChoiceField(choices=Rating.choices)
    unfixed = serializers.BooleanField(
        required=False, default=False, help_text="The problem is not fixed."
    )
    note = _note()


class PhotoAddInput(serializers.Serializer):
    photos = _photos(required=True)
    note = _note()
