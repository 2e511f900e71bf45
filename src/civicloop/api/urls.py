"""``/api/v1/``: the REST API. Endpoints are registered in ``rest/urls.py``."""

from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from .rest.schema import SCHEMA_VIEW_SETTINGS

app_name = "api"

urlpatterns = [
    path(
        "openapi.json",
        SpectacularJSONAPIView.as_view(custom_settings=SCHEMA_VIEW_SETTINGS),
        name="openapi",
    ),
    path("docs", SpectacularSwaggerView.as_view(url_name="api:openapi"), name="docs"),
    path("", include("civicloop.api.rest.urls")),
]
