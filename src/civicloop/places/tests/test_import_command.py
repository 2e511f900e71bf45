"""``manage import_areas FILE``: prints what it did, or every problem and a non-zero exit."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError

from civicloop.places.models import Area, AreaKind
from civicloop.places.tests.geojson import city_features, collection

pytestmark = pytest.mark.django_db


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_the_command_imports_and_reports_counts(tmp_path: Path) -> None:
    out = StringIO()
    call_command("import_areas", str(write(tmp_path / "city.geojson", collection())), stdout=out)

    assert "grid: 4 created, 0 updated, 0 unchanged" in out.getvalue()
    assert "Imported 10 features." in out.getvalue()
    assert Area.objects.filter(kind=AreaKind.GRID).count() == 4

    again = StringIO()
    call_command("import_areas", str(tmp_path / "city.geojson"), stdout=again)
    assert "grid: 0 created, 0 updated, 4 unchanged" in again.getvalue()


def test_a_dry_run_writes_nothing(tmp_path: Path) -> None:
    out = StringIO()
    call_command(
        "import_areas", str(write(tmp_path / "city.geojson", collection())), "--dry-run", stdout=out
    )
    assert "Dry run" in out.getvalue()
    assert not Area.objects.exists()


def test_problems_are_printed_and_the_command_fails(tmp_path: Path) -> None:
    features = city_features()
    features[1]["properties"]["name"] = ""
    features[5]["geometry"] = {"type": "Point", "coordinates": [87.6, 43.8]}
    path = write(tmp_path / "bad.geojson", collection(features))

    err = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("import_areas", str(path), stderr=err)

    assert "2 problems" in str(caught.value)
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("features[1] (code 650102): ")
    assert lines[1].startswith("features[5] (code 650102001001002): ")
    assert not Area.objects.exists()


def test_the_command_exits_non_zero_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path / "bad.geojson", {"type": "FeatureCollection", "features": [{"type": "Feature"}]}
    )
    with pytest.raises(SystemExit) as caught:
        ManagementUtility(["manage.py", "import_areas", str(path)]).execute()
    assert caught.value.code != 0
    assert "properties" in capsys.readouterr().err


def test_an_unreadable_file_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as caught:
        call_command("import_areas", str(tmp_path / "missing.geojson"))
    assert "Cannot read" in str(caught.value)
