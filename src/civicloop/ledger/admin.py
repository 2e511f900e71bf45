from django.contrib import admin

from .models import ExportJob, ImportBatch


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = ("pk", "owner", "status", "rows_done", "rows_total", "created_at", "expires_at")
    list_filter = ("status",)
    readonly_fields = [f.name for f in ExportJob._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = (
        "file_name",
        "created_by",
        "status",
        "rows_total",
        "rows_bad",
        "cases_created",
        "created_at",
        "imported_at",
    )
    list_filter = ("status",)
    readonly_fields = [f.name for f in ImportBatch._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
