"""replay.consume_once: single use through cache.add, failing closed."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import caches

from django_civic.core.replay import cache_key, consume_once
from django_civic.exceptions import ReplayCheckUnavailable


@pytest.fixture(autouse=True)
def _clear():
    caches["default"].clear()
    yield
    caches["default"].clear()


def test_first_use_wins_then_refused():
    assert consume_once("sip", "code-1", 60) is True
    assert consume_once("sip", "code-1", 60) is False
    assert consume_once("sip", "code-2", 60) is True
    assert consume_once("oidc-jti", "code-1", 60) is True  # namespaces are separate


@pytest.mark.parametrize("ttl", [0, -5, 0.2])
def test_a_short_or_negative_ttl_still_protects(ttl):
    """Django reads timeout=0 as 'expire now': the clock-skew margin keeps the code burnt whatever the ttl."""
    assert consume_once("sip", "code", ttl) is True
    assert consume_once("sip", "code", ttl) is False


def test_the_code_never_sits_in_the_cache_in_clear():
    consume_once("sip", "secret-auth-code", 60)
    key = cache_key("sip", "secret-auth-code")
    assert "secret-auth-code" not in key and len(key) < 250
    assert caches["default"].get(key) == 1


def test_fifty_concurrent_uses_give_one_winner():
    results = []
    barrier = threading.Barrier(50)

    def use():
        barrier.wait()
        results.append(consume_once("sip", "shared-code", 60))

    threads = [threading.Thread(target=use) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 49 + [True]


def test_fails_closed_when_the_cache_errors(settings, caplog):
    settings.CACHES = {**settings.CACHES, "down": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.5}}}
    settings.CIVIC = {**settings.CIVIC, "CACHE_ALIAS": "down"}
    with pytest.raises(ReplayCheckUnavailable) as info:
        consume_once("sip", "the-code", 60)
    assert info.value.status == 503 and info.value.code == "replay_check_unavailable"
    assert "the-code" not in caplog.text


def test_fails_closed_for_an_unknown_alias(settings):
    settings.CIVIC = {**settings.CIVIC, "CACHE_ALIAS": "missing"}
    with pytest.raises(ReplayCheckUnavailable):
        consume_once("sip", "x", 60)


def test_empty_keys_are_a_programming_error():
    with pytest.raises(ValueError):
        consume_once("sip", "", 60)
