"""Thin task wrappers around the case sweeps."""

from django_tasks import task

from . import sweeps


@task()
def sweep_cases() -> dict[str, int]:
    return sweeps.sweep().__dict__
