"""What the REST API answers with (read-only serializers).

Cases show what the web's case page shows to the same user: reporters' names, phones,
e-mail addresses and ticket numbers only to those ``sees_reporter_contacts`` allows, the
timeline with the same reporter masking, photos as their public (EXIF-stripped) copies,
never the originals.
"""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from civicloop.cases import selectors
from civicloop.cases.models import Case, Family, Photo, PhotoKind, Source, State, TimeLimitKind
from civicloop.cases.workflow import CLOSED_STATES, DISCARDED_STATES
from civicloop.org.models import Role, UnitKind
from civicloop.places.models import AreaKind

STATE_KINDS = ("open", "closed", "discarded")


def state_kind(state: str) -> str:
    """FixMyStreet's habit: code filters on the kind of a state, never on its label."""
    if state in CLOSED_STATES:
        return "closed"
    if state in DISCARDED_STATES:
        return "discarded"
    return "open"


def absolute(request: Any, url: str) -> str:
    return request.build_absolute_uri(url) if request is not None else url


# ---- small references ------------------------------------------------------------------------


class CategoryRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField()
    big_name = serializers.CharField()


class AreaRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=AreaKind.choices)


class UnitRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


# ---- cases ------------------------------------------------------------------------------------


class CaseSerializer(serializers.Serializer):
    """A case as lists show it. ``version`` goes with every workflow action (stale copy → 409)."""

    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    ticket_no = serializers.CharField()
    state = serializers.ChoiceField(choices=State.choices)
    state_label = serializers.CharField(source="get_state_display")
    state_kind = serializers.SerializerMethodField()
    source = serializers.ChoiceField(choices=Source.choices)
    category = CategoryRefSerializer()
    grid = AreaRefSerializer()
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    address = serializers.CharField()
    description = serializers.CharField()
    unit = UnitRefSerializer(allow_null=True)
    reported_at = serializers.DateTimeField()
    registered_at = serializers.DateTimeField(allow_null=True)
    dispatched_at = serializers.DateTimeField(allow_null=True)
    deadline_at = serializers.DateTimeField(allow_null=True)
    deadline_estimated = serializers.BooleanField()
    overdue = serializers.SerializerMethodField()
    deferred_at = serializers.DateTimeField(allow_null=True)
    handled_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    lookback_due_at = serializers.DateTimeField(allow_null=True)
    reporter_count = serializers.IntegerField()
    rework_count = serializers.IntegerField()
    urge_count = serializers.IntegerField()
    extension_count = serializers.IntegerField()
    return_count = serializers.IntegerField()
    escalation_level = serializers.IntegerField()
    rating = serializers.CharField()
    resident_says_unfixed = serializers.BooleanField()
    recurrence_of = serializers.IntegerField(source="recurrence_of_id", allow_null=True)
    version = serializers.IntegerField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, case: Case) -> str:
        return absolute(
            self.context.get("request"), reverse("api:case-detail", kwargs={"case_id": case.pk})
        )

    @extend_schema_field(serializers.ChoiceField(choices=STATE_KINDS))
    def get_state_kind(self, case: Case) -> str:
        return state_kind(case.state)

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_overdue(self, case: Case) -> bool:
        annotated = getattr(case, "is_overdue", None)
        return bool(annotated) if annotated is not None else selectors.is_overdue(case)


class ReporterSerializer(serializers.Serializer):
    """One reporter. Without the right to see contacts: "Reporter N" and nulls."""

    number = serializers.IntegerField()
    name = serializers.CharField()
    phone = serializers.CharField(allow_null=True)
    email = serializers.CharField(allow_null=True)
    ticket_no = serializers.CharField(allow_null=True)
    source = serializers.ChoiceField(choices=Source.choices)
    reported_at = serializers.DateTimeField()
    joined_existing = serializers.BooleanField()


class ExtensionRequestSerializer(serializers.Serializer):
    requested_deadline_at = serializers.DateTimeField()
    reason = serializers.CharField()
    decision = serializers.CharField()
    unit = UnitRefSerializer()
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_note = serializers.CharField()


class CaseDetailSerializer(CaseSerializer):
    contacts_visible = serializers.BooleanField(
        help_text="Whether this caller sees reporters' contact details."
    )
    reporters = ReporterSerializer(many=True)
    co_units = UnitRefSerializer(many=True)
    escalated_to = AreaRefSerializer(allow_null=True)
    handled_on_time = serializers.BooleanField(allow_null=True)
    closed_on_time = serializers.BooleanField(allow_null=True)
    extension_requests = ExtensionRequestSerializer(many=True)


