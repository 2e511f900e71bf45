"""Reads of webhooks, their deliveries and the API tokens shown next to them.

Everyone sees only his own; a system administrator sees all. Someone else's webhook,
delivery or token is answered exactly like a missing one.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _

from civicloop.api.models import ApiToken
from civicloop.core.errors import NotFoundOrForbidden
from civicloop.org import policy
from civicloop.org.models import Role

from .models import DeliveryStatus, Webhook, WebhookDelivery

MAX_ID = 2**63 - 1
STAFF_ROLES = tuple(r for r in Role if r != Role.RESIDENT)


def may_integrate(user: Any) -> bool:
    """Integrations are for staff (their tokens and webhooks act with their scope) and admins."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return policy.is_admin(user) or policy.has_role(user, *STAFF_ROLES)


def webhook_list(*, user: Any) -> QuerySet[Webhook]:
    qs = Webhook.objects.select_related("owner", "api_token").order_by("-created_at", "-id")
    return qs if policy.is_admin(user) else qs.filter(owner_id=getattr(user, "pk", None))


def webhook_get(*, user: Any, webhook_id: Any) -> Webhook:
    try:
        pk = int(webhook_id)
    except (TypeError, ValueError):
        pk = 0
    hook = webhook_list(user=user).filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if hook is None:
        raise NotFoundOrForbidden(_("No such webhook, or it is not yours."))
    return hook


def delivery_list(*, webhook: Webhook, status: str | None = None) -> QuerySet[WebhookDelivery]:
    qs = (
        WebhookDelivery.objects.filter(webhook=webhook)
        .select_related("case")
        .order_by("-created_at", "-id")
    )
    if status:
        qs = qs.filter(status=status)
    return qs


def delivery_get(*, user: Any, webhook_id: Any, delivery_id: Any) -> WebhookDelivery:
    hook = webhook_get(user=user, webhook_id=webhook_id)
    try:
        key = uuid.UUID(str(delivery_id))
    except ValueError:
        key = None
    delivery = (
        WebhookDelivery.objects.select_related("webhook", "case")
        .filter(webhook=hook, uuid=key)
        .first()
        if key
        else None
    )
    if delivery is None:
        raise NotFoundOrForbidden(_("No such delivery, or it is not yours."))
    return delivery


def delivery_counts(*, webhook: Webhook) -> dict[str, int]:
    rows = WebhookDelivery.objects.filter(webhook=webhook).values("status").annotate(n=Count("pk"))
    counts = {s.value: 0 for s in DeliveryStatus}
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


def token_list(*, user: Any) -> QuerySet[ApiToken]:
    qs = ApiToken.objects.select_related("user").order_by("-created_at", "-id")
    return qs if policy.is_admin(user) else qs.filter(user_id=getattr(user, "pk", None))


def token_get(*, user: Any, token_id: Any) -> ApiToken:
    try:
        pk = int(token_id)
    except (TypeError, ValueError):
        pk = 0
    token = token_list(user=user).filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if token is None:
        raise NotFoundOrForbidden(_("No such token, or it is not yours."))
    return token
