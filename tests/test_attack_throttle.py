"""Throttling of the Civic Auth exchange endpoints (``civic/auth/nonce/``, ``civic/auth/token/``): on by
default, keyed on a client IP that only our own proxies can set.

tests/test_api_throttling.py holds the same rules for ``civic/sip/exchange/`` and the unit tests of
``client_ip``. All three endpoints share one budget per client (DRF scope ``civic_exchange``), so guessing
through one of them does not buy extra attempts at another.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client

from .multiprocess import fire_at_once

pytestmark = pytest.mark.django_db
NONCE = "/civic/auth/nonce/"
TOKEN = "/civic/auth/token/"
DEFAULT_RATE = 30  # "30/min", the documented default of CIVIC["API"]["THROTTLE_RATE"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    caches["default"].clear()
    yield
    caches["default"].clear()


def civic(settings, **overrides):
    settings.CIVIC = {**settings.CIVIC, **overrides}


def attempt(client, path, **extra):
    # A token login with a token that is not even a JWT: refused at once (400), but it counts.
    body = {"id_token": "not-a-jwt", "nonce_id": "n"} if path == TOKEN else {}
    return client.post(path, body, content_type="application/json", **extra)


@pytest.mark.parametrize("path", [NONCE, TOKEN])
def test_on_by_default(client, settings, path, record_figure):
    civic(settings)  # no API settings at all: the defaults
    statuses = [attempt(client, path).status_code for _ in range(DEFAULT_RATE + 5)]
    assert 429 not in statuses[:DEFAULT_RATE]
    assert statuses[DEFAULT_RATE:] == [429] * 5
    response = attempt(client, path)
    assert response.json()["error"] == "throttled" and int(response["Retry-After"]) >= 1
    record_figure(f"throttle.default{path.replace('/civic/auth/', '.civic_auth_').rstrip('/')}",
                  allowed=DEFAULT_RATE, refused_after=5, rate="30/min")


def test_one_budget_for_all_exchange_endpoints(client, settings):
    civic(settings, API={"THROTTLE_RATE": "4/min"})
    assert attempt(client, NONCE).status_code == 200
    assert attempt(client, TOKEN).status_code == 400
    assert client.post("/civic/sip/exchange/", {}, content_type="application/json").status_code == 400
    assert attempt(client, NONCE).status_code == 200
    assert [attempt(client, path).status_code for path in (NONCE, TOKEN)] == [429, 429]
    assert client.post("/civic/sip/exchange/", {}, content_type="application/json").status_code == 429


@pytest.mark.parametrize("path", [NONCE, TOKEN])
def test_spoofed_forwarded_for_buys_nothing(client, settings, path, record_figure):
    civic(settings, TRUSTED_PROXY_COUNT=0, API={"THROTTLE_RATE": "3/min"})
    spoofed = [attempt(client, path, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(20)]
    assert spoofed.count(429) == 17
    # One trusted proxy: only its own entry (the right-most) names the client; the rest is the client's word.
    caches["default"].clear()
    civic(settings, TRUSTED_PROXY_COUNT=1, API={"THROTTLE_RATE": "3/min"})
    behind_proxy = [attempt(client, path, HTTP_X_FORWARDED_FOR=f"10.6.6.{n}, 198.51.100.7").status_code
                    for n in range(20)]
    assert behind_proxy.count(429) == 17
    assert attempt(client, path, HTTP_X_FORWARDED_FOR="198.51.100.8").status_code != 429  # another client
    # Two trusted proxies, but a request that bypassed one of them: the peer address is what counts.
    caches["default"].clear()
    civic(settings, TRUSTED_PROXY_COUNT=2, API={"THROTTLE_RATE": "3/min"})
    bypassed = [attempt(client, path, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(20)]
    assert bypassed.count(429) == 17
    record_figure(f"throttle.spoofed_ip{path.replace('/civic/auth/', '.civic_auth_').rstrip('/')}",
                  spoofed_addresses=60, extra_attempts_gained=0)


# -- the limit under concurrency ---------------------------------------------------------------------------

# Requests released at once by one client, and the rate they meet. The database cache gets fewer: each
# thread holds a database connection of its own, and the shared PostgreSQL has about 100 to give.
LOAD = {"locmem": (120, 30), "database": (40, 10), "redis": (120, 30)}
CONCURRENT_CACHES = {
    "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "civic-throttle"},
    "database": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                 "LOCATION": "civic_throttle_cache"},
    # The suite's own Redis (tests/settings.py), under a prefix of its own.
    "redis": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "KEY_PREFIX": "civic_throttle_test"},
}


@pytest.fixture
def busy_switching():
    # Hand the GIL over far more often than the default 5 ms, so threads interleave inside the throttle
    # as requests on separate workers would.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", [
    pytest.param(name, marks=[pytest.mark.postgres] if name != "locmem" else [])
    for name in sorted(CONCURRENT_CACHES)
])
def test_the_limit_holds_under_concurrency_on_every_cache(settings, backend, busy_switching, record_figure):
    if backend == "redis" and os.environ.get("CIVIC_TEST_CACHE") != "redis":
        pytest.skip("needs Redis (CIVIC_TEST_CACHE=redis, make test-postgres)")
    if backend == "database" and connection.vendor == "sqlite":
        # SQLite's shared in-memory test database refuses a second writer at once ("table is locked")
        # instead of queueing it, and the throttle fails open on cache errors; PostgreSQL runs this.
        pytest.skip("needs a database that queues concurrent writers (CIVIC_TEST_DB=postgres)")
    attackers, rate = LOAD[backend]
    throttle_cache = dict(CONCURRENT_CACHES[backend])
    if backend == "redis":
        throttle_cache["LOCATION"] = settings.CACHES["default"]["LOCATION"]
    settings.CACHES = {**settings.CACHES, "throttle": throttle_cache}
    civic(settings, CACHE_ALIAS="throttle", API={"THROTTLE_RATE": f"{rate}/min"})
    if backend == "database":
        call_command("createcachetable", "civic_throttle_cache", verbosity=0)
    caches["throttle"].clear()

    def send(_i):
        try:
            return Client().post("/civic/sip/exchange/", b"{}", content_type="application/json").status_code
        finally:
            connections.close_all()  # this thread's own database connection

    # The limit is per fixed minute: a burst that straddles two windows may rightly get 2 x rate through.
    left_in_window = 60 - time.time() % 60
    if left_in_window < 20:
        time.sleep(left_in_window + 0.1)
    try:
        statuses = fire_at_once(attackers, send)
    finally:
        caches["throttle"].clear()
    assert not [s for s in statuses if isinstance(s, Exception)], statuses[:3]
    assert Counter(statuses) == {400: rate, 429: attackers - rate}
    record_figure(f"throttle.concurrent.{backend}", sent_at_once=attackers, rate=f"{rate}/min",
                  allowed=statuses.count(400))
