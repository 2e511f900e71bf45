"""``/api/v1/webhooks/``: integrations manage their own webhooks with a write token."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from civicloop.api.tokens import token_issue, token_revoke
from civicloop.webhooks import actions
from civicloop.webhooks.models import DeliveryStatus, Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db

LIST = "/api/v1/webhooks/"


@pytest.fixture(autouse=True)
def _limits(settings: Any) -> None:
    settings.CIVICLOOP = {**settings.CIVICLOOP, "API_IP_RATE_PER_MINUTE": 100_000}


def client_for(
    city: Any, key: str | None, scopes: tuple[str, ...] = ("read", "write")
) -> APIClient:
    client = APIClient()
    if key is not None:
        user = city.users[key]
        by = city.users["admin"] if "admin" in scopes else user
        _token, raw = token_issue(user=user, name=f"{key} api", scopes=list(scopes), by=by)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_register_read_list_change_and_delete(city):
    api = client_for(city, "unit_staff")
    response = api.post(
        LIST,
        {
            "name": "调度系统",
            "url": "https://hooks.example.cn/in",
            "events": ["verified", "dispatched"],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    hook = Webhook.objects.get()
    assert (
        body["secret"] == hook.secret
        and body["events"] == ["dispatched", "verified"]
        and body["active"] is True
    )
    assert body["owner"] == "unit_staff" and body["api_token"] == hook.api_token.prefix
    assert hook.api_token.user == city.users["unit_staff"]

    detail = f"{LIST}{hook.pk}/"
    read = api.get(detail).json()
    assert "secret" not in read and read["url"] == "https://hooks.example.cn/in"
    listed = api.get(LIST).json()
    assert [w["id"] for w in listed["results"]] == [hook.pk] and "secret" not in listed["results"][
        0
    ]

    changed = api.patch(detail, {"events": [], "active": False, "name": "renamed"}, format="json")
    assert changed.status_code == 200
    assert (
        changed.json()["events"] == []
        and changed.json()["active"] is False
        and changed.json()["disabled_reason"] == "manual"
    )
    assert api.patch(detail, {"active": True}, format="json").json()["active"] is True

    assert api.delete(detail).status_code == 204
    assert not Webhook.objects.exists()
    assert api.get(detail).status_code == 404


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"url": "https://a.example/"}, "name"),
        ({"name": "x"}, "url"),
        ({"name": "x", "url": "ftp://a.example/"}, "url"),
        ({"name": "x", "url": "https://a.example/", "events": ["exploded"]}, "events"),
        ({"name": "x", "url": "https://a.example/", "events": "dispatched"}, "events"),
        ({"name": "x", "url": "https://a.example/", "active": "perhaps"}, "active"),
        ({"name": "a\x00b", "url": "https://a.example/"}, "name"),
        ({"name": "x", "url": "http://[::1/"}, "url"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(city, data, field):
    response = client_for(city, "dispatcher").post(LIST, data, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field and response.json()["message"]
    assert not Webhook.objects.exists()


def test_bad_json_and_bad_patches(city):
    api = client_for(city, "dispatcher")
    response = api.post(LIST, "{not json", content_type="application/json")
    assert response.status_code == 400
    hook = actions.webhook_create(by=city.users["dispatcher"], name="x", url="https://a.example/")[
        0
    ]
    detail = f"{LIST}{hook.pk}/"
    assert api.patch(detail, {"url": "javascript:alert(1)"}, format="json").status_code == 400
    assert api.patch(detail, {"events": ["nope"]}, format="json").status_code == 400
    hook.refresh_from_db()
    assert hook.url == "https://a.example/" and hook.events == []
    assert api.put(detail, {"name": "x"}, format="json").status_code == 405


def test_scopes_and_callers(city):
    assert client_for(city, None).get(LIST).status_code == 401
    assert (
        client_for(city, None)
        .post(LIST, {"name": "x", "url": "https://a.example/"}, format="json")
        .status_code
        == 401
    )
    read_only = client_for(city, "dispatcher", ("read",))
    assert read_only.get(LIST).status_code == 403
    assert (
        read_only.post(LIST, {"name": "x", "url": "https://a.example/"}, format="json").status_code
        == 403
    )
    for key in ("resident", "outsider"):  # a token of an account without a staff role
        response = client_for(city, key).post(
            LIST, {"name": "x", "url": "https://a.example/"}, format="json"
        )
        assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert not Webhook.objects.exists()
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer clk_00000000_nope")
    assert bad.get(LIST).status_code == 401


def test_a_token_never_reaches_another_users_webhooks(city):
    hook = actions.webhook_create(
        by=city.users["dispatcher"], name="theirs", url="https://a.example/"
    )[0]
    (delivery,) = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(webhook=hook, event_name="ping", payload="{}")]
    )
    api = client_for(city, "dispatcher_b")
    assert api.get(LIST).json()["results"] == []
    base = f"{LIST}{hook.pk}/"
    assert api.get(base).status_code == 404
    assert api.patch(base, {"name": "mine now"}, format="json").status_code == 404
    assert api.delete(base).status_code == 404
    assert api.post(f"{base}rotate-secret/", {}, format="json").status_code == 404
    assert api.get(f"{base}deliveries/").status_code == 404
    assert api.post(f"{base}deliveries/{delivery.uuid}/redeliver/").status_code == 404
    hook.refresh_from_db()
    assert hook.name == "theirs"
    # A system administrator's admin token sees everyone's.
    admin = client_for(city, "admin", ("admin",))
    assert [w["id"] for w in admin.get(LIST).json()["results"]] == [hook.pk]


def test_rotating_the_secret_over_the_api(city):
    hook = actions.webhook_create(by=city.users["dispatcher"], name="x", url="https://a.example/")[
        0
    ]
    api = client_for(city, "dispatcher")
    response = api.post(f"{LIST}{hook.pk}/rotate-secret/", {"keep_old": False}, format="json")
    assert response.status_code == 200
    hook.refresh_from_db()
    assert response.json() == {"secret": hook.secret, "previous_secret_expires_at": None}
    response = api.post(f"{LIST}{hook.pk}/rotate-secret/", {}, format="json")
    assert response.json()["previous_secret_expires_at"] is not None
    assert (
        api.post(
            f"{LIST}{hook.pk}/rotate-secret/", {"keep_old": "maybe"}, format="json"
        ).status_code
        == 400
    )


def test_the_delivery_log_and_redelivery(city, receiver, django_capture_on_commit_callbacks):
    hook = actions.webhook_create(by=city.users["dispatcher"], name="x", url=receiver.url + "/in")[
        0
    ]
    receiver.answer(500)
    with django_capture_on_commit_callbacks(execute=True):
        delivery = actions.webhook_ping(webhook=hook, by=city.users["dispatcher"])
    api = client_for(city, "dispatcher")
    logged = api.get(f"{LIST}{hook.pk}/deliveries/").json()["results"]
    assert len(logged) == 1
    entry = logged[0]
    assert (
        entry["id"] == str(delivery.uuid)
        and entry["event"] == "ping"
        and entry["status"] == "gave_up"
    )
    assert entry["last_status_code"] == 500 and entry["payload"]["id"] == str(delivery.uuid)
    assert api.get(f"{LIST}{hook.pk}/deliveries/", {"status": "succeeded"}).json()["results"] == []
    assert api.get(f"{LIST}{hook.pk}/deliveries/", {"status": "bogus"}).status_code == 400

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{LIST}{hook.pk}/deliveries/{delivery.uuid}/redeliver/")
    assert response.status_code == 202 and response.json()["id"] == str(delivery.uuid)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and len(receiver.calls) == 2
    assert api.post(f"{LIST}{hook.pk}/deliveries/{uuid.uuid4()}/redeliver/").status_code == 404


def test_a_revoked_registration_token_locks_the_api_out(city):
    user = city.users["dispatcher"]
    token, raw = token_issue(user=user, name="vendor", scopes=["read", "write"], by=user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert (
        api.post(LIST, {"name": "x", "url": "https://a.example/"}, format="json").status_code == 201
    )
    token_revoke(token=token, by=user)
    assert api.get(LIST).status_code == 401


def test_the_openapi_document_describes_the_webhook_endpoints(city):
    response = APIClient().get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/webhooks/"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/webhooks/{webhook_id}/"])
    assert "post" in paths["/api/v1/webhooks/{webhook_id}/rotate-secret/"]
    assert "get" in paths["/api/v1/webhooks/{webhook_id}/deliveries/"]
    assert "post" in paths["/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver/"]
    assert "404" in paths["/api/v1/webhooks/{webhook_id}/"]["get"]["responses"]
