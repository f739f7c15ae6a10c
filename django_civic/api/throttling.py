"""Throttling of the login (exchange) endpoints, keyed by a client IP that cannot be spoofed.

``X-Forwarded-For`` is a list each proxy appends to, so only its right-most entries were written by
proxies we run; everything to their left was sent by the client and can say anything. With
``CIVIC["TRUSTED_PROXY_COUNT"] = N`` the client is the N-th address from the right; with 0 (the default)
the header is ignored entirely and ``REMOTE_ADDR`` is used. Reading it any other way lets an attacker
pick a fresh "IP" per request and never be throttled.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle

from ..conf import civic_settings

__all__ = ["CivicExchangeThrottle", "client_ip"]

logger = logging.getLogger("django_civic.api")


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
    """

    scope = "civic_exchange"

    @property  # type: ignore[override]
    def cache(self) -> BaseCache:
        return caches[civic_settings.CACHE_ALIAS]

    def get_rate(self) -> str | None:
        return civic_settings.API["THROTTLE_RATE"]

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}

    def allow_request(self, request: Any, view: Any) -> bool:
        # A cache outage must not turn every login into a 500. Throttling fails open here because the
        # replay check, which uses the same cache, fails closed: the exchange is refused with 503
        # replay_check_unavailable before any code reaches Civic.
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # any cache backend failure
            logger.warning("exchange throttle skipped: cache %r failed (%s)", civic_settings.CACHE_ALIAS,
                           type(exc).__name__)
            return True
