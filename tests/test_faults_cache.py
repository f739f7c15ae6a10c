"""Under faults: the cache going away in the middle of a run (Redis stopped), then coming back.

Replay protection (an auth code logs in once, across every worker) lives in the shared cache. If the
cache cannot answer, logins must be refused, not let through unchecked: ``503 replay_check_unavailable``
with ``retryable: true``, nothing written, no code sent to Civic. Once the cache is back, logins work.

The test runs its own ``redis-server`` on a free port (never the machine's shared Redis), kills it with
SIGKILL as a crash would, and starts it again on the same port. Skipped when ``redis-server`` or the
``redis`` package is missing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from django_civic.models import CivicIdentity, VerifiedAttribute

redis = pytest.importorskip("redis", reason="the redis package is needed (pip install 'django-civic[redis]')")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not Path(REDIS_SERVER).exists(), reason="redis-server is not installed"),
]
User = get_user_model()


class PrivateRedis:
    """A throw-away ``redis-server`` on 127.0.0.1: no persistence, its own port and directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the private redis-server did not start") from None
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-run without closing anything, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def site(civic_sandbox, settings, private_redis):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": private_redis.url,
                    "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}},
    }
    # Throttling stays on: it uses the same cache and must not turn the outage into a 500.
    settings.CIVIC = civic_sandbox.civic_settings(SANDBOX_ALLOW_WITHOUT_DEBUG=True)
    return civic_sandbox


def sip_login(civic_sandbox):
    code = civic_sandbox.mint_code("alice", "BASIC_SIGNUP")["authToken"]
    browser = Client()
    return browser, browser.post("/civic/sip/exchange/", {"token": code}, content_type="application/json")


def counts() -> tuple[int, int, int]:
    return User.objects.count(), CivicIdentity.objects.count(), VerifiedAttribute.objects.count()


def test_redis_stopped_mid_run_fails_closed_then_recovers(site, private_redis, record_figure):
    browser, response = sip_login(site)
    assert response.status_code == 200, response.content
    assert counts() == (1, 1, 2)

    private_redis.kill()
    refused = 0
    for _ in range(3):  # every attempt while it is down, not only the first after the crash
        browser, response = sip_login(site)
        assert response.status_code == 503, response.content
        assert response.json() == {
            "error": "replay_check_unavailable",
            "detail": "Sign-in is temporarily unavailable. Please try again shortly.",
            "retryable": True,
        }
        assert "_auth_user_id" not in browser.session
        refused += 1
    # Civic Auth's ID-token login needs the cache for its nonce: refused the same way.
    nonce = Client().post("/civic/auth/nonce/")
    assert nonce.status_code == 503 and nonce.json()["error"] == "replay_check_unavailable"
    assert counts() == (1, 1, 2)

    private_redis.start()  # same port: the site's cache connections find it again by themselves
    browser, response = sip_login(site)
    assert response.status_code == 200, response.content
    assert response.json()["user_created"] is False and counts() == (1, 1, 2)
    assert Client().post("/civic/auth/nonce/").status_code == 200
    record_figure("faults.cache_down", attempts_while_down=refused, refused_503=refused, written=0,
                  recovered=True)


def test_a_code_refused_while_the_cache_was_down_never_reached_civic(site, private_redis):
    """Fail closed *before* the exchange: the refused code is unspent at Civic, and, since the replay
    check never recorded it, it still logs in once (and only once) when the cache is back."""
    code = site.mint_code("alice", "BASIC_SIGNUP")["authToken"]
    private_redis.kill()
    down = Client().post("/civic/sip/exchange/", {"token": code}, content_type="application/json")
    assert down.status_code == 503
    private_redis.start()
    first = Client().post("/civic/sip/exchange/", {"token": code}, content_type="application/json")
    assert first.status_code == 200, first.content
    again = Client().post("/civic/sip/exchange/", {"token": code}, content_type="application/json")
    assert again.status_code == 400 and again.json()["error"] == "token_replayed"
