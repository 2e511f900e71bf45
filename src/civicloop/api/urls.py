"""``/api/v1/``: the REST API. Endpoints are registered in ``rest/urls.py``."""

from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

app_name = "api"

urlpatterns = [
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api:openapi"), name="docs"),
    path("", include("civicloop.api.rest.urls")),
]
