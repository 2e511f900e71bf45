"""Inputs changed → the current results are stale: a recomputation is queued after the
commit (one at a time: ``analysis_request`` joins a queued one). Imports write their rows in
bulk without signals and queue their own analysis at the end."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from civicloop.places.models import Compound

from .models import Facility, FacilityKind


@receiver(post_save, sender=Facility)
@receiver(post_delete, sender=Facility)
@receiver(post_save, sender=FacilityKind)
@receiver(post_delete, sender=FacilityKind)
@receiver(post_save, sender=Compound)
@receiver(post_delete, sender=Compound)
def _inputs_changed(sender: type, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return  # fixtures
    connection = transaction.get_connection()
    # Once per transaction (and savepoint), however many rows it saves: an area import saves
    # hundreds. A hook of the same savepoints is dropped with them on a rollback, so a later
    # save registers again.
    here = set(connection.savepoint_ids)
    if not any(cb is _request and sids == here for sids, cb, _robust in connection.run_on_commit):
        transaction.on_commit(_request)


def _request() -> None:
    from .actions import analysis_request

    analysis_request()
