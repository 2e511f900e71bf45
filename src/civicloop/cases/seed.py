"""The GB/T 30428.2 component and event classes shipped in data/gbt30428_categories.csv.

One function serves the data migration (with the historical model) and test set-ups
that flush the database (with the live one). Re-running only fills in missing codes,
so an admin's edits are never overwritten.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

CSV_PATH = Path(__file__).resolve().parent / "data" / "gbt30428_categories.csv"
PREFIX = {"component": "C", "event": "E"}


def seed_categories(category_model: Any) -> int:
    """Create the missing standard categories; returns how many were created."""
    created = 0
    with CSV_PATH.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            code = f"{PREFIX[row['family']]}{row['big_code']}{row['small_code']}"
            _, made = category_model.objects.get_or_create(
                code=code,
                defaults={
                    "scheme": "gbt30428",
                    "family": row["family"],
                    "big_code": row["big_code"],
                    "big_name": row["big_name"],
                    "small_code": row["small_code"],
                    "name": row["name"],
                    "name_en": row["name_en"],
                    "time_limit_kind": row["time_limit_kind"],
                    "time_limit_value": int(row["time_limit_value"]),
                },
            )
            created += made
    return created
