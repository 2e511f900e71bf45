"""Two workers sweeping the same due deliveries at the same moment: each is sent exactly once
(real PostgreSQL, separate connections; the conditional UPDATE decides who sends)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from civicloop.webhooks import actions, services
from civicloop.webhooks.models import DeliveryStatus, WebhookDelivery


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_workers_retrying_at_once_send_each_delivery_once(city, receiver):
    hook, _secret = actions.webhook_create(
        by=city.users["dispatcher"], name="x", url=receiver.url + "/in"
    )
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            webhook=hook,
            event_name="case.reported",
            payload=f'{{"id":"{i}"}}',
            status=DeliveryStatus.FAILED,
            attempts=1,
            next_attempt_at=now,
        )
        for i in range(30)
    )
    barrier = threading.Barrier(2)
    handled: list[int] = []
    errors: list[str] = []

    def worker() -> None:
        try:
            barrier.wait()
            handled.append(services.webhook_deliveries_retry(now=now))
        except Exception as exc:  # noqa: BLE001 - reported in the assertion
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == []
    assert sum(handled) == 30
    sent = Counter(call.body for call in receiver.calls)
    assert len(sent) == 30 and set(sent.values()) == {1}
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {
        (DeliveryStatus.SUCCEEDED, 2)
    }
