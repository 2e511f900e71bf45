"""The life-circle pages (``views``), under ``/lifecircle/``."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "lifecircle"

urlpatterns = [
    path("lifecircle/", views.map_page, name="map"),
    path("lifecircle/layers/<slug:layer>.json", views.layer, name="layer"),
    path("lifecircle/whatif/", views.whatif, name="whatif"),
    path("lifecircle/best-sites/", views.best_sites, name="best_sites"),
    path("lifecircle/coverage/", views.coverage, name="coverage"),
    path("lifecircle/export.xlsx", views.export_xlsx, name="export"),
    path("lifecircle/gaps/", views.gaps, name="gaps"),
    path("lifecircle/facilities/", views.facilities, name="facilities"),
    path("lifecircle/facilities/<int:facility_id>/", views.facility_edit, name="facility_edit"),
    path(
        "lifecircle/facilities/<int:facility_id>/active/",
        views.facility_active,
        name="facility_active",
    ),
    path("lifecircle/network/", views.network, name="network"),
    path("lifecircle/network/recompute/", views.recompute, name="recompute"),
    path(
        "lifecircle/network/<int:network_id>/progress/",
        views.network_progress,
        name="network_progress",
    ),
]
