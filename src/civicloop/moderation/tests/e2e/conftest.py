"""The browser fixtures of ``civicloop.web.tests.e2e`` (Playwright on Debian's Chromium,
the live server, the test city), shared here; these tests are marked ``e2e`` like those.

Screenshots go to ``test-artifacts/e2e-moderation/<database>/``: the web tests empty
``test-artifacts/e2e/<database>/`` when they start, which may be after these ran."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from civicloop.web.tests.e2e.conftest import (  # noqa: F401 - fixtures, used by name
    browser,
    browser_watch,
    log_in,
    open_page,
    site,
)

HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: end-to-end test in a real browser (Chromium via Playwright)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def moderation_artifacts(artifacts_dir: Path) -> Path:
    from django.conf import settings

    engine = str(settings.DATABASES["default"]["ENGINE"]).rsplit(".", 1)[-1]
    name = next((n for n in ("postgres", "sqlite") if n in engine), engine)
    path = artifacts_dir / "e2e-moderation" / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture
def shot(moderation_artifacts: Path, request: pytest.FixtureRequest) -> Callable[..., Path]:
    """``shot(page, "queue")`` → a full-page screenshot named after the test and the viewport."""
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")

    def take(page: Any, name: str) -> Path:
        path = (
            moderation_artifacts / f"{test}--{name}--{getattr(page, 'viewport_kind', 'page')}.png"
        )
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
