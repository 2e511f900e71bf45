"""Webhook deliveries as an integration receives them: real case actions, a real HTTP receiver
on 127.0.0.1, signatures checked with ``signing.verify`` as a receiver would.

Events leave on commit (``commit`` runs one step and its on-commit callbacks, as a real
request would); the task backend runs jobs at once, so what the receiver got is what a
worker would have sent. Retries are driven by ``webhook_deliveries_retry(now=…)``: time is
passed in, never slept.
"""

from __future__ import annotations

import datetime as dt
import socket
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from civicloop.api.tokens import token_issue, token_revoke
from civicloop.cases import actions as A
from civicloop.cases.models import CaseEvent, EventKind, State
from civicloop.core.errors import ConflictError, ValidationFailed
from civicloop.notifications.services import muted
from civicloop.org.models import RoleAssignment
from civicloop.testing import Loop
from civicloop.webhooks import actions, services, signing, transport
from civicloop.webhooks.models import DeliveryStatus, DisabledReason, Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db

MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def commit(django_capture_on_commit_callbacks: Any):
    """Run one step as its own committed transaction: its events fan out, its deliveries go."""

    def run(fn: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return fn()

    return run


def _report(loop: Loop, commit: Any, **kw: Any) -> Any:
    return commit(lambda: loop.report(detect_duplicates=False, **kw).case)


def _dispatched(loop: Loop, commit: Any, **kw: Any) -> Any:
    case = _report(loop, commit, **kw)
    d = loop.dispatcher_for(case)
    case = commit(lambda: A.case_register(case=case, by=d, at=loop.tick()))
    return commit(lambda: A.case_dispatch(case=case, by=d, at=loop.tick()))


def _only(hook: Webhook) -> WebhookDelivery:
    (delivery,) = WebhookDelivery.objects.filter(webhook=hook)
    return delivery


# ---- what arrives ------------------------------------------------------------------------------------------


def test_a_dispatch_reaches_the_units_webhook_signed_and_without_contacts(
    city, receiver, hook_for, commit
):
    hook, secret = hook_for("unit_staff")
    loop = Loop(
        city, t0=timezone.now() - dt.timedelta(hours=2)
    )  # the deadline lies ahead: not overdue
    case = _dispatched(
        loop,
        commit,
        name="张三",
        phone="13800000000",
        email="zhang@example.cn",
        description="楼下垃圾堆放三天",
    )

    # Reported and registered happened before the case reached the unit: it could not see them.
    (call,) = receiver.calls
    assert call.path == "/hook"
    assert call.header("Content-Type") == "application/json"
    assert call.header("User-Agent") == "civicloop-webhooks/1"
    assert call.header("X-Civicloop-Event") == "case.dispatched"
    assert signing.verify(secret, call.header("X-Civicloop-Signature"), call.body, 300)
    body = call.json
    assert body["id"] == call.header("X-Civicloop-Delivery")
    assert body["event"] == "case.dispatched"
    assert body["occurred_at"].endswith("+08:00")
    event = CaseEvent.objects.get(case=case, kind=EventKind.DISPATCHED)
    assert dt.datetime.fromisoformat(body["occurred_at"]) == event.created_at.replace(microsecond=0)
    assert body["case"] == {
        "id": case.pk,
        "ticket_no": case.ticket_no,
        "state": "dispatched",
        "state_kind": "open",
        "category": {"code": "E0102", "name": case.category.name},
        "grid": city.areas["g1"].code,
        "unit": {"code": "U-HWC", "name": "市环境卫生管理处"},
        "deadline": timezone.localtime(case.deadline_at).isoformat(timespec="seconds"),
        "overdue": False,
        "version": case.version,
        "url": f"http://127.0.0.1:8000/cases/{case.pk}/",
    }
    assert body["data"] == {"from_state": "registered", "to_state": "dispatched", "note": ""}
    for private in ("张三", "13800000000", "zhang@example.cn", "楼下垃圾"):
        assert private not in call.body.decode()

    delivery = _only(hook)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        DeliveryStatus.SUCCEEDED,
        1,
        200,
    )
    assert delivery.payload.encode() == call.body  # the log keeps the exact body
    assert (
        str(delivery.uuid) == body["id"]
        and delivery.event_id == event.pk
        and delivery.case_id == case.pk
    )
    assert delivery.response_excerpt == '{"ok": true}' and delivery.delivered_at is not None
    hook.refresh_from_db()
    assert hook.failure_count == 0 and hook.last_success_at is not None


