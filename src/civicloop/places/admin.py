from django.contrib import admin

from .models import Area, BackStreet, Compound


@admin.register(Area)
class AreaAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "parent", "households")
    list_filter = ("kind",)
    search_fields = ("code", "name")
    readonly_fields = ("path", "min_lon", "min_lat", "max_lon", "max_lat")
    autocomplete_fields = ("parent",)


@admin.register(Compound)
class CompoundAdmin(admin.ModelAdmin):
    list_display = ("name", "community", "buildings", "households", "built_year")
    search_fields = ("name",)
    autocomplete_fields = ("community",)


@admin.register(BackStreet)
class BackStreetAdmin(admin.ModelAdmin):
    list_display = ("name", "street", "street_class", "length_m")
    list_filter = ("street_class",)
    search_fields = ("name",)
    autocomplete_fields = ("street",)
