"""Thin task wrappers: load ids, call a service."""

from django_tasks import task

from . import services


@task()
def notify_case_event(*, case_id: int, event_id: int) -> int:
    return services.notices_for_event(case_id=case_id, event_id=event_id)


@task()
def deliver(*, delivery_id: int) -> str:
    return services.delivery_send(delivery_id=delivery_id)


@task()
def retry_deliveries() -> int:
    return services.deliveries_retry()
