"""``manage import_ledger`` and ``manage export_ledger``: the same checks, scope and columns."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from civicloop.cases.models import Case, State
from civicloop.testing import Loop

from .helpers import good_row, read_xlsx, xlsx

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_dry_run_writes_nothing_then_import_writes(city, tmp_path):
    path = tmp_path / "台账.xlsx"
    path.write_bytes(xlsx([good_row("CLI-1"), good_row("CLI-2")]))
    out, _err = run("import_ledger", str(path), "--as", "dispatcher", "--dry-run")
    assert (
        "2 rows: 2 without errors" in out
        and "nothing was written" in out
        and Case.objects.count() == 0
    )
    out, _err = run("import_ledger", str(path), "--as", "dispatcher")
    assert "2 cases imported from 台账.xlsx" in out
    assert set(Case.objects.values_list("ticket_no", flat=True)) == {"CLI-1", "CLI-2"}


def test_import_with_errors_imports_nothing_and_writes_the_report(city, tmp_path):
    path, report = tmp_path / "bad.csv", tmp_path / "errors.xlsx"
    path.write_bytes(xlsx([good_row("OK-1"), good_row("BAD-2", 上报时间="昨天")]))
    err = StringIO()
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command(
            "import_ledger",
            str(path),
            "--as",
            "dispatcher",
            "--errors",
            str(report),
            stdout=StringIO(),
            stderr=err,
        )
    assert "row 3, 上报时间" in err.getvalue() and Case.objects.count() == 0
    assert read_xlsx(report.read_bytes())[2][-1].startswith("上报时间")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--as", "nobody"], "No active user"),
        (["--as", "leader"], "Only dispatchers"),
    ],
)
def test_import_refusals(city, tmp_path, args, words):
    path = tmp_path / "a.xlsx"
    path.write_bytes(xlsx([good_row()]))
    with pytest.raises(CommandError, match=words):
        run("import_ledger", str(path), *args)


def test_import_of_a_missing_or_unusable_file(city, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run("import_ledger", str(tmp_path / "missing.xlsx"), "--as", "dispatcher")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(CommandError, match="empty"):
        run("import_ledger", str(empty), "--as", "dispatcher")


def test_export_with_filters_and_the_users_scope(city, tmp_path):
    loop = Loop(city, t0=timezone.now() - dt.timedelta(days=10))
    closed = loop.to(State.CLOSED)
    loop.to(State.REPORTED)
    other = loop.to(State.CLOSED, grid="g4")
    out_path = tmp_path / "out.xlsx"
    out, _err = run("export_ledger", str(out_path), "--as", "dispatcher", "--state", "closed")
    assert "1 case written" in out
    assert {r[0] for r in read_xlsx(out_path.read_bytes())[1:]} == {closed.ticket_no}
    run(
        "export_ledger",
        str(out_path),
        "--as",
        "admin",
        "--area",
        city.areas["dB"].code,
        "--lang",
        "en",
    )
    rows = read_xlsx(out_path.read_bytes())
    assert rows[0][0] == "Ticket number" and {r[0] for r in rows[1:]} == {other.ticket_no}


def test_export_refuses_an_area_outside_the_users_scope(city, tmp_path):
    out_path = tmp_path / "out.xlsx"
    with pytest.raises(CommandError, match="Some filters are not valid"):
        run("export_ledger", str(out_path), "--as", "dispatcher", "--area", city.areas["dB"].code)
    assert not out_path.exists()
    with pytest.raises(CommandError, match="Unknown area code"):
        run("export_ledger", str(out_path), "--as", "dispatcher", "--area", "999")
