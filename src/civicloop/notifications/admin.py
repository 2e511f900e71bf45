"""Admin: notices and deliveries are records to read; a failed delivery can be sent again."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy, ngettext

from .models import Delivery, DeliveryStatus, Notice


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "recipient", "kind", "text", "read_at")
    list_filter = ("kind",)
    search_fields = ("text", "case__ticket_no", "recipient__username")
    raw_id_fields = ("recipient", "case")


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "channel", "address", "subject", "status", "attempts", "next_attempt_at", "sent_at")
    list_filter = ("status", "channel", "language")
    search_fields = ("address", "subject", "case__ticket_no")
    raw_id_fields = ("recipient", "case")
    actions = ("send_again",)

    @admin.action(description=gettext_lazy("Send the selected messages again now"))
    def send_again(self, request: Any, queryset: QuerySet[Delivery]) -> None:
        from .tasks import deliver

        ids = list(queryset.exclude(status__in=[DeliveryStatus.SENT, DeliveryStatus.SENDING]).values_list("pk", flat=True))
        Delivery.objects.filter(pk__in=ids).update(status=DeliveryStatus.RETRY, next_attempt_at=timezone.now())
        for pk in ids:
            deliver.enqueue(delivery_id=pk)
        text = ngettext("%(count)d message queued to be sent again.", "%(count)d messages queued to be sent again.", len(ids))
        self.message_user(request, text % {"count": len(ids)}, messages.SUCCESS)
