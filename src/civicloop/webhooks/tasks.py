"""Thin task wrappers: load ids, call a service."""

from django_tasks import task

from . import services


@task()
def webhooks_fan_out(*, case_id: int, event_id: int) -> int:
    return services.deliveries_for_event(case_id=case_id, event_id=event_id)


@task()
def webhook_deliver(*, delivery_id: int) -> str:
    return services.delivery_send(delivery_id=delivery_id)