def test_events_reach_only_webhooks_whose_owner_may_see_the_case(city, receiver, hook_for, commit):
    hooks = {
        key: hook_for(key, path=f"/{key}")[0]
        for key in ("dispatcher", "dispatcher_b", "cgj_staff", "park_staff", "leader_b")
    }
    # An account without any role (it could not register one itself; say its roles were taken away).
    hooks["outsider"] = Webhook.objects.create(
        owner=city.users["outsider"], name="x", url=receiver.url + "/outsider", secret="whsec_x"
    )
    loop = Loop(city)
    case = _dispatched(loop, commit)
    h = loop.handler_for(case)
    case = commit(lambda: A.case_accept(case=case, by=h, at=loop.tick()))

    def kinds(key: str) -> list[str]:
        return [c.json["event"] for c in receiver.calls if c.path == f"/{key}"]

    assert kinds("dispatcher") == [
        "case.reported",
        "case.registered",
        "case.dispatched",
        "case.accepted",
    ]
    assert kinds("cgj_staff") == [
        "case.dispatched",
        "case.accepted",
    ]  # the bureau above the handling unit
    # Another district's dispatcher and leader, another unit: nothing, not even a row in their log.
    for key in ("dispatcher_b", "park_staff", "leader_b", "outsider"):
        assert kinds(key) == [] and not WebhookDelivery.objects.filter(webhook=hooks[key]).exists()

    receiver.calls.clear()
    _report(Loop(city, grid="g4"), commit)
    assert {c.path for c in receiver.calls} == {"/dispatcher_b", "/leader_b"}


def test_only_the_subscribed_kinds_are_sent(city, receiver, hook_for, commit):
    hook, _secret = hook_for("dispatcher", events=["registered", "case.dispatched"])
    _dispatched(Loop(city), commit)
    assert [c.json["event"] for c in receiver.calls] == ["case.registered", "case.dispatched"]
    assert WebhookDelivery.objects.filter(webhook=hook).count() == 2


def test_running_the_fan_out_again_sends_nothing_twice(city, receiver, hook_for, commit):
    hook, _secret = hook_for("dispatcher")
    case = _report(Loop(city), commit)
    event = CaseEvent.objects.get(case=case)
    assert commit(lambda: services.deliveries_for_event(case_id=case.pk, event_id=event.pk)) == 0
    assert len(receiver.calls) == 1 and WebhookDelivery.objects.filter(webhook=hook).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookDelivery.objects.create(
            webhook=hook, event=event, case=case, event_name="case.reported", payload="{}"
        )


def test_muted_history_sends_nothing(city, receiver, hook_for, commit):
    hook_for("dispatcher")
    with muted():
        commit(lambda: Loop(city).to(State.DISPATCHED))
    assert receiver.calls == [] and not WebhookDelivery.objects.exists()


def test_a_residents_rating_comment_stays_inside(city, receiver, hook_for, commit):
    hook_for("dispatcher", events=["rated"])
    loop = Loop(city)
    case = commit(lambda: loop.to(State.CLOSED))
    report = case.reports.first()
    commit(
        lambda: A.case_rate(
            case=case,
            rating="dissatisfied",
            ticket_no=report.ticket_no,
            note="打我电话 13900000000",
            at=loop.tick(),
        )
    )
    (call,) = receiver.calls
    assert call.json["event"] == "case.rated" and call.json["data"]["note"] == ""
    assert "13900000000" not in call.body.decode()


# ---- retries, giving up, switching off ----------------------------------------------------------------------


def test_a_500_is_retried_with_back_off_until_a_200(city, receiver, hook_for, commit):
    receiver.answer(500, 500, 200)
    hook, secret = hook_for("dispatcher", events=["reported"])
    _report(Loop(city), commit)

    delivery = _only(hook)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        DeliveryStatus.FAILED,
        1,
        500,
    )
    assert "500" in delivery.last_error and delivery.response_excerpt == "status 500"
    first = delivery.last_attempt_at
    assert delivery.next_attempt_at == first + 1 * MINUTE

    assert services.webhook_deliveries_retry(now=first + 59 * dt.timedelta(seconds=1)) == 0
    assert len(receiver.calls) == 1

    second = first + MINUTE
    assert services.webhook_deliveries_retry(now=second) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 2)
    assert delivery.next_attempt_at == second + 5 * MINUTE
    assert services.webhook_deliveries_retry(now=second + 4 * MINUTE) == 0

    third = second + 5 * MINUTE
    assert services.webhook_deliveries_retry(now=third) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        DeliveryStatus.SUCCEEDED,
        3,
        200,
    )
    assert (
        delivery.delivered_at == third
        and delivery.next_attempt_at is None
        and delivery.last_error == ""
    )

    # One delivery: the same id and body each time, signed at each attempt's own time.
    assert len({c.header("X-Civicloop-Delivery") for c in receiver.calls}) == 1
    assert len({c.body for c in receiver.calls}) == 1
    last = receiver.calls[-1]
    assert signing.verify(
        secret, last.header("X-Civicloop-Signature"), last.body, 300, now=third.timestamp()
    )
    assert not signing.verify(
        secret,
        last.header("X-Civicloop-Signature"),
        last.body,
        300,
        now=(third + 10 * MINUTE).timestamp(),
    )
    hook.refresh_from_db()
    assert hook.failure_count == 0 and hook.last_failure_at == second


