"""Throttling of the exchange endpoint (scope ``civic_exchange``) and the client IP it is keyed on."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.test import RequestFactory

from django_civic.api.throttling import client_ip

URL = "/civic/sip/exchange/"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    caches["default"].clear()
    yield
    caches["default"].clear()


def civic(settings, **overrides):
    api = overrides.pop("API", {})
    settings.CIVIC = {**settings.CIVIC, **overrides, "API": api}


def attempt(client, **extra):
    # An empty body is refused with 400 token_required: cheap, and it still counts as an attempt.
    return client.post(URL, b"{}", content_type="application/json", **extra)


def test_throttled_after_the_rate_with_retry_after(client, settings):
    civic(settings, API={"THROTTLE_RATE": "3/min"})
    assert [attempt(client).status_code for _ in range(3)] == [400, 400, 400]
    response = attempt(client)
    assert response.status_code == 429
    body = response.json()
    assert body["error"] == "throttled" and body["detail"]
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    assert body["retry_after"] == retry_after


def test_throttling_is_on_by_default(client, settings, record_figure):
    civic(settings)
    statuses = [attempt(client).status_code for _ in range(31)]
    assert statuses[:30] == [400] * 30
    assert statuses[30] == 429
    record_figure("throttle.default.sip_exchange", allowed=30, refused_after=1, rate="30/min")


def test_rate_none_turns_it_off(client, settings):
    civic(settings, API={"THROTTLE_RATE": None})
    assert {attempt(client).status_code for _ in range(40)} == {400}


def test_spoofed_x_forwarded_for_is_ignored_without_trusted_proxies(client, settings, record_figure):
    civic(settings, TRUSTED_PROXY_COUNT=0, API={"THROTTLE_RATE": "3/min"})
    statuses = [attempt(client, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(6)]
    assert statuses == [400, 400, 400, 429, 429, 429]
    record_figure("throttle.spoofed_ip.sip_exchange", spoofed_addresses=6, extra_attempts_gained=0)


def test_one_trusted_proxy_keys_on_the_address_it_saw(client, settings):
    civic(settings, TRUSTED_PROXY_COUNT=1, API={"THROTTLE_RATE": "2/min"})
    # What the client put to the left of our proxy's entry does not matter.
    same_client = [attempt(client, HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, 198.51.100.7").status_code
                   for n in range(3)]
    assert same_client == [400, 400, 429]
    # Another client behind the same proxy has its own bucket.
    assert attempt(client, HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 400


def test_client_ip_reads_x_forwarded_for_from_the_right(settings):
    factory = RequestFactory()

    def ip(count, forwarded=None, remote="192.0.2.1"):
        civic(settings, TRUSTED_PROXY_COUNT=count)
        extra = {"REMOTE_ADDR": remote}
        if forwarded is not None:
            extra["HTTP_X_FORWARDED_FOR"] = forwarded
        return client_ip(factory.get("/", **extra))

    assert ip(0, "203.0.113.5") == "192.0.2.1"
    assert ip(1, "203.0.113.5") == "203.0.113.5"
    assert ip(1, "6.6.6.6, 203.0.113.5") == "203.0.113.5"
    assert ip(2, "6.6.6.6, 203.0.113.5, 10.0.0.2") == "203.0.113.5"
    # Fewer entries than proxies: the request skipped our proxies, trust only the peer.
    assert ip(2, "203.0.113.5") == "192.0.2.1"
    assert ip(1, "") == "192.0.2.1"
    assert ip(1, None) == "192.0.2.1"
    # Garbage where an address should be falls back to the peer too.
    assert ip(1, "not-an-ip") == "192.0.2.1"
    assert ip(1, "203.0.113.5, <script>") == "192.0.2.1"
    assert ip(1, " 2001:db8::1 ") == "2001:db8::1"
    assert ip(0, None, remote="garbage") == "unknown"
