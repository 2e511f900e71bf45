"""The browser fixtures of the web app's end-to-end tests (Playwright on Debian's Chromium)."""

from civicloop.web.tests.e2e.conftest import (  # noqa: F401
    browser,
    browser_watch,
    e2e_artifacts,
    log_in,
    open_page,
    pytest_configure,  # registers the e2e marker
    shot,
    site,
)
