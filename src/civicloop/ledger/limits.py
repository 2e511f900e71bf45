"""The ledger's limits, each overridable in ``settings.CIVICLOOP`` under the name given."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS = {
    "LEDGER_IMPORT_MAX_ROWS": 5000,  # rows per imported file
    "LEDGER_IMPORT_MAX_BYTES": 10 * 1024 * 1024,  # bytes per imported file
    "LEDGER_EXPORT_MAX_ROWS": 200_000,  # cases per export
    "LEDGER_MAX_ACTIVE_EXPORTS": 3,  # queued or running exports per user
    "LEDGER_KEEP_DAYS": 7,  # days exports, uploads and error reports are kept
}


def limit(name: str) -> int:
    value: Any = settings.CIVICLOOP.get(name, DEFAULTS[name])
    return int(value)
