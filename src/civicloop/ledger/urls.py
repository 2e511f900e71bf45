from django.urls import path

from . import views

app_name = "ledger"

urlpatterns = [
    path("ledger/", views.home, name="home"),
    path("ledger/template.xlsx", views.template_download, name="template"),
    path("ledger/exports/", views.export_create, name="export_create"),
    path("ledger/exports/<int:job_id>/", views.export_detail, name="export_detail"),
    path("ledger/exports/<int:job_id>/progress/", views.export_progress, name="export_progress"),
    path("ledger/exports/<int:job_id>/download/", views.export_download, name="export_download"),
    path("ledger/import/", views.import_upload, name="import"),
    path("ledger/import/<int:batch_id>/", views.import_preview, name="import_preview"),
    path("ledger/import/<int:batch_id>/confirm/", views.import_confirm, name="import_confirm"),
    path("ledger/import/<int:batch_id>/errors.xlsx", views.import_errors, name="import_errors"),
]
