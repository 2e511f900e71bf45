"""The ``civicloop`` console command, run as a user runs it: in a subprocess, on the embedded
SQLite database of a fresh ``CIVICLOOP_HOME`` (``DATABASE_URL`` unset), so these tests run the
same in the SQLite and the PostgreSQL runs of ``make test``."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from civicloop import cli
from civicloop.places.tests.geojson import collection

DB_FILE = "civicloop.sqlite3"


def cli_env(home: Path) -> dict[str, str]:
    """The environment of someone who just installed civicloop: the defaults, a home of its own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CIVICLOOP_") and k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env["CIVICLOOP_HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def civicloop(*args: str) -> list[str]:
    return [sys.executable, "-m", "civicloop.cli", *args]


def run(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        civicloop(*args),
        env=cli_env(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home migrated once; tests copy its database instead of migrating again."""
    home = tmp_path_factory.mktemp("civicloop-migrated")
    result = run(home, "manage", "migrate", "--no-input", "-v0")
    assert result.returncode == 0, result.stdout + result.stderr
    return home / DB_FILE


@pytest.fixture
def home(tmp_path: Path, migrated: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    shutil.copy(migrated, path / DB_FILE)
    return path


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Long-running commands started by a test; whatever is left of them is killed afterwards."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        # Each was started in a session of its own: its group holds only its own children.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if proc.poll() is None:
            proc.wait(timeout=5)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def status_of(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def wait_for(
    predicate, *, timeout: float, proc: subprocess.Popen[bytes], what: str, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            output = log.read_text(errors="replace") if log else ""
            pytest.fail(f"the command exited ({proc.returncode}) before {what}:\n{output[-3000:]}")
        time.sleep(0.3)
    output = log.read_text(errors="replace") if log else ""
    pytest.fail(f"timed out waiting for {what}:\n{output[-3000:]}")


def start(
    started: list[subprocess.Popen[bytes]], home: Path, log: Path, *args: str
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            civicloop(*args),
            env=cli_env(home),
            cwd=home,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started.append(proc)
    return proc


# ---- in-process: the argument parser ---------------------------------------------------------


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command, option in (
        ("demo", "--cases"),
        ("serve", "--workers"),
        ("worker", "--once"),
        ("import-areas", "--dry-run"),
    ):
        with pytest.raises(SystemExit) as caught:
            cli.main([command, "--help"])
        assert caught.value.code == 0
        assert option in capsys.readouterr().out


def test_options_reach_the_management_command(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[tuple[str, ...], dict[str, object]]] = []
    monkeypatch.setattr(cli, "_setup", lambda *a: None)
    monkeypatch.setattr("django.core.management.call_command", lambda *a, **k: calls.append((a, k)))

    assert cli.main(["worker", "--once", "--interval", "5"]) == 0
    assert cli.main(["import-areas", "city.geojson", "--crs", "gcj02", "--dry-run"]) == 0

    assert calls == [
        (("run_worker",), {"interval": 5.0, "once": True}),
        (("import_areas", "city.geojson", "--crs", "gcj02", "--dry-run"), {}),
    ]


# ---- as a user runs it -------------------------------------------------------------------------


def test_manage_passes_everything_to_django(home: Path) -> None:
    result = run(home, "manage", "check")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def grid_counts(output: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith("grid"))
    return re.findall(r"\d+", line)


def test_import_areas_imports_a_geojson_file(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "city.geojson"
    path.write_text(json.dumps(collection(), ensure_ascii=False), encoding="utf-8")

    result = run(home, "import-areas", str(path))

    # The counts, whatever the language: created, updated, unchanged.
    assert result.returncode == 0, result.stderr
    assert grid_counts(result.stdout) == ["4", "0", "0"]
    assert "10" in result.stdout.splitlines()[-1]
    again = run(home, "import-areas", str(path))
    assert grid_counts(again.stdout) == ["0", "0", "4"]


def test_import_areas_fails_with_the_problems_and_no_traceback(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.geojson"
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature"}]}),
        encoding="utf-8",
    )

    result = run(home, "import-areas", str(path))

    assert result.returncode == 1
    assert "properties" in result.stderr
    assert "civicloop import-areas:" in result.stderr
    assert "Traceback" not in result.stderr


def test_worker_once_runs_one_round_and_exits(home: Path) -> None:
    result = run(home, "worker", "--once", "--interval", "1", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "civicloop worker" in result.stdout


def test_serve_answers_healthz_and_stops_on_sigterm(
    home: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    log = home / "serve.log"
    proc = start(started, home, log, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1")

    wait_for(
        lambda: status_of(f"http://127.0.0.1:{port}/healthz") == 200,
        timeout=90,
        proc=proc,
        what="/healthz",
        log=log,
    )
    assert status_of(f"http://127.0.0.1:{port}/") == 200

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert status_of(f"http://127.0.0.1:{port}/healthz") is None


def _cases_line(output: str) -> int:
    match = re.search(r"^\s+cases\s+(\d+)$", output, re.MULTILINE)
    assert match, output
    return int(match.group(1))


def test_demo_loads_serves_prints_the_logins_and_loads_only_once(
    home: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first_log = home / "demo-1.log"
    proc = start(started, home, first_log, "demo", "--cases", "20", "--bind", f"127.0.0.1:{port}")

    wait_for(
        lambda: "Demo logins" in first_log.read_text(errors="replace"),
        timeout=240,
        proc=proc,
        what="the demo logins",
        log=first_log,
    )
    time.sleep(0.5)  # the rest of the banner
    first = first_log.read_text(errors="replace")
    assert f"civicloop demo city: {url}/" in first
    for username in (
        "admin",
        "resident",
        "gridworker",
        "dispatcher",
        "unitstaff",
        "inspector",
        "campaign",
        "leader",
    ):
        assert re.search(rf"^  {username} ", first, re.MULTILINE), username
    assert f"{url}/admin/" in first
    assert status_of(f"{url}/healthz") == 200
    ticket_page = re.search(rf"{re.escape(url)}(/t/\d{{8}}-\d{{6}}/)", first)
    assert ticket_page and status_of(url + ticket_page.group(1)) == 200

    # SIGTERM stops the demo and, with it, its web server and worker.
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=40) == 0
    assert status_of(f"{url}/healthz") is None

    second_log = home / "demo-2.log"
    again = start(started, home, second_log, "demo", "--bind", f"127.0.0.1:{port}")
    wait_for(
        lambda: "Demo logins" in second_log.read_text(errors="replace"),
        timeout=120,
        proc=again,
        what="the demo logins",
        log=second_log,
    )
    second = second_log.read_text(errors="replace")
    assert "already loaded" in second
    assert _cases_line(second) == _cases_line(first)
    again.send_signal(signal.SIGTERM)
    assert again.wait(timeout=40) == 0