def test_the_back_off_schedule_and_its_setting(settings):
    assert [services.backoff(n) for n in range(1, 8)] == [
        dt.timedelta(minutes=m) for m in (1, 5, 15, 60, 180, 720, 720)
    ]
    settings.CIVICLOOP = {**settings.CIVICLOOP, "WEBHOOK_RETRY_MINUTES": [2, 10]}
    assert [services.backoff(n) for n in (1, 2, 3)] == [
        dt.timedelta(minutes=m) for m in (2, 10, 10)
    ]


def test_it_gives_up_after_the_maximum_attempts(city, receiver, hook_for, commit, settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "WEBHOOK_MAX_ATTEMPTS": 3}
    receiver.default = (503, b"maintenance")
    hook, _secret = hook_for("dispatcher", events=["reported"])
    _report(Loop(city), commit)
    delivery = _only(hook)
    now = delivery.last_attempt_at
    for expected in (DeliveryStatus.FAILED, DeliveryStatus.GAVE_UP):
        now = delivery.next_attempt_at
        assert services.webhook_deliveries_retry(now=now) == 1
        delivery.refresh_from_db()
        assert delivery.status == expected
    assert (
        delivery.attempts == 3
        and delivery.next_attempt_at is None
        and delivery.last_status_code == 503
    )
    assert services.webhook_deliveries_retry(now=now + dt.timedelta(days=30)) == 0
    assert len(receiver.calls) == 3


def test_too_many_failures_in_a_row_switch_the_webhook_off(
    city, receiver, hook_for, commit, settings
):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "WEBHOOK_DISABLE_AFTER_FAILURES": 3}
    receiver.answer(500, 200, 500)
    receiver.default = (500, b"down")
    hook, _secret = hook_for("dispatcher", events=["reported"])
    loop = Loop(city)
    for _ in range(3):
        _report(loop, commit)
    hook.refresh_from_db()
    assert hook.active and hook.failure_count == 1  # the success in between started the count again

    _report(loop, commit)
    hook.refresh_from_db()
    assert hook.active and hook.failure_count == 2
    _report(loop, commit)
    hook.refresh_from_db()
    assert (
        not hook.active
        and hook.disabled_reason == DisabledReason.FAILURES
        and hook.disabled_at is not None
    )
    # What still waited is given up; new events are not even written for a switched-off webhook.
    assert not WebhookDelivery.objects.filter(
        webhook=hook, status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED]
    ).exists()
    calls = len(receiver.calls)
    _report(loop, commit)
    assert (
        WebhookDelivery.objects.filter(webhook=hook).count() == 5 and len(receiver.calls) == calls
    )
    assert services.webhook_deliveries_retry(now=timezone.now() + dt.timedelta(days=1)) == 0

    # Switched on again: the count starts from zero and events flow.
    receiver.default = (200, b"ok")
    hook = actions.webhook_set_active(webhook=hook, by=city.users["dispatcher"], active=True)
    assert hook.failure_count == 0 and hook.disabled_reason == ""
    _report(loop, commit)
    assert _latest(hook).status == DeliveryStatus.SUCCEEDED


def _latest(hook: Webhook) -> WebhookDelivery:
    return WebhookDelivery.objects.filter(webhook=hook).order_by("-id").first()


def test_switching_off_by_hand_gives_up_what_waits(city, receiver, hook_for, commit):
    receiver.answer(500)
    hook, _secret = hook_for("dispatcher", events=["reported"])
    _report(Loop(city), commit)
    actions.webhook_set_active(webhook=hook, by=city.users["dispatcher"], active=False)
    delivery = _only(hook)
    assert delivery.status == DeliveryStatus.GAVE_UP and "switched off" in delivery.last_error
    hook.refresh_from_db()
    assert hook.disabled_reason == DisabledReason.MANUAL


