"""Thin task wrappers: load ids, call a service."""

from django_tasks import task

from . import services


@task()
def export_cases(*, job_id: int) -> str:
    return services.export_run(job_id=job_id)
