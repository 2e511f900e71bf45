"""Seed the GB/T 30428.2 component and event classes from cases/data/gbt30428_categories.csv.

Admins edit them afterwards; re-running only fills in missing codes.
"""

import csv
from pathlib import Path

from django.db import migrations

CSV_PATH = Path(__file__).resolve().parent.parent / "data" / "gbt30428_categories.csv"
PREFIX = {"component": "C", "event": "E"}


def seed(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    with CSV_PATH.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            code = f"{PREFIX[row['family']]}{row['big_code']}{row['small_code']}"
            Category.objects.get_or_create(
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


def unseed(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    Category.objects.filter(scheme="gbt30428", cases__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_case_loop")]
    operations = [migrations.RunPython(seed, unseed)]
