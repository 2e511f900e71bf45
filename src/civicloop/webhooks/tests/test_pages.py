"""The Integrations pages for every role: tokens, webhooks, the delivery log, and their bad inputs."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from civicloop.api.models import ApiToken
from civicloop.api.tokens import token_for_key, token_issue
from civicloop.webhooks import actions
from civicloop.webhooks.models import DeliveryStatus, DisabledReason, Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db

HOME = reverse("webhooks:home")
STAFF = [
    "dispatcher",
    "unit_staff",
    "grid_worker",
    "leader",
    "campaign_office",
    "inspector",
    "admin",
]


def login(city: Any, key: str, **kw: Any) -> Client:
    client = Client(**kw)
    client.force_login(city.users[key])
    return client


def _hook(city: Any, key: str, url: str = "https://hooks.example.cn/in", **kw: Any) -> Webhook:
    return actions.webhook_create(by=city.users[key], name=f"{key} hook", url=url, **kw)[0]


def _deliveries(
    hook: Webhook, n: int, status: str = DeliveryStatus.SUCCEEDED
) -> list[WebhookDelivery]:
    return WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            webhook=hook,
            event_name="ping",
            payload=f'{{"id":"{i}","event":"ping"}}',
            status=status,
            attempts=1,
            last_status_code=200 if status == DeliveryStatus.SUCCEEDED else 500,
        )
        for i in range(n)
    )


# ---- who may open the pages ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", STAFF)
def test_staff_open_the_integrations_page(city, key):
    response = login(city, key).get(HOME)
    assert response.status_code == 200
    html = response.content.decode()
    assert "API tokens" in html and "Webhooks" in html and "X-Civicloop-Signature" in html


@pytest.mark.parametrize("key", ["resident", "resident2", "outsider"])
def test_residents_and_users_without_a_role_are_refused(city, key):
    client = login(city, key)
    assert client.get(HOME).status_code == 403
    assert (
        client.post(
            reverse("webhooks:new"), {"name": "x", "url": "https://a.example/", "which": "all"}
        ).status_code
        == 403
    )
    assert (
        client.post(reverse("webhooks:token_issue"), {"name": "x", "scopes": ["read"]}).status_code
        == 403
    )
    assert not Webhook.objects.exists() and not ApiToken.objects.exists()


def test_anonymous_visitors_are_sent_to_log_in(city):
    response = Client().get(HOME)
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))


def test_the_navigation_links_dispatchers_and_unit_staff_here(city):
    for key in ("dispatcher", "unit_staff"):
        assert f'href="{HOME}"' in login(city, key).get(HOME).content.decode()


# ---- API tokens ---------------------------------------------------------------------------------------------------


def test_a_token_is_issued_and_its_key_shown_once(city):
    client = login(city, "unit_staff")
    response = client.post(
        reverse("webhooks:token_issue"),
        {"name": "环卫公司调度系统", "scopes": ["read", "write"], "expires_in_days": "30"},
    )
    assert response.status_code == 302 and response["Location"] == HOME + "#tokens"
    html = client.get(HOME).content.decode()
    key = re.search(r'value="(clk_[0-9a-f]+_[^"]+)"', html).group(1)
    token = token_for_key(key)
    assert (
        token is not None
        and token.user == city.users["unit_staff"]
        and token.scopes == ["read", "write"]
    )
    assert token.expires_at is not None
    # Shown once: the next visit lists the token, never its key.
    html = client.get(HOME).content.decode()
    assert key not in html and f"clk_{token.prefix}_…" in html and "环卫公司调度系统" in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"scopes": ["read"]}, "This field is required"),
        ({"name": "x"}, "Choose at least one scope"),
        ({"name": "x", "scopes": ["admin"]}, "Select a valid choice"),
        ({"name": "x", "scopes": ["delete"]}, "Select a valid choice"),
        ({"name": "x" * 101, "scopes": ["read"]}, "at most 100 characters"),
        ({"name": "x", "scopes": ["read"], "expires_in_days": "0"}, "greater than or equal to 1"),
        ({"name": "x", "scopes": ["read"], "expires_in_days": "soon"}, "Enter a whole number"),
    ],
)
def test_token_form_bad_inputs_write_nothing(city, data, message):
    response = login(city, "dispatcher").post(reverse("webhooks:token_issue"), data)
    assert response.status_code == 400 and message in response.content.decode()
    assert not ApiToken.objects.exists()


def test_an_admin_may_issue_admin_tokens(city):
    client = login(city, "admin")
    assert (
        client.post(
            reverse("webhooks:token_issue"), {"name": "ops", "scopes": ["admin"]}
        ).status_code
        == 302
    )
    assert ApiToken.objects.get().scopes == ["admin"]


def test_a_token_is_revoked_by_its_owner_and_nobody_else(city):
    own, own_key = token_issue(
        user=city.users["dispatcher"], name="mine", scopes=["read"], by=city.users["dispatcher"]
    )
    other, _k = token_issue(
        user=city.users["unit_staff"], name="theirs", scopes=["read"], by=city.users["unit_staff"]
    )
    client = login(city, "dispatcher")
    html = client.get(HOME).content.decode()
    assert "mine" in html and "theirs" not in html
    assert client.post(reverse("webhooks:token_revoke", args=[other.pk])).status_code == 404
    assert client.post(reverse("webhooks:token_revoke", args=[999999])).status_code == 404
    assert client.post(reverse("webhooks:token_revoke", args=[own.pk])).status_code == 302
    own.refresh_from_db()
    other.refresh_from_db()
    assert own.revoked_at is not None and other.revoked_at is None
    assert token_for_key(own_key) is None
    assert client.get(reverse("webhooks:token_revoke", args=[own.pk])).status_code == 405


def test_an_admin_sees_and_revokes_everyones_tokens(city):
    other, _k = token_issue(
        user=city.users["unit_staff"], name="theirs", scopes=["read"], by=city.users["unit_staff"]
    )
    client = login(city, "admin")
    assert "theirs" in client.get(HOME).content.decode()
    assert client.post(reverse("webhooks:token_revoke", args=[other.pk])).status_code == 302
    other.refresh_from_db()
    assert other.revoked_at is not None


# ---- webhooks ---------------------------------------------------------------------------------------------------------


def test_a_webhook_is_registered_and_its_secret_shown_once(city):
    client = login(city, "unit_staff")
    response = client.post(
        reverse("webhooks:new"),
        {
            "name": "调度系统",
            "url": "https://hooks.example.cn/civicloop",
            "which": "chosen",
            "events": ["dispatched", "verified"],
        },
    )
    hook = Webhook.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "webhooks:detail", args=[hook.pk]
    )
    assert (
        hook.owner == city.users["unit_staff"]
        and hook.events == ["dispatched", "verified"]
        and hook.active
    )
    html = client.get(response["Location"]).content.decode()
    assert hook.secret in html and "shown only this once" in html
    assert hook.secret not in client.get(response["Location"]).content.decode()
    assert "调度系统" in client.get(HOME).content.decode()


def test_the_new_webhook_form_renders(city):
    html = login(city, "dispatcher").get(reverse("webhooks:new")).content.decode()
    assert 'name="url"' in html and 'value="dispatched"' in html and "csrfmiddlewaretoken" in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"url": "https://a.example/", "which": "all"}, "This field is required"),
        ({"name": "x", "which": "all"}, "This field is required"),
        (
            {"name": "x", "url": "ftp://a.example/", "which": "all"},
            "must start with http:// or https://",
        ),
        ({"name": "x", "url": "http://u:p@a.example/", "which": "all"}, "user name and password"),
        ({"name": "x", "url": "https://a.example/", "which": "chosen"}, "Tick at least one event"),
        (
            {"name": "x", "url": "https://a.example/", "which": "chosen", "events": ["exploded"]},
            "Select a valid choice",
        ),
        ({"name": "x", "url": "https://a.example/", "which": "some"}, "Select a valid choice"),
        ({"name": "x", "url": "https://a.example/"}, "This field is required"),
    ],
)
def test_webhook_form_bad_inputs_write_nothing(city, data, message):
    response = login(city, "dispatcher").post(reverse("webhooks:new"), data)
    assert response.status_code == 400 and message in response.content.decode()
    assert not Webhook.objects.exists()


def test_a_user_may_have_only_so_many_webhooks(city, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "WEBHOOK_MAX_PER_USER": 1}
    client = login(city, "dispatcher")
    data = {"name": "x", "url": "https://a.example/", "which": "all"}
    assert client.post(reverse("webhooks:new"), data).status_code == 302
    response = client.post(reverse("webhooks:new"), data)
    assert (
        response.status_code == 400 and "You already have 1 webhooks" in response.content.decode()
    )
    assert Webhook.objects.count() == 1


def test_a_webhook_is_changed_and_a_bad_change_leaves_it_as_it_was(city):
    hook = _hook(city, "dispatcher")
    client = login(city, "dispatcher")
    url = reverse("webhooks:detail", args=[hook.pk])
    page = client.get(url).content.decode()
    assert "https://hooks.example.cn/in" in page and "Delivery log" in page
    response = client.post(
        url,
        {
            "name": "new name",
            "url": "https://b.example.cn/x",
            "which": "chosen",
            "events": ["returned"],
        },
    )
    assert response.status_code == 302
    hook.refresh_from_db()
    assert (hook.name, hook.url, hook.events) == (
        "new name",
        "https://b.example.cn/x",
        ["returned"],
    )

    response = client.post(url, {"name": "other", "url": "gopher://b.example.cn/", "which": "all"})
    assert (
        response.status_code == 400
        and "must start with http:// or https://" in response.content.decode()
    )
    hook.refresh_from_db()
    assert (hook.name, hook.url, hook.events) == (
        "new name",
        "https://b.example.cn/x",
        ["returned"],
    )
    assert (
        client.post(url, {"name": "", "url": "https://b.example.cn/", "which": "all"}).status_code
        == 400
    )
    assert (
        client.post(url, {"name": "n", "url": "https://b.example.cn/y", "which": "all"}).status_code
        == 302
    )
    hook.refresh_from_db()
    assert hook.events == []


def test_switching_off_and_on(city):
    hook = _hook(city, "dispatcher")
    client = login(city, "dispatcher")
    toggle = reverse("webhooks:toggle", args=[hook.pk])
    assert client.post(toggle, {"active": "0"}).status_code == 302
    hook.refresh_from_db()
    assert not hook.active and hook.disabled_reason == DisabledReason.MANUAL
    assert (
        "Switched off by hand"
        in client.get(reverse("webhooks:detail", args=[hook.pk])).content.decode()
    )
    assert client.post(toggle, {"active": "1"}).status_code == 302
    hook.refresh_from_db()
    assert hook.active
    for bad in ({}, {"active": "yes"}):
        response = client.post(toggle, bad)
        assert (
            response.status_code == 400
            and "switch the webhook on or off" in response.content.decode()
        )


def test_an_automatically_switched_off_webhook_says_why(city):
    hook = _hook(city, "dispatcher")
    Webhook.objects.filter(pk=hook.pk).update(
        active=False, failure_count=50, disabled_reason=DisabledReason.FAILURES
    )
    html = (
        login(city, "dispatcher").get(reverse("webhooks:detail", args=[hook.pk])).content.decode()
    )
    assert (
        "Switched off automatically after too many failed calls in a row" in html and "50" in html
    )
    assert "Switched off automatically" in login(city, "dispatcher").get(HOME).content.decode()


def test_rotating_shows_the_new_secret_once(city):
    hook = _hook(city, "dispatcher")
    old = hook.secret
    client = login(city, "dispatcher")
    assert (
        client.post(reverse("webhooks:rotate", args=[hook.pk]), {"keep_old": "on"}).status_code
        == 302
    )
    hook.refresh_from_db()
    assert hook.secret != old and hook.previous_secret == old
    html = client.get(reverse("webhooks:detail", args=[hook.pk])).content.decode()
    assert hook.secret in html and old not in html and "still signs until" in html
    assert client.post(reverse("webhooks:rotate", args=[hook.pk]), {}).status_code == 302
    hook.refresh_from_db()
    assert hook.previous_secret == ""


def test_a_test_ping_lands_in_the_log(city, receiver, django_capture_on_commit_callbacks):
    hook = _hook(city, "unit_staff", url=receiver.url + "/in")
    client = login(city, "unit_staff")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("webhooks:ping", args=[hook.pk]))
    assert response.status_code == 302
    (call,) = receiver.calls
    assert call.json["event"] == "ping"
    html = client.get(response["Location"]).content.decode()
    assert "Test ping queued" in html and "HTTP 200" in html and "<code>ping</code>" in html


def test_deleting_a_webhook_deletes_its_log(city):
    hook = _hook(city, "dispatcher")
    _deliveries(hook, 3)
    client = login(city, "dispatcher")
    assert client.get(reverse("webhooks:delete", args=[hook.pk])).status_code == 405
    response = client.post(reverse("webhooks:delete", args=[hook.pk]))
    assert response.status_code == 302 and response["Location"] == HOME
    assert not Webhook.objects.exists() and not WebhookDelivery.objects.exists()


# ---- the delivery log -----------------------------------------------------------------------------------------------------


def test_the_log_pages_and_filters_by_status(city):
    hook = _hook(city, "dispatcher")
    _deliveries(hook, 30)
    _deliveries(hook, 2, DeliveryStatus.FAILED)
    client = login(city, "dispatcher")
    url = reverse("webhooks:detail", args=[hook.pk])
    html = client.get(url).content.decode()
    assert html.count('class="status-') == 25 and "Page 1 of 2" in html
    assert client.get(url, {"page": "2"}).content.decode().count('class="status-') == 7
    assert client.get(url, {"page": "nonsense"}).status_code == 200
    html = client.get(url, {"status": "failed"}).content.decode()
    assert html.count('class="status-failed"') == 2 and 'class="status-succeeded"' not in html
    response = client.get(url, {"status": "exploded"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()


def test_a_delivery_shows_its_body_answer_and_can_be_redelivered(
    city, receiver, django_capture_on_commit_callbacks
):
    hook = _hook(city, "dispatcher", url=receiver.url + "/in")
    receiver.answer((500, b"receiver exploded"))
    with django_capture_on_commit_callbacks(execute=True):
        delivery = actions.webhook_ping(webhook=hook, by=city.users["dispatcher"])
    client = login(city, "dispatcher")
    url = reverse("webhooks:delivery", args=[hook.pk, delivery.uuid])
    html = client.get(url).content.decode()
    assert (
        str(delivery.uuid) in html
        and "receiver exploded" in html
        and "&quot;event&quot;: &quot;ping&quot;" in html
    )
    assert "HTTP 500 from the receiver" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("webhooks:redeliver", args=[hook.pk, delivery.uuid]))
    assert response.status_code == 302 and response["Location"] == url
    delivery.refresh_from_db()
    assert (
        delivery.status == DeliveryStatus.SUCCEEDED
        and delivery.attempts == 2
        and len(receiver.calls) == 2
    )
    assert "Delivered" in client.get(url).content.decode()


def test_a_refused_redelivery_says_why(city):
    hook = _hook(city, "dispatcher")
    (delivery,) = _deliveries(hook, 1, DeliveryStatus.GAVE_UP)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(event_name="case.reported")
    actions.webhook_set_active(webhook=hook, by=city.users["dispatcher"], active=False)
    response = login(city, "dispatcher").post(
        reverse("webhooks:redeliver", args=[hook.pk, delivery.uuid])
    )
    assert (
        response.status_code == 400
        and "switch it on before redelivering" in response.content.decode()
    )


# ---- scoping ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("intruder", ["dispatcher_b", "unit_staff", "leader", "grid_worker"])
def test_someone_elses_webhook_is_a_404_everywhere(city, intruder):
    hook = _hook(city, "dispatcher")
    (delivery,) = _deliveries(hook, 1)
    client = login(city, intruder)
    assert "dispatcher hook" not in client.get(HOME).content.decode()
    gets = [
        reverse("webhooks:detail", args=[hook.pk]),
        reverse("webhooks:delivery", args=[hook.pk, delivery.uuid]),
    ]
    posts = [
        (
            reverse("webhooks:detail", args=[hook.pk]),
            {"name": "x", "url": "https://evil.example/", "which": "all"},
        ),
        (reverse("webhooks:toggle", args=[hook.pk]), {"active": "0"}),
        (reverse("webhooks:rotate", args=[hook.pk]), {}),
        (reverse("webhooks:ping", args=[hook.pk]), {}),
        (reverse("webhooks:delete", args=[hook.pk]), {}),
        (reverse("webhooks:redeliver", args=[hook.pk, delivery.uuid]), {}),
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
    for url, data in posts:
        assert client.post(url, data).status_code == 404, url
    hook.refresh_from_db()
    assert (
        hook.active
        and hook.url == "https://hooks.example.cn/in"
        and WebhookDelivery.objects.count() == 1
    )


def test_a_delivery_of_another_webhook_is_a_404_even_under_ones_own(city):
    mine, theirs = _hook(city, "dispatcher"), _hook(city, "unit_staff")
    (delivery,) = _deliveries(theirs, 1)
    client = login(city, "dispatcher")
    assert (
        client.get(reverse("webhooks:delivery", args=[mine.pk, delivery.uuid])).status_code == 404
    )
    assert client.get(reverse("webhooks:delivery", args=[mine.pk, uuid.uuid4()])).status_code == 404
    assert client.get(reverse("webhooks:detail", args=[987654])).status_code == 404


def test_an_admin_sees_and_manages_every_webhook(city):
    hook = _hook(city, "unit_staff")
    client = login(city, "admin")
    html = client.get(HOME).content.decode()
    assert "unit_staff hook" in html and "Owner" in html
    assert client.get(reverse("webhooks:detail", args=[hook.pk])).status_code == 200
    assert (
        client.post(reverse("webhooks:toggle", args=[hook.pk]), {"active": "0"}).status_code == 302
    )
    hook.refresh_from_db()
    assert not hook.active


def test_every_form_needs_the_csrf_token(city):
    hook = _hook(city, "dispatcher")
    (delivery,) = _deliveries(hook, 1)
    token, _k = token_issue(
        user=city.users["dispatcher"], name="t", scopes=["read"], by=city.users["dispatcher"]
    )
    client = login(city, "dispatcher", enforce_csrf_checks=True)
    posts = [
        (reverse("webhooks:token_issue"), {"name": "x", "scopes": ["read"]}),
        (reverse("webhooks:token_revoke", args=[token.pk]), {}),
        (reverse("webhooks:new"), {"name": "x", "url": "https://a.example/", "which": "all"}),
        (
            reverse("webhooks:detail", args=[hook.pk]),
            {"name": "x", "url": "https://a.example/", "which": "all"},
        ),
        (reverse("webhooks:toggle", args=[hook.pk]), {"active": "0"}),
        (reverse("webhooks:rotate", args=[hook.pk]), {}),
        (reverse("webhooks:ping", args=[hook.pk]), {}),
        (reverse("webhooks:delete", args=[hook.pk]), {}),
        (reverse("webhooks:redeliver", args=[hook.pk, delivery.uuid]), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    hook.refresh_from_db()
    token.refresh_from_db()
    assert hook.active and hook.name == "dispatcher hook" and token.revoked_at is None
    assert (
        Webhook.objects.count() == 1
        and ApiToken.objects.count() == 1
        and WebhookDelivery.objects.count() == 1
    )
    # With the token from the page, the same form goes through.
    html = client.get(reverse("webhooks:detail", args=[hook.pk])).content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    assert (
        client.post(
            reverse("webhooks:toggle", args=[hook.pk]), {"active": "0", "csrfmiddlewaretoken": csrf}
        ).status_code
        == 302
    )


def test_pages_in_chinese(city):
    hook = _hook(city, "dispatcher")
    client = login(city, "dispatcher", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert client.get(HOME).status_code == 200
    assert client.get(reverse("webhooks:detail", args=[hook.pk])).status_code == 200


def test_the_admin_lists_webhooks_without_their_secret(city):
    hook = _hook(city, "dispatcher")
    _deliveries(hook, 1)
    client = login(city, "admin")
    for name in ("webhook", "webhookdelivery"):
        response = client.get(reverse(f"admin:webhooks_{name}_changelist"))
        assert response.status_code == 200 and hook.secret not in response.content.decode()
    response = client.get(reverse("admin:webhooks_webhook_change", args=[hook.pk]))
    assert response.status_code == 200 and hook.secret not in response.content.decode()
