# civicloop: one command from a clean clone to a tested checkout.
#
#   make test            setup, lint, migrations check, pytest on SQLite, pytest on PostgreSQL
#   make test-sqlite     setup, then pytest on SQLite               (PYTEST_ARGS="-k name -x")
#   make test-postgres   setup, then pytest on a throwaway PostgreSQL server
#   make demo            setup, then `civicloop demo`
#   make messages        refresh the zh-Hans/en catalogues (needs GNU gettext) and compile them
#
# Needs only python3 (3.11) with pip, make, and for the PostgreSQL run the server
# binaries (Debian: postgresql-15). uv is installed into .tools/, the project into .venv/.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# Steps of `make test` run in the order written, even under `make -j`.
.NOTPARALLEL:

PYTHON ?= python3
UV_VERSION ?= 0.13.9
TOOLS := .tools
TOOLS_UV := $(TOOLS)/bin/uv
# `make UV=uv` uses a uv of your own instead.
UV ?= $(TOOLS_UV)
VENV := .venv
PYTEST_ARGS ?=
DEMO_ARGS ?=
# 1 (default) makes lint findings fail the build; 0 prints them as warnings.
RUFF_STRICT ?= 1

# uv: the project's environment is .venv, on the machine's Python, never a downloaded one.
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export UV_PYTHON_DOWNLOADS := never
export UV_NO_PROGRESS := 1

.PHONY: help setup venv node browsers lint check-migrations test test-sqlite test-postgres \
	pytest-sqlite pytest-postgres demo clean messages

help:
	@sed -n 's/^#   make /  make /p' $(firstword $(MAKEFILE_LIST))

# ---- setup: everything the tests and the demo need, inside the checkout -------------

setup: venv node browsers

$(TOOLS_UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# uv sync is a no-op in well under a second when .venv already matches uv.lock.
venv: | $(filter $(TOOLS_UV),$(UV))
	$(UV) sync --frozen --group dev --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')"

# Front-end packages, once package.json exists; reinstalled when it or its lock changes.
# Front-end packages from the npm registry (package.json + package-lock.json), reinstalled
# when either changes; the files the pages load are then copied into the app's static files.
node: node_modules/.civicloop-installed | venv
	$(VENV)/bin/python tools/vendor_assets.py
node_modules/.civicloop-installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The browser for the end-to-end tests (src/civicloop/web/tests/e2e): Debian's Chromium
# at /usr/bin/chromium, driven by Playwright (a test tool's own browser download does not
# work on these machines), and a CJK font so the Chinese pages' screenshots are legible.
# Installed with apt-get when missing and we are root (as in CI); otherwise a message
# saying how. Nothing to do, in no time, once they are there.
CHROMIUM ?= /usr/bin/chromium
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
BROWSER_PACKAGES := chromium fonts-wqy-zenhei
browsers:
	@if [ -x "$(CHROMIUM)" ] && [ -e "$(CJK_FONT)" ]; then exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ]; then \
		echo "==> installing $(BROWSER_PACKAGES) (Debian) for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES) >/dev/null; \
	else \
		echo "make browsers: the browser tests need $(CHROMIUM) and $(CJK_FONT):"; \
		echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends $(BROWSER_PACKAGES)"; \
		exit 1; \
	fi

# ---- checks -------------------------------------------------------------------------

lint: venv
ifeq ($(RUFF_STRICT),1)
	$(VENV)/bin/ruff check .
else
	$(VENV)/bin/ruff check . || echo "WARNING: ruff check found problems (warn-only while RUFF_STRICT=0)"
endif

# A model change without its migration fails the build. In-memory SQLite: no files.
check-migrations: venv
	DJANGO_SETTINGS_MODULE=civicloop.settings.test DATABASE_URL=sqlite://:memory: \
		$(VENV)/bin/python -m civicloop.manage makemigrations --check --dry-run

# ---- tests --------------------------------------------------------------------------

# Both database runs happen even when the first fails, so one CI log shows both.
test: setup lint check-migrations
	@status=0; \
	$(MAKE) --no-print-directory pytest-sqlite || status=1; \
	$(MAKE) --no-print-directory pytest-postgres || status=1; \
	if [ $$status -ne 0 ]; then echo "make test: a test run failed (see above)"; fi; \
	exit $$status

test-sqlite: setup pytest-sqlite

test-postgres: setup pytest-postgres

# The runs without setup: what `test` calls after setting up once.
pytest-sqlite:
	@echo "==> pytest on SQLite"
	env -u DATABASE_URL CIVICLOOP_TEST_DB=sqlite $(VENV)/bin/pytest $(PYTEST_ARGS)

pytest-postgres:
	@echo "==> pytest on PostgreSQL"
	$(VENV)/bin/python tools/with_postgres.py -- $(VENV)/bin/pytest $(PYTEST_ARGS)

# ---- run ----------------------------------------------------------------------------

demo: setup
	$(VENV)/bin/civicloop demo $(DEMO_ARGS)

clean:
	rm -rf test-artifacts .pytest_cache .ruff_cache .mypy_cache

# ---- translations -------------------------------------------------------------------

# Re-extract src/civicloop/locale/{zh_Hans,en} from the code and templates (needs GNU
# gettext), then compile the .mo files with polib (tools/compile_messages.py). Translate
# the new zh_Hans msgids before committing: core/tests/test_i18n.py fails on any left.
messages: venv
	@command -v xgettext >/dev/null && command -v msgmerge >/dev/null || { \
		echo "make messages needs GNU gettext (xgettext, msgmerge): sudo apt-get install -y gettext"; exit 1; }
	cd src/civicloop && DJANGO_SETTINGS_MODULE=civicloop.settings.test DATABASE_URL=sqlite://:memory: \
		$(CURDIR)/$(VENV)/bin/python -m civicloop.manage makemessages \
		--locale zh_Hans --locale en --no-wrap --no-obsolete --add-location file
	$(VENV)/bin/python tools/compile_messages.py
