"""The editable mapping (kinds and their OSM tag rules) and the facilities, for admins."""

from django.contrib import admin

from .models import Facility, FacilityKind, Network, TagRule


class TagRuleInline(admin.TabularInline):
    model = TagRule
    extra = 1


@admin.register(FacilityKind)
class FacilityKindAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name_zh",
        "name_en",
        "level_minutes",
        "required",
        "active",
        "sort_order",
    )
    list_editable = ("level_minutes", "required", "active", "sort_order")
    inlines = [TagRuleInline]


@admin.register(TagRule)
class TagRuleAdmin(admin.ModelAdmin):
    list_display = ("kind", "key", "value")
    list_filter = ("kind",)
    search_fields = ("key", "value")


@admin.register(Facility)
class FacilityAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "source", "active", "area_path")
    list_filter = ("kind", "source", "active")
    search_fields = ("name", "address")
    raw_id_fields = ("community", "network", "created_by")


@admin.register(Network)
class NetworkAdmin(admin.ModelAdmin):
    list_display = (
        "source_name",
        "status",
        "is_current",
        "nodes",
        "edges",
        "facilities",
        "buildings",
        "requested_at",
    )
    readonly_fields = [f.name for f in Network._meta.fields]