def test_the_answer_is_kept_to_its_first_kilobyte(city, receiver, hook_for, commit):
    receiver.answer((500, "错".encode() * 2000))
    hook, _secret = hook_for("dispatcher", events=["reported"])
    _report(Loop(city), commit)
    excerpt = _only(hook).response_excerpt
    assert excerpt.startswith("错错") and len(excerpt.encode("utf-8", errors="replace")) <= 1024 + 3


# ---- never twice at once ---------------------------------------------------------------------------------------


def test_two_workers_never_send_the_same_delivery(city, receiver, hook_for, commit, monkeypatch):
    receiver.answer(500)
    hook, _secret = hook_for("dispatcher", events=["reported"])
    _report(Loop(city), commit)
    delivery = _only(hook)
    due = delivery.next_attempt_at
    rivals: list[Any] = []
    real_post = transport.post

    def post_while_a_rival_tries(*args: Any, **kwargs: Any) -> transport.Answer:
        # A second worker, at the very moment the first one is calling the receiver.
        rivals.append(services.webhook_deliveries_retry(now=due))
        rivals.append(services.delivery_send(delivery_id=delivery.pk, now=due + MINUTE))
        return real_post(*args, **kwargs)

    monkeypatch.setattr(transport, "post", post_while_a_rival_tries)
    assert services.webhook_deliveries_retry(now=due) == 1
    assert rivals == [0, ""]
    assert len(receiver.calls) == 2  # the first attempt and this one; the rival sent nothing
    delivery.refresh_from_db()
    assert (
        delivery.status == DeliveryStatus.SUCCEEDED
        and delivery.attempts == 2
        and delivery.claimed_until is None
    )


def test_a_claim_left_by_a_dead_worker_is_taken_over_after_its_lease(
    city, receiver, hook_for, commit
):
    receiver.answer(500)
    hook, _secret = hook_for("dispatcher", events=["reported"])
    _report(Loop(city), commit)
    delivery = _only(hook)
    due = delivery.next_attempt_at
    lease = services._claim(delivery.pk, due)  # a worker took it, then died
    assert lease is not None
    assert services.webhook_deliveries_retry(now=lease - dt.timedelta(seconds=1)) == 0
    assert services.webhook_deliveries_retry(now=lease) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 3


def test_a_fresh_delivery_is_the_queues_for_a_minute_then_the_retry_jobs(city, receiver, hook_for):
    hook, _secret = hook_for("dispatcher", events=["reported"])
    case = Loop(city).report(detect_duplicates=False).case  # no commit: the queue never ran
    event = CaseEvent.objects.get(case=case)
    services.deliveries_for_event(case_id=case.pk, event_id=event.pk)
    delivery = _only(hook)
    assert delivery.status == DeliveryStatus.PENDING and receiver.calls == []
    assert (
        services.webhook_deliveries_retry(
            now=delivery.next_attempt_at + 30 * dt.timedelta(seconds=1)
        )
        == 0
    )
    assert services.webhook_deliveries_retry(now=delivery.next_attempt_at + MINUTE) == 1
    assert len(receiver.calls) == 1


# ---- who may still hear ------------------------------------------------------------------------------------------


def test_a_revoked_token_silences_the_webhook_registered_with_it(city, receiver, commit):
    user = city.users["dispatcher"]
    token, _key = token_issue(user=user, name="vendor", scopes=["read", "write"], by=user)
    hook, _secret = actions.webhook_create(
        by=user, name="vendor", url=receiver.url, api_token=token
    )
    loop = Loop(city)
    _report(loop, commit)
    assert len(receiver.calls) == 1
    token_revoke(token=token, by=user)
    _report(loop, commit)
    assert len(receiver.calls) == 1 and WebhookDelivery.objects.filter(webhook=hook).count() == 1


def test_an_owner_who_lost_the_case_before_a_retry_gets_nothing(city, receiver, hook_for, commit):
    receiver.answer(500)
    hook, _secret = hook_for("dispatcher", events=["reported"])
    _report(Loop(city), commit)
    delivery = _only(hook)
    RoleAssignment.objects.filter(user=city.users["dispatcher"]).delete()
    assert services.webhook_deliveries_retry(now=delivery.next_attempt_at) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.GAVE_UP and "no longer see" in delivery.last_error
    assert delivery.attempts == 1 and len(receiver.calls) == 1


# ---- ping, redelivery, rotation -------------------------------------------------------------------------------


