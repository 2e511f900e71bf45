"""``/open311/v2/``: Open311 GeoReport v2. Each resource answers with a ``.xml`` or ``.json``
suffix, and in XML without one (the specification's required format)."""

from django.urls import re_path

from . import views

app_name = "open311"

FORMAT = r"(?:\.(?P<fmt>[A-Za-z0-9]+))?"
SEGMENT = r"[^/.]+"

urlpatterns = [
    re_path(rf"^discovery{FORMAT}$", views.discovery, name="discovery"),
    re_path(rf"^services{FORMAT}$", views.services, name="services"),
    re_path(
        rf"^services/(?P<service_code>{SEGMENT}){FORMAT}$", views.service_definition, name="service"
    ),
    re_path(rf"^requests{FORMAT}$", views.requests, name="requests"),
    re_path(
        rf"^requests/(?P<service_request_id>{SEGMENT}){FORMAT}$",
        views.request_detail,
        name="request",
    ),
    re_path(rf"^tokens/(?P<token>{SEGMENT}){FORMAT}$", views.token_detail, name="token"),
    # Anything else under /open311/v2/ answers with the specification's error body too.
    re_path(r"^(?P<path>.*)$", views.not_found, name="not_found"),
]
