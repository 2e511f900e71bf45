"""End-to-end tests in a real browser: Playwright (sync API) driving Debian's Chromium
against pytest-django's live server.

* The browser is ``/usr/bin/chromium`` (``make browsers`` installs it; Playwright's own
  browser download does not work on these machines). When it is missing the tests fail
  with that message, never skip: ``make test`` always installs it first.
* The browser never reaches the network: every request to a host other than the live
  server is aborted and fails the test (``settings.test`` has no map tiles, so none is
  expected). A JavaScript error on a page fails the test too.
* Pages: ``open_page("phone")`` (360×740, touch) or ``open_page("desktop")`` (1280×800),
  each in its own browser context, so several people (resident, dispatcher …) can be
  logged in at once. ``shot(page, "name")`` saves a full-page screenshot under
  ``test-artifacts/e2e/<database>/`` (sqlite or postgres).
* Every test here is marked ``e2e``: ``pytest -m "not e2e"`` leaves them out.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

CHROMIUM = os.environ.get("CIVICLOOP_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling Google's hosts, which the
# closed network of the build machines refuses; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS: dict[str, dict[str, Any]] = {
    "phone": {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}
# Counts htmx requests in flight, so a test can wait until the page is quiet before it
# reads or submits what htmx re-renders (helpers.settle).
HTMX_TRACKER = """
window.__e2e = {inflight: 0, last: 0};
document.addEventListener("htmx:beforeRequest", function () { window.__e2e.inflight += 1; window.__e2e.last = Date.now(); });
document.addEventListener("htmx:afterRequest", function () { window.__e2e.inflight -= 1; window.__e2e.last = Date.now(); });
"""
LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}
E2E_DIR = Path(__file__).resolve().parent
TIMEOUT_MS = 15_000


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end test in a real browser (Chromium via Playwright)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module.

    Playwright's sync API keeps an asyncio event loop running in this thread while the
    browser is open, and Django refuses ORM calls from a thread with a running loop
    (``SynchronousOnlyOperation``) unless DJANGO_ALLOW_ASYNC_UNSAFE is set. The ORM calls
    here (fixtures, assertions) are plain synchronous code that merely shares the thread
    with Playwright's loop, so the check is switched off for as long as the browser is
    open, and on again when it closes, so that the rest of the suite keeps it.
    """
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's Chromium. "
            "Run `make browsers` (as root it installs it; `make test` does this first)."
        )
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@dataclass
class Watch:
    """What went wrong in the browser during one test."""

    blocked: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return [f"request to the outside world (blocked): {u}" for u in self.blocked] + [
            f"JavaScript error: {e}" for e in self.page_errors
        ]


@pytest.fixture
def browser_watch() -> Watch:
    return Watch()


@pytest.fixture
def site(live_server: Any, transactional_db: None, city: Any) -> Any:
    """The test city, served by the live server (transactional DB: the server thread
    sees what the test writes). ``site.url`` is the server's root, ``site.city`` the
    personas and areas of ``civicloop.testing.build_test_city``."""
    from django.core.cache import cache

    cache.clear()  # e.g. the per-address report rate limit: every test starts afresh
    return Site(url=live_server.url, city=city)


@dataclass
class Site:
    url: str
    city: Any

    def at(self, path: str) -> str:
        return self.url + path


@pytest.fixture
def open_page(browser: Any, browser_watch: Watch, live_server: Any) -> Iterator[Callable[..., Any]]:
    """``open_page("phone"|"desktop", locale="en-GB")`` → a fresh Page in its own context.

    The context's locale becomes the Accept-Language header, so a page opened with
    ``locale="zh-CN"`` is what a Chinese phone sees. Requests leaving the live server
    are aborted and reported; so are uncaught JavaScript errors."""
    contexts: list[Any] = []
    server = urlsplit(live_server.url)

    def route(r: Any) -> None:
        url = urlsplit(r.request.url)
        if url.scheme in ("data", "blob") or (url.hostname in LOCAL_HOSTS and url.port == server.port):
            r.continue_()
        else:
            browser_watch.blocked.append(r.request.url)
            r.abort("blockedbyclient")

    def make(kind: str = "phone", *, locale: str = "en-GB") -> Any:
        context = browser.new_context(
            locale=locale, timezone_id="Asia/Shanghai", service_workers="block", **VIEWPORTS[kind]
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.route("**/*", route)
        context.add_init_script(HTMX_TRACKER)
        contexts.append(context)
        page = context.new_page()
        page.viewport_kind = kind  # read by shot()
        page.on("pageerror", lambda exc: browser_watch.page_errors.append(f"{page.url}: {exc}"))
        return page

    yield make
    for context in contexts:
        context.close()
    problems = browser_watch.problems()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def e2e_artifacts(artifacts_dir: Path) -> Path:
    """test-artifacts/e2e/<database>/, emptied at the start of a run: ``make test`` runs the
    suite on SQLite and then on PostgreSQL, and keeps both sets of screenshots."""
    from django.conf import settings

    engine = str(settings.DATABASES["default"]["ENGINE"]).rsplit(".", 1)[-1]
    name = next((n for n in ("postgres", "sqlite") if n in engine), engine)  # as CIVICLOOP_TEST_DB
    path = artifacts_dir / "e2e" / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture
def shot(e2e_artifacts: Path, request: pytest.FixtureRequest) -> Callable[..., Path]:
    """``shot(page, "reported")`` → test-artifacts/e2e/<database>/<test>--reported--phone.png
    (the whole page, scrolled)."""
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")

    def take(page: Any, name: str) -> Path:
        path = e2e_artifacts / f"{test}--{name}--{getattr(page, 'viewport_kind', 'page')}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def log_in(site: Site) -> Callable[..., None]:
    """``log_in(page, "dispatcher")``: through the login form, as a person would; ends on
    the role's landing page (``/me/`` redirects there), or on ``next`` (a link followed
    from a notice, say: ``log_in(page, "grid_worker", next="/cases/7/")``)."""

    def do(page: Any, username: str, password: str = "pw", *, next: str = "") -> None:
        page.goto(site.at("/login/" + (f"?next={quote(next)}" if next else "")))
        page.get_by_label("User name").fill(username)
        page.get_by_label("Password").fill(password)
        with page.expect_navigation():
            page.get_by_role("button", name="Log in").click()

    return do
