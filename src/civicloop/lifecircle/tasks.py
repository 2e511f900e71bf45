"""Thin task wrappers: load ids, call a service."""

from django_tasks import task

from . import actions


@task()
def network_import(network_id: int) -> str:
    """Read a queued ``.osm.pbf`` into the walking network (``actions.network_run``)."""
    return actions.network_run(network_id)


@task()
def analysis_compute(analysis_id: int) -> str:
    """Compute a queued life-circle analysis (``actions.analysis_run``)."""
    return actions.analysis_run(analysis_id)
