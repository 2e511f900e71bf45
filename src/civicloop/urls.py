from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve

from civicloop.core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    # Before api/v1/: it routes /api/v1/webhooks/ itself, ahead of the API's JSON 404 catch-all.
    path("", include("civicloop.webhooks.urls")),
    path("api/v1/", include("civicloop.api.urls")),
    path("open311/v2/", include("civicloop.api.open311.urls")),
    path("", include("civicloop.moderation.urls")),
    path("", include("civicloop.ledger.urls")),
    path("", include("civicloop.inspections.urls")),
    path("", include("civicloop.lifecircle.urls")),
    path("", include("civicloop.web.urls")),
]
# Public (EXIF-stripped) photos. Private originals are never routed.
urlpatterns += [path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", serve, {"document_root": settings.MEDIA_ROOT})]
