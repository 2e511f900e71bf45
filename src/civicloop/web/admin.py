from django.contrib import admin

from .models import SavedView


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "querystring", "created_at")
    search_fields = ("name", "owner__username")
    raw_id_fields = ("owner",)