class PhotoSerializer(serializers.Serializer):
    """A photo's public copy: EXIF-free, resized. Originals and their EXIF never leave the server."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=PhotoKind.choices)
    kind_label = serializers.CharField(source="get_kind_display")
    url = serializers.SerializerMethodField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    event = serializers.IntegerField(source="event_id", allow_null=True)
    created_at = serializers.DateTimeField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, photo: Photo) -> str:
        return absolute(self.context.get("request"), photo.image.url)


class EventSerializer(serializers.Serializer):
    """One timeline step, as the case page shows it to this caller."""

    id = serializers.IntegerField(source="event.id")
    kind = serializers.CharField(source="event.kind")
    kind_label = serializers.CharField(source="event.get_kind_display")
    at = serializers.DateTimeField(source="event.created_at")
    actor = serializers.CharField()
    unit = serializers.CharField()
    from_state = serializers.CharField(source="event.from_state")
    to_state = serializers.CharField(source="event.to_state")
    note = serializers.CharField(source="event.note")
    detail = serializers.CharField()
    photos = PhotoSerializer(many=True)


class ActionOfferSerializer(serializers.Serializer):
    action = serializers.CharField(help_text="The endpoint: POST …/actions/<action>/.")
    workflow_action = serializers.CharField(
        help_text="The workflow table's action (verify_pass, lookback_fail …)."
    )
    label = serializers.CharField()
    params = serializers.DictField(
        help_text='Fixed fields this offer implies, e.g. {"passed": true}.'
    )
    url = serializers.URLField()


class CaseActionsSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=State.choices)
    version = serializers.IntegerField()
    actions = ActionOfferSerializer(many=True)
    not_yours = serializers.ListField(
        child=serializers.CharField(),
        help_text="Actions the state allows but this caller's role does not.",
    )
    hint = serializers.CharField()


class ReportPublishedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["published"])
    ticket_no = serializers.CharField(
        help_text="The reporter's own ticket number, to follow the report."
    )
    joined_existing = serializers.BooleanField(
        help_text="True when the report joined an open case of the same problem nearby."
    )
    case = CaseSerializer(
        allow_null=True,
        help_text="The case; null for a caller without a staff role whose report joined someone "
        "else's case (that case's text and ticket number are the other reporter's).",
    )


class ReportHeldSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["held"])
    reference = serializers.CharField(
        help_text="Reference of the report held for moderation; no case exists yet."
    )
    message = serializers.CharField()


# ---- reference data ---------------------------------------------------------------------------------


class CategorySerializer(serializers.Serializer):
    code = serializers.CharField()
    scheme = serializers.CharField()
    family = serializers.ChoiceField(choices=Family.choices)
    big_code = serializers.CharField()
    big_name = serializers.CharField()
    small_code = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField()
    time_limit_kind = serializers.ChoiceField(choices=TimeLimitKind.choices)
    time_limit_value = serializers.IntegerField()


class SmallClassSerializer(serializers.Serializer):
    code = serializers.CharField()
    small_code = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField()
    time_limit_kind = serializers.ChoiceField(choices=TimeLimitKind.choices)
    time_limit_value = serializers.IntegerField()


class BigClassSerializer(serializers.Serializer):
    big_code = serializers.CharField()
    big_name = serializers.CharField()
    categories = SmallClassSerializer(many=True)


class FamilySerializer(serializers.Serializer):
    family = serializers.ChoiceField(choices=Family.choices)
    label = serializers.CharField()
    big_classes = BigClassSerializer(many=True)


class UnitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=UnitKind.choices)
    parent = serializers.CharField(source="parent.code", allow_null=True, default=None)
    area = serializers.CharField(source="area.code", allow_null=True, default=None)


class AreaPropertiesSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=AreaKind.choices)
    kind_label = serializers.CharField(source="get_kind_display")
    parent = serializers.CharField(source="parent.code", allow_null=True, default=None)
    households = serializers.IntegerField()
    population = serializers.IntegerField()


class GeometrySerializer(serializers.Serializer):
    """A GeoJSON geometry (RFC 7946) in WGS-84."""

    type = serializers.CharField()
    coordinates = serializers.JSONField()


class AreaFeatureSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["Feature"])
    id = serializers.IntegerField()
    properties = AreaPropertiesSerializer()
    geometry = GeometrySerializer(allow_null=True)


class AreaCollectionSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["FeatureCollection"])
    features = AreaFeatureSerializer(many=True)


def area_feature(area: Any, *, geometry: bool) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": area.pk,
        "properties": AreaPropertiesSerializer(area).data,
        "geometry": json.loads(area.geometry) if geometry and area.geometry else None,
    }


class GrantSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)
    role_label = serializers.CharField()
    area = AreaRefSerializer(allow_null=True)
    unit = UnitRefSerializer(allow_null=True)


class TokenInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    prefix = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    rate_per_minute = serializers.IntegerField()
    expires_at = serializers.DateTimeField(allow_null=True)


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    is_admin = serializers.BooleanField()
    is_staff = serializers.BooleanField(help_text="Has a staff role: may read cases.")
    roles = GrantSerializer(many=True)
    scopes = serializers.ListField(
        child=serializers.CharField(), help_text="What this request may do: read, write, admin."
    )
    token = TokenInfoSerializer(allow_null=True)
