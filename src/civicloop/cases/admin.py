"""Admin: categories and routing rules are data an administrator edits.

Cases themselves are read-only here: every change goes through ``cases.actions``.
"""

from django.contrib import admin

from .models import Case, CaseEvent, Category, ExtensionRequest, RoutingRule


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "family", "big_name", "name", "name_en", "time_limit_kind", "time_limit_value", "active")
    list_filter = ("family", "big_name", "time_limit_kind", "active", "scheme")
    search_fields = ("code", "name", "name_en", "big_name")
    list_editable = ("time_limit_kind", "time_limit_value", "active")


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ("__str__", "category", "family", "big_code", "area", "unit")
    list_filter = ("family", "big_code")
    autocomplete_fields = ("category", "area", "unit")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):  # noqa: ANN001, ANN201
        return False

    def has_change_permission(self, request, obj=None):  # noqa: ANN001, ANN201
        return False

    def has_delete_permission(self, request, obj=None):  # noqa: ANN001, ANN201
        return False


class CaseEventInline(admin.TabularInline):
    model = CaseEvent
    fields = ("created_at", "kind", "actor", "actor_unit", "from_state", "to_state", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # noqa: ANN001, ANN201
        return False


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ("ticket_no", "state", "category", "grid", "unit", "reported_at", "deadline_at", "rework_count", "reporter_count")
    list_filter = ("state", "source", "category__family", "category__big_name")
    search_fields = ("ticket_no", "description", "address")
    date_hierarchy = "reported_at"
    inlines = [CaseEventInline]


@admin.register(ExtensionRequest)
class ExtensionRequestAdmin(ReadOnlyAdmin):
    list_display = ("case", "unit", "requested_deadline_at", "decision", "created_at")
    list_filter = ("decision",)
