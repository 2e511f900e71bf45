"""``/api/v1/webhooks/``: integrations manage their own webhooks over REST.

Every operation needs a token with the write scope (webhooks are an integration's
settings; reading them too): a token acts as its user, who sees and changes only his own
webhooks, exactly as on ``/integrations/``; a system administrator's token (the only kind
that can hold the admin scope) sees all. A webhook registered here remembers the token;
revoking that token silences it. Thin: parse → one action or selector → render.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from civicloop.api.models import ApiToken, Scope
from civicloop.api.pagination import CivicCursorPagination
from civicloop.api.rest.schema import COMMON, CivicAutoSchema, error_responses
from civicloop.cases.models import EventKind
from civicloop.core.errors import PermissionRefused

from . import actions, selectors
from .models import DeliveryStatus, Webhook, WebhookDelivery

TAGS = ["webhooks"]
WEBHOOK_ID = OpenApiParameter(
    "webhook_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The webhook's id."
)
DELIVERY_ID = OpenApiParameter(
    "delivery_id",
    OpenApiTypes.UUID,
    OpenApiParameter.PATH,
    description="The delivery's id (the body's `id`).",
)
EVENTS_HELP = (
    "Case event kinds to hear about; empty or left out: every kind, also kinds added later."
)


# ---- bodies ------------------------------------------------------------------------------------------------


class WebhookSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField()
    url = serializers.CharField()
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventKind.values), help_text=EVENTS_HELP
    )
    active = serializers.BooleanField()
    failure_count = serializers.IntegerField(
        help_text="Failed calls in a row; too many switch the webhook off."
    )
    disabled_at = serializers.DateTimeField(allow_null=True)
    disabled_reason = serializers.CharField(
        allow_blank=True, help_text="manual, failures, or empty while active."
    )
    last_success_at = serializers.DateTimeField(allow_null=True)
    last_failure_at = serializers.DateTimeField(allow_null=True)
    owner = serializers.CharField(
        source="owner.username", help_text="The user whose view of the cases it follows."
    )
    api_token = serializers.SerializerMethodField(
        help_text="Prefix of the token it was registered with, if any."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_api_token(self, hook: Webhook) -> str | None:
        return hook.api_token.prefix if hook.api_token is not None else None


class WebhookWithSecretSerializer(WebhookSerializer):
    secret = serializers.CharField(
        help_text="The signing secret (whsec_…): shown in this answer only."
    )


class WebhookCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    url = serializers.CharField(
        max_length=500, help_text="http:// or https://; the JSON events are POSTed there."
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventKind.values),
        required=False,
        max_length=len(EventKind),
        help_text=EVENTS_HELP,
    )
    active = serializers.BooleanField(required=False, default=True)


class WebhookUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    url = serializers.CharField(max_length=500, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventKind.values),
        required=False,
        max_length=len(EventKind),
        help_text=EVENTS_HELP,
    )
    active = serializers.BooleanField(
        required=False, help_text="Switching on starts the failure count from zero."
    )


class RotateSerializer(serializers.Serializer):
    keep_old = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Keep signing with the old secret too for 24 hours (a second v1=).",
    )


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The new signing secret: shown in this answer only.")
    previous_secret_expires_at = serializers.DateTimeField(allow_null=True)


class DeliverySerializer(serializers.Serializer):
    id = serializers.UUIDField(
        source="uuid", help_text="Also the body's `id` and the X-Civicloop-Delivery header."
    )
    event = serializers.CharField(source="event_name", help_text="case.<event kind>, or ping.")
    case_id = serializers.IntegerField(allow_null=True)
    event_id = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    response_excerpt = serializers.CharField(
        allow_blank=True, help_text="The first kilobyte of the last answer."
    )
    duration_ms = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    payload = serializers.SerializerMethodField(help_text="The exact body sent, as JSON.")

    def get_payload(self, delivery: WebhookDelivery) -> dict[str, Any]:
        return dict(delivery.payload_data())


class DeliveryFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=DeliveryStatus.choices, required=False, help_text="Only deliveries in this status."
    )


# ---- views ------------------------------------------------------------------------------------------------


def _parse(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class WebhookApiView(APIView):
    schema = CivicAutoSchema()
    parser_classes = [JSONParser]
    required_scope = Scope.WRITE

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not selectors.may_integrate(request.user):
            raise PermissionRefused(
                _("Only staff and system administrators may manage integrations.")
            )

    def hook(self, webhook_id: str) -> Webhook:
        return selectors.webhook_get(user=self.request.user, webhook_id=webhook_id)


class WebhookListView(WebhookApiView):
    pagination_class = CivicCursorPagination

    @extend_schema(
        operation_id="webhooks_list",
        summary="List the caller's webhooks",
        responses={200: WebhookSerializer(many=True), **error_responses(400, 404, *COMMON)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.webhook_list(user=request.user), request, view=self
        )
        return paginator.get_paginated_response(WebhookSerializer(page, many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        summary="Register a webhook",
        description="The answer carries the signing secret, once. Each event is POSTed as JSON with "
        '`X-Civicloop-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`; see docs/api.md.',
        request=WebhookCreateSerializer,
        responses={201: WebhookWithSecretSerializer, **error_responses(400, *COMMON)},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        data = _parse(WebhookCreateSerializer, request.data)
        token = request.auth if isinstance(request.auth, ApiToken) else None
        hook, secret = actions.webhook_create(
            by=request.user,
            name=data["name"],
            url=data["url"],
            events=data.get("events"),
            api_token=token,
            active=data["active"],
        )
        return Response(
            {**WebhookSerializer(hook).data, "secret": secret}, status=status.HTTP_201_CREATED
        )


class WebhookDetailView(WebhookApiView):
    @extend_schema(
        operation_id="webhooks_read",
        summary="Read a webhook",
        parameters=[WEBHOOK_ID],
        responses={200: WebhookSerializer, **error_responses(404, *COMMON)},
        tags=TAGS,
    )
    def get(self, request: Request, webhook_id: str) -> Response:
        return Response(WebhookSerializer(self.hook(webhook_id)).data)

    @extend_schema(
        operation_id="webhooks_update",
        summary="Change a webhook (name, URL, events, on/off)",
        parameters=[WEBHOOK_ID],
        request=WebhookUpdateSerializer,
        responses={200: WebhookSerializer, **error_responses(400, 404, *COMMON)},
        tags=TAGS,
    )
    def patch(self, request: Request, webhook_id: str) -> Response:
        hook = self.hook(webhook_id)
        data = _parse(WebhookUpdateSerializer, request.data)
        with transaction.atomic():
            hook = actions.webhook_update(
                webhook=hook,
                by=request.user,
                name=data.get("name"),
                url=data.get("url"),
                events=data.get("events"),
                all_events="events" in data and not data["events"],
            )
            if "active" in data and data["active"] != hook.active:
                hook = actions.webhook_set_active(
                    webhook=hook, by=request.user, active=data["active"]
                )
        return Response(WebhookSerializer(self.hook(webhook_id)).data)

    @extend_schema(
        operation_id="webhooks_delete",
        summary="Delete a webhook and its delivery log",
        parameters=[WEBHOOK_ID],
        responses={204: None, **error_responses(404, *COMMON)},
        tags=TAGS,
    )
    def delete(self, request: Request, webhook_id: str) -> Response:
        actions.webhook_delete(webhook=self.hook(webhook_id), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateView(WebhookApiView):
    @extend_schema(
        operation_id="webhooks_rotate_secret",
        summary="Make a new signing secret",
        parameters=[WEBHOOK_ID],
        request=RotateSerializer,
        responses={200: SecretSerializer, **error_responses(400, 404, *COMMON)},
        tags=TAGS,
    )
    def post(self, request: Request, webhook_id: str) -> Response:
        hook = self.hook(webhook_id)
        data = _parse(RotateSerializer, request.data)
        hook, secret = actions.webhook_rotate_secret(
            webhook=hook, by=request.user, keep_old=data["keep_old"]
        )
        return Response(
            {
                "secret": secret,
                "previous_secret_expires_at": hook.previous_secret_expires_at
                and serializers.DateTimeField().to_representation(hook.previous_secret_expires_at),
            }
        )


class DeliveryListView(WebhookApiView):
    pagination_class = CivicCursorPagination

    @extend_schema(
        operation_id="webhooks_deliveries_list",
        summary="A webhook's delivery log, newest first",
        parameters=[WEBHOOK_ID, DeliveryFilterSerializer],
        responses={200: DeliverySerializer(many=True), **error_responses(400, 404, *COMMON)},
        tags=TAGS,
    )
    def get(self, request: Request, webhook_id: str) -> Response:
        hook = self.hook(webhook_id)
        filters = _parse(DeliveryFilterSerializer, request.query_params)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.delivery_list(webhook=hook, status=filters.get("status")), request, view=self
        )
        return paginator.get_paginated_response(DeliverySerializer(page, many=True).data)


class DeliveryRedeliverView(WebhookApiView):
    @extend_schema(
        operation_id="webhooks_deliveries_redeliver",
        summary="Send a delivery again (same id and body, signed afresh)",
        parameters=[WEBHOOK_ID, DELIVERY_ID],
        request=None,
        responses={202: DeliverySerializer, **error_responses(400, 404, 409, *COMMON)},
        tags=TAGS,
    )
    def post(self, request: Request, webhook_id: str, delivery_id: Any) -> Response:
        delivery = selectors.delivery_get(
            user=request.user, webhook_id=webhook_id, delivery_id=delivery_id
        )
        delivery = actions.delivery_redeliver(delivery=delivery, by=request.user)
        delivery.refresh_from_db()
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
