"""Thin task wrappers: load ids, call a service."""

from django_tasks import task

from . import bulletins


@task()
def bulletin_write(bulletin_id: int) -> str:
    """Write the DOCX of a queued bulletin (``bulletins.bulletin_run``)."""
    return bulletins.bulletin_run(bulletin_id)