def test_a_test_ping_is_signed_and_tried_once(city, receiver, hook_for, commit):
    hook, secret = hook_for("unit_staff")
    delivery = commit(lambda: actions.webhook_ping(webhook=hook, by=city.users["unit_staff"]))
    (call,) = receiver.calls
    assert (
        call.header("X-Civicloop-Event") == "ping"
        and call.json["event"] == "ping"
        and call.json["case"] is None
    )
    assert signing.verify(secret, call.header("X-Civicloop-Signature"), call.body)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED

    receiver.answer(500)
    delivery = commit(lambda: actions.webhook_ping(webhook=hook, by=city.users["unit_staff"]))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.GAVE_UP and delivery.attempts == 1
    hook.refresh_from_db()
    assert hook.failure_count == 0  # a ping never counts against the webhook


def test_redelivery_sends_the_same_delivery_again(city, receiver, hook_for, commit):
    hook, secret = hook_for("dispatcher", events=["reported"])
    _report(Loop(city), commit)
    delivery = _only(hook)
    commit(lambda: actions.delivery_redeliver(delivery=delivery, by=city.users["dispatcher"]))
    first, second = receiver.calls
    assert first.body == second.body and first.header("X-Civicloop-Delivery") == second.header(
        "X-Civicloop-Delivery"
    )
    assert signing.verify(secret, second.header("X-Civicloop-Signature"), second.body)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2


def test_redelivery_refusals(city, receiver, hook_for, commit):
    hook, _secret = hook_for("dispatcher", events=["reported"])
    _report(Loop(city), commit)
    delivery = _only(hook)
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        claimed_until=now + MINUTE
    )  # a worker is sending it
    with pytest.raises(ConflictError):
        actions.delivery_redeliver(delivery=delivery, by=city.users["dispatcher"], at=now)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(claimed_until=None)
    actions.webhook_set_active(webhook=hook, by=city.users["dispatcher"], active=False)
    with pytest.raises(ValidationFailed, match="switched off"):
        actions.delivery_redeliver(delivery=delivery, by=city.users["dispatcher"])
    assert len(receiver.calls) == 1


def test_rotation_keeps_the_old_secret_signing_for_a_day_unless_told_not_to(
    city, receiver, hook_for, commit
):
    hook, old = hook_for("dispatcher", events=["reported"])
    hook, new = actions.webhook_rotate_secret(webhook=hook, by=city.users["dispatcher"])
    assert new != old and new.startswith("whsec_")
    loop = Loop(city)
    _report(loop, commit)
    header, body = receiver.calls[-1].header("X-Civicloop-Signature"), receiver.calls[-1].body
    assert header.count("v1=") == 2
    assert signing.verify(new, header, body) and signing.verify(old, header, body)

    hook, newest = actions.webhook_rotate_secret(
        webhook=hook, by=city.users["dispatcher"], keep_old=False
    )
    _report(loop, commit)
    header, body = receiver.calls[-1].header("X-Civicloop-Signature"), receiver.calls[-1].body
    assert header.count("v1=") == 1
    assert signing.verify(newest, header, body) and not signing.verify(new, header, body)


# ---- the network ---------------------------------------------------------------------------------------------------


def test_redirects_are_not_followed(city, receiver, hook_for, commit):
    receiver.answer(302)
    hook, _secret = hook_for("dispatcher", events=["reported"])
    _report(Loop(city), commit)
    delivery = _only(hook)
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_status_code == 302
    assert "redirect" in delivery.last_error
    assert [c.path for c in receiver.calls] == ["/hook"]


def test_an_unreachable_receiver_is_recorded_and_retried(city, commit):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    hook, _secret = actions.webhook_create(
        by=city.users["dispatcher"],
        name="gone",
        url=f"http://127.0.0.1:{port}/",
        events=["reported"],
    )
    _report(Loop(city), commit)
    delivery = _only(hook)
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_status_code is None
    assert "Connection refused" in delivery.last_error or "ConnectionRefused" in delivery.last_error


def test_with_private_targets_blocked_a_call_to_loopback_is_refused_at_send_time(
    city, receiver, hook_for, commit, settings
):
    hook, _secret = hook_for("dispatcher", events=["reported"])  # registered while allowed
    settings.CIVICLOOP = {**settings.CIVICLOOP, "WEBHOOK_BLOCK_PRIVATE": True}
    _report(Loop(city), commit)
    delivery = _only(hook)
    assert delivery.status == DeliveryStatus.FAILED and "127.0.0.1" in delivery.last_error
    assert "private" in delivery.last_error and receiver.calls == []
