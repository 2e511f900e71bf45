"""Test-suite plumbing shared by every app: which database a run is on, and fixtures
that are about the harness rather than the domain (personas live in
``src/civicloop/conftest.py``).

``make test`` runs the suite twice: on SQLite, and on a throwaway PostgreSQL server
(``tools/with_postgres.py`` sets ``CIVICLOOP_TEST_DB=postgres`` and ``DATABASE_URL``).

* ``CIVICLOOP_TEST_DB`` (``sqlite`` or ``postgres``), when set, must match the
  configured engine, or the whole session fails: a Postgres run never falls back to
  SQLite without saying so.
* Tests marked ``@pytest.mark.postgres_only`` (row locks, ``SKIP LOCKED`` …) are
  deselected on SQLite and run on PostgreSQL; ``make test`` always does both runs.
* Tests that cannot reach any database (no ``django_db`` mark, no fixture that opens the
  database: pytest-django refuses them database access) run in the SQLite run only: on
  PostgreSQL they would only repeat the same computation (the life-circle engine, the OSM
  reader, the scoring properties …). Every test that touches the database runs on both.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent
ENGINES = {
    "sqlite": "django.db.backends.sqlite3",
    "postgres": "django.db.backends.postgresql",
}
POSTGRES_ONLY = "postgres_only"
_deselected_key = pytest.StashKey[int]()
_repeated_key = pytest.StashKey[int]()


def configured_engine() -> str:
    from django.conf import settings

    return str(settings.DATABASES["default"]["ENGINE"])


def on_postgres() -> bool:
    return configured_engine() == ENGINES["postgres"]


def pytest_configure(config: pytest.Config) -> None:
    if not any(line.split(":")[0].strip() == POSTGRES_ONLY for line in config.getini("markers")):
        config.addinivalue_line(
            "markers", f"{POSTGRES_ONLY}: needs PostgreSQL; deselected on SQLite, run on PostgreSQL"
        )
    requested = os.environ.get("CIVICLOOP_TEST_DB", "")
    if not requested:
        return
    if requested not in ENGINES:
        raise pytest.UsageError(
            f"CIVICLOOP_TEST_DB={requested!r}: expected one of {', '.join(sorted(ENGINES))}"
        )
    engine = configured_engine()
    if engine != ENGINES[requested]:
        raise pytest.UsageError(
            f"CIVICLOOP_TEST_DB={requested} but the configured database engine is {engine} "
            f"(DATABASE_URL={'set' if os.environ.get('DATABASE_URL') else 'unset'}): refusing to run "
            "this suite on the wrong database. Use `make test-postgres` or tools/with_postgres.py."
        )


def pytest_report_header(config: pytest.Config) -> str:
    requested = os.environ.get("CIVICLOOP_TEST_DB") or "unset"
    return f"database: {configured_engine()} (CIVICLOOP_TEST_DB={requested})"


# Fixtures through which a test reaches the database (pytest-django's, and those built on them).
DATABASE_FIXTURES = frozenset(
    {
        "db",
        "transactional_db",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
        "live_server",
    }
)


def uses_database(item: pytest.Item) -> bool:
    if item.get_closest_marker("django_db"):
        return True
    return bool(DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if on_postgres():
        repeated = [item for item in items if not uses_database(item)]
        if repeated:
            config.hook.pytest_deselected(items=repeated)
            items[:] = [item for item in items if uses_database(item)]
            config.stash[_repeated_key] = len(repeated)
        return
    deselected = [item for item in items if item.get_closest_marker(POSTGRES_ONLY)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker(POSTGRES_ONLY)]
        config.stash[_deselected_key] = len(deselected)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    repeated = config.stash.get(_repeated_key, 0)
    if repeated:
        terminalreporter.write_line(
            f"{repeated} test(s) that reach no database deselected on PostgreSQL; they ran on SQLite."
        )
    count = config.stash.get(_deselected_key, 0)
    if count:
        terminalreporter.write_line(
            f"{count} {POSTGRES_ONLY} test(s) deselected on SQLite; "
            "they run in `make test-postgres` (part of `make test`)."
        )


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """``test-artifacts/`` in the repository root (git-ignored), for screenshots, exports
    and other files a person may want to look at after a run. Created on demand."""
    path = REPO_ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
