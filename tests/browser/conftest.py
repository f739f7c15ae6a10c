"""Real-browser tests: Playwright driving Debian's Chromium against pytest-django's ``live_server``.

Shared by every browser test of the project. They are marked ``@pytest.mark.browser`` and skipped unless
``CIVIC_BROWSER_TESTS=1`` is set and ``chromium`` is on PATH (``make test-browser`` does both), so
``make test`` stays fast. Playwright's own browser download is never used: ``playwright install`` is not
needed.

The site under test is the example project (the tests' ROOT_URLCONF includes ``example_project.urls``, which
mounts the sandbox at ``/civic-sandbox/``), so the site exchanges codes with its own sandbox over real HTTP.

Fixtures: ``browser`` (one Chromium per session), ``page`` (a fresh context per test: no shared cookies),
``site`` (the live server's base URL, with the sandbox reset and throttling off).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium")
ENABLED = os.environ.get("CIVIC_BROWSER_TESTS") == "1" and CHROMIUM is not None
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
# Generous for a loaded 2-core machine, still short enough to fail fast on a real hang.
TIMEOUT_MS = 20_000

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls from a thread with
# a running loop unless told it is fine, which it is here (tests, one thread at a time).
if ENABLED:
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if ENABLED:
        return
    reason = ("browser tests run with CIVIC_BROWSER_TESTS=1 and chromium on PATH (make test-browser)"
              if CHROMIUM else "chromium is not on PATH")
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not ENABLED:
        pytest.skip("browser tests are disabled")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install 'django-civic[browser]'")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.javascript_errors = errors  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def site(live_server: Any, settings: Any) -> Iterator[str]:
    """The live site's base URL (no trailing slash), sandbox on and mounted (DEBUG on), throttling off."""
    from django.core.cache import caches

    from django_civic.sandbox.control import reset_all

    caches["default"].clear()
    # The fetch after an IDEMIA callback runs inside the callback request (Django's default tasks backend,
    # ImmediateBackend); a worker process is tested on PostgreSQL in test_proofing_tasks.py.
    # The mounted sandbox answers only in development (SANDBOX and DEBUG on), and the site calls it at the
    # fixed SANDBOX_URL, never at an address taken from a request.
    settings.DEBUG = True
    settings.CIVIC = {"SANDBOX": True, "SANDBOX_URL": f"{live_server.url}/civic-sandbox/",
                      "API": {"THROTTLE_RATE": None}, "IDEMIA": {}}
    reset_all()
    try:
        yield live_server.url
    finally:
        reset_all()
