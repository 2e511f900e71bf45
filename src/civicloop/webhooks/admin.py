"""Admin: webhooks and their deliveries are records to read (the secret never shows);
they are managed on /integrations/, where every change goes through ``webhooks.actions``."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from .models import Webhook, WebhookDelivery


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Webhook)
class WebhookAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "owner",
        "url",
        "active",
        "failure_count",
        "disabled_reason",
        "last_success_at",
        "created_at",
    )
    list_filter = ("active", "disabled_reason")
    search_fields = ("name", "url", "owner__username")
    exclude = ("secret", "previous_secret")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "webhook",
        "event_name",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
    )
    list_filter = ("status", "event_name")
    search_fields = ("uuid", "webhook__name", "case__ticket_no")
    raw_id_fields = ("webhook", "event", "case")
