# django_civic: `make demo` runs the example site with the sandbox, `make test` runs the test suite.
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.installed

.PHONY: demo test test-postgres test-browser test-all bench tox install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e ".[test,postgres,redis]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) example_project/manage.py migrate --noinput
	$(PY) example_project/manage.py create_demo_admin
	$(PY) example_project/manage.py runserver 127.0.0.1:8000

test: $(STAMP)
	$(PY) -m pytest

# The same suite on PostgreSQL with Redis as the cache (both must be running on 127.0.0.1).
test-postgres: $(STAMP)
	CIVIC_TEST_DB=postgres CIVIC_TEST_CACHE=redis $(PY) -m pytest

# Real-browser tests: Debian's Chromium driven by Playwright (never `playwright install`).
test-browser: $(STAMP)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(PIP) install -e ".[browser]"
	CIVIC_BROWSER_TESTS=1 $(PY) -m pytest -m browser

test-all: test test-postgres test-browser

bench: $(STAMP)
	$(PIP) install -e ".[bench]"
	$(PY) -m bench

tox: $(STAMP)
	$(PIP) install tox
	$(VENV)/bin/tox

clean:
	rm -rf $(VENV) example_project/db.sqlite3 .tox build *.egg-info
