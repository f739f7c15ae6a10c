"""Throttling of the login (exchange) endpoints, keyed by a client IP that cannot be spoofed.

``X-Forwarded-For`` is a list each proxy appends to, so only its right-most entries were written by
proxies we run; everything to their left was sent by the client and can say anything. With
``CIVIC["TRUSTED_PROXY_COUNT"] = N`` the client is the N-th address from the right; with 0 (the default)
the header is ignored entirely and ``REMOTE_ADDR`` is used. Reading it any other way lets an attacker
pick a fresh "IP" per request and never be throttled.

The count must also hold when the attempts arrive at once. DRF's ``SimpleRateThrottle`` reads a history
list from the cache and writes it back: concurrent requests all read the same history, so 120 at once let
81-97 through a 30/min limit. Here each attempt takes a numbered ticket in a fixed window with atomic cache
operations only (see :meth:`CivicExchangeThrottle.allow_request`).
"""

from __future__ import annotations

import ipaddress
import logging
import math
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle

from django_civic.conf import civic_settings

__all__ = ["CivicExchangeThrottle", "client_ip"]

logger = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str:
    """The client's IP address, trusting ``X-Forwarded-For`` only as far as our own proxies wrote it."""
    remote = _valid_ip(request.META.get("REMOTE_ADDR")) or "unknown"
    count = civic_settings.TRUSTED_PROXY_COUNT
    if not isinstance(count, int) or count <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if len(hops) < count:
        # Fewer entries than proxies: the request did not come through all of them, so the header is
        # not ours to trust; the peer we actually see is the best fact we have.
        return remote
    return _valid_ip(hops[-count]) or remote


def _valid_ip(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


class CivicExchangeThrottle(SimpleRateThrottle):
    """Scope ``civic_exchange``: at most ``CIVIC["API"]["THROTTLE_RATE"]`` attempts per client IP.

    Every attempt counts, failed or not, so guessing or replaying codes is throttled as well. A rate of
    ``None`` turns throttling off. The counters live in the cache ``CIVIC["CACHE_ALIAS"]``, which must be
    shared between processes in production (the system checks warn about a local-memory cache).

    Fixed windows of the rate's duration, one counter per client and window, so nothing is ever read and
    written back: ``incr`` hands out a ticket number and ``add`` of that ticket's own key claims it.
    ``add`` is atomic on every Django cache (LocMem, database, Redis, Memcached); ``incr`` is too, except
    on the database cache, where it is a get and a set and two attempts can draw the same number, so
    the ``add`` is what guarantees that no ticket is used twice and at most ``num_requests`` pass per
    window. A window's keys carry its number, so they are never reused, and they outlive it by one
    duration, so an app server whose clock lags never increments a counter that has just expired.
    """

    scope = "civic_exchange"
    num_requests: int  # set by SimpleRateThrottle.__init__ from the rate (absent from DRF's stubs)
    duration: int
    window_end: float

    # DRF declares ``cache`` a writable class attribute; nothing assigns it, a read-only property does.
    @property
    def cache(self) -> BaseCache:  # type: ignore[override]
        return caches[civic_settings.CACHE_ALIAS]

    def get_rate(self) -> str | None:
        return civic_settings.API["THROTTLE_RATE"]

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        # A cache outage must not turn every login into a 500. Throttling fails open here because the
        # replay check, which uses the same cache, fails closed: the exchange is refused with 503
        # replay_check_unavailable before any code reaches Civic.
        try:
            return self._take_ticket(f"{self.get_cache_key(request, view)}:{window}")
        except Exception as exc:  # any cache backend failure
            logger.warning("exchange throttle skipped: cache %r failed (%s)", civic_settings.CACHE_ALIAS,
                           type(exc).__name__)
            return True

    def _take_ticket(self, counter: str) -> bool:
        cache, timeout = self.cache, 2 * self.duration
        # Each lost draw means a ticket was taken by someone else; after num_requests of them the window
        # is full whatever the counter says (on the database cache a stale write can set it back).
        for _draw in range(self.num_requests):
            ticket = self._draw(cache, counter, timeout)
            if ticket > self.num_requests:
                return False
            if cache.add(f"{counter}:{ticket}", 1, timeout):
                return True
        return False

    @staticmethod
    def _draw(cache: BaseCache, counter: str, timeout: int) -> int:
        try:
            return int(cache.incr(counter))
        except ValueError:  # the window's first attempt: no counter yet
            if cache.add(counter, 1, timeout):
                return 1
            return int(cache.incr(counter))

    def wait(self) -> float:
        """Seconds until the current window ends (``Retry-After``), at least 1."""
        return max(1, math.ceil(self.window_end - self.now))
