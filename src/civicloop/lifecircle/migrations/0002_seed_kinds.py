"""Seed the GB 50180 facility kinds and their OSM tag rules, so the mapping is there to
edit before the first import."""

from django.db import migrations


def seed(apps, schema_editor):  # noqa: ANN001, ANN201
    from civicloop.lifecircle.kinds import seed_kinds

    seed_kinds(
        apps.get_model("lifecircle", "FacilityKind"), apps.get_model("lifecircle", "TagRule")
    )


class Migration(migrations.Migration):
    dependencies = [("lifecircle", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
