"""Seed the GB/T 30428.2 component and event classes from cases/data/gbt30428_categories.csv.

Admins edit them afterwards; re-running only fills in missing codes.
"""

from django.db import migrations

from civicloop.cases.seed import seed_categories


def seed(apps, schema_editor):
    seed_categories(apps.get_model("cases", "Category"))


def unseed(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    Category.objects.filter(scheme="gbt30428", cases__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_case_loop")]
    operations = [migrations.RunPython(seed, unseed)]
