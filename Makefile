# django_civic: `make demo` runs the example site with the sandbox, `make test` runs the test suite.
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.installed

.PHONY: demo test lint test-postgres test-mysql test-browser test-quickstart test-all bench tox install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e ".[test,postgres,redis]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) example_project/manage.py migrate --noinput
	$(PY) example_project/manage.py create_demo_admin
	$(PY) example_project/manage.py civic_idp_keys list | grep -q active || $(PY) example_project/manage.py civic_idp_keys create
	$(PY) example_project/manage.py runserver 127.0.0.1:8000

test: $(STAMP)
	$(PY) -m pytest

# ruff over the whole tree and mypy (with the Django and DRF stubs) over the package; configured in pyproject.toml.
lint: $(STAMP)
	$(PIP) install -e ".[lint]"
	$(PY) -m ruff check .
	$(PY) -m mypy django_civic

# The same suite on PostgreSQL with Redis as the cache (both must be running on 127.0.0.1).
test-postgres: $(STAMP)
	CIVIC_TEST_DB=postgres CIVIC_TEST_CACHE=redis $(PY) -m pytest

# Real-browser tests: Debian's Chromium driven by Playwright (never `playwright install`).
# The same suite on MariaDB/MySQL (127.0.0.1:3306, root, no password). mysqlclient compiles against
# the MariaDB client headers: Debian's libmariadb-dev (installed with apt when missing).
test-mysql: $(STAMP)
	command -v mariadb_config >/dev/null || command -v mysql_config >/dev/null \
		|| (apt-get update -qq && apt-get install -y -qq libmariadb-dev pkg-config)
	$(PIP) install -e ".[mysql]"
	CIVIC_TEST_DB=mysql $(PY) -m pytest

test-browser: $(STAMP)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(PIP) install -e ".[browser]"
	CIVIC_BROWSER_TESTS=1 $(PY) -m pytest -m browser

# The README's quick start on a new startproject site, from a built wheel in a new virtualenv, signed in
# through the sandbox in Chromium (tests/quickstart). Needs Redis at 127.0.0.1:6379 (it uses database 11)
# and the package index for the new virtualenv's packages.
test-quickstart: $(STAMP)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(PIP) install -e ".[browser]"
	CIVIC_QUICKSTART_TESTS=1 $(PY) -m pytest -m quickstart tests/quickstart

test-all: test test-postgres test-mysql test-browser test-quickstart

# The peers (mozilla-django-oidc, django-allauth, simplejwt) into the bench extra, Civic's Node SDK with npm
# (bench/node, from its lock file), then every row; the first run also builds the 1M-identity data set.
bench: $(STAMP)
	$(PIP) install -e ".[bench]"
	cd bench/node && npm ci --no-audit --no-fund
	$(PY) -m bench

# tox finds python3.10 ... python3.13 on PATH: add pyenv's interpreters when pyenv is there.
PYENV_PATH = $(shell command -v pyenv >/dev/null 2>&1 && for v in $$(pyenv versions --bare | grep -E '^3\.1[0-9]'); do printf '%s:' "$$(pyenv root)/versions/$$v/bin"; done)

tox: $(STAMP)
	$(PIP) install tox
	PATH="$(PYENV_PATH)$$PATH" $(VENV)/bin/tox $(TOXARGS)

clean:
	rm -rf $(VENV) example_project/db.sqlite3 .tox build *.egg-info

# The published security figures (docs/security-figures.md): every test that records one (record_figure),
# on SQLite, then their PostgreSQL + Redis part (both running on 127.0.0.1; own database and Redis db 13),
# rendered into the table between the file's markers.
FIGURE_TESTS = $(shell grep -l record_figure tests/test_*.py)
.PHONY: security-figures
security-figures: $(STAMP)
	mkdir -p build && rm -f build/figures.jsonl
	CIVIC_FIGURES_FILE=build/figures.jsonl $(PY) -m pytest -q $(FIGURE_TESTS)
	CIVIC_FIGURES_FILE=build/figures.jsonl CIVIC_TEST_DB=postgres CIVIC_TEST_DB_NAME=civic_figures \
		CIVIC_TEST_CACHE=redis CIVIC_TEST_REDIS_URL=redis://127.0.0.1:6379/13 $(PY) -m pytest -q -m postgres $(FIGURE_TESTS)
	$(PY) tests/render_figures.py build/figures.jsonl --into docs/security-figures.md
