"""``/integrations/`` (the pages) and ``/api/v1/webhooks/`` (the REST endpoints, ``api.py``)."""

from django.urls import path, re_path

from . import api, views

app_name = "webhooks"
HOOK = r"^api/v1/webhooks/(?P<webhook_id>[^/]+)/"

urlpatterns = [
    path("integrations/", views.home, name="home"),
    path("integrations/tokens/", views.token_issue, name="token_issue"),
    path("integrations/tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("integrations/webhooks/new/", views.webhook_new, name="new"),
    path("integrations/webhooks/<int:webhook_id>/", views.webhook_detail, name="detail"),
    path("integrations/webhooks/<int:webhook_id>/active/", views.webhook_toggle, name="toggle"),
    path("integrations/webhooks/<int:webhook_id>/rotate/", views.webhook_rotate, name="rotate"),
    path("integrations/webhooks/<int:webhook_id>/ping/", views.webhook_ping, name="ping"),
    path("integrations/webhooks/<int:webhook_id>/delete/", views.webhook_delete, name="delete"),
    path(
        "integrations/webhooks/<int:webhook_id>/deliveries/<uuid:delivery_id>/",
        views.delivery_detail,
        name="delivery",
    ),
    path(
        "integrations/webhooks/<int:webhook_id>/deliveries/<uuid:delivery_id>/redeliver/",
        views.delivery_redeliver,
        name="redeliver",
    ),
    # REST, for integrations that manage their own webhooks (described in /api/v1/openapi.json).
    # Ids match any segment and are checked by the views: a malformed one answers the API's
    # JSON 404 like an unknown one, never the site's HTML page.
    path("api/v1/webhooks/", api.WebhookListView.as_view(), name="api_list"),
    re_path(HOOK + r"$", api.WebhookDetailView.as_view(), name="api_detail"),
    re_path(HOOK + r"rotate-secret/$", api.WebhookRotateView.as_view(), name="api_rotate"),
    re_path(HOOK + r"deliveries/$", api.DeliveryListView.as_view(), name="api_deliveries"),
    re_path(
        HOOK + r"deliveries/(?P<delivery_id>[^/]+)/redeliver/$",
        api.DeliveryRedeliverView.as_view(),
        name="api_redeliver",
    ),
]
