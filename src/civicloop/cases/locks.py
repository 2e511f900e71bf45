"""Row locks for the case loop (one place, so every action locks the same way)."""

from django.db import transaction

from civicloop.core.errors import NotFoundOrForbidden

from .models import Case


def lock_case(case_id: int) -> Case:
    """Lock the case row until the surrounding transaction ends.

    On PostgreSQL this is SELECT … FOR UPDATE: a second writer waits, then sees the
    first writer's result (and its version check refuses stale work). SQLite has no
    row locks but runs one writer at a time (IMMEDIATE transactions).
    """
    assert transaction.get_connection().in_atomic_block, "lock_case needs a transaction"
    try:
        return Case.objects.select_for_update(of=("self",)).select_related("category", "unit", "grid").get(pk=case_id)
    except Case.DoesNotExist:
        from django.utils.translation import gettext as _

        raise NotFoundOrForbidden(_("No such case, or it is not in your area.")) from None
