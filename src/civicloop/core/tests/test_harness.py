"""The test harness itself: each run is on the database it claims, and /healthz tells
whether that database answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.db import connection, connections
from django.db.utils import OperationalError
from django.test import Client

REPO_ROOT = Path(__file__).resolve().parents[4]


@pytest.mark.django_db
def test_the_run_is_on_the_database_it_was_asked_for() -> None:
    requested = os.environ.get("CIVICLOOP_TEST_DB", "sqlite")

    with connection.cursor() as cursor:
        if requested == "postgres":
            cursor.execute("SELECT version(), inet_server_port()")
            version, port = cursor.fetchone()
        else:
            cursor.execute("SELECT sqlite_version()")
            (version,) = cursor.fetchone()

    if requested == "postgres":
        assert connection.vendor == "postgresql"
        major = os.environ.get("CIVICLOOP_TEST_PG_MAJOR", "")
        assert version.startswith(f"PostgreSQL {major}"), version
        # The throwaway server of tools/with_postgres.py, not some other one.
        assert port == urlsplit(os.environ["DATABASE_URL"]).port
    else:
        assert requested == "sqlite"
        assert connection.vendor == "sqlite"
        assert version.startswith("3.")


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_postgres_only_tests_run_on_postgres_alone() -> None:
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE harness_queue (id integer)")
        cursor.execute("INSERT INTO harness_queue VALUES (1)")
        cursor.execute("SELECT id FROM harness_queue FOR UPDATE SKIP LOCKED")
        assert cursor.fetchall() == [(1,)]


def test_a_postgres_run_refuses_to_fall_back_to_sqlite() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["CIVICLOOP_TEST_DB"] = "postgres"

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", __file__],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "refusing to run this suite on the wrong database" in result.stdout + result.stderr


@pytest.mark.django_db
def test_healthz_is_ok_while_the_database_answers(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_is_503_when_the_database_is_unreachable(client: Client) -> None:
    refused = OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    with mock.patch.object(connections["default"], "cursor", side_effect=refused):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "down"}
