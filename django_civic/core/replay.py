"""Single use across processes: ``consume_once(namespace, key, ttl)``.

An auth code or ID token must log in once, even when 50 copies of it arrive at once on different
workers (allauth ``jwtkit.verify_jti``). ``cache.add`` is atomic on every shared cache backend (Redis,
Memcached, database): exactly one caller gets ``True``. The key is hashed, so no token or code ever sits
in the cache in clear text and any length fits Memcached's key limit.

The check fails *closed*: if the cache cannot answer, the login is refused with
:class:`~django_civic.exceptions.ReplayCheckUnavailable` (503) rather than allowed without protection.
A per-process cache (LocMem) cannot see other workers; the system check ``django_civic.W004`` warns.
"""

from __future__ import annotations

import hashlib
import logging
import math

from django.core.cache import caches

from django_civic.conf import civic_settings
from django_civic.exceptions import ReplayCheckUnavailable

logger = logging.getLogger(__name__)

KEY_PREFIX = "django_civic:once"
#: Added to every record's lifetime. A caller's ``ttl`` runs to the last instant *its* clock would accept
#: the token; another app server whose clock is behind still accepts it after that, so the record must
#: outlive the callers' own reckoning by more than the servers' clocks can disagree.
CLOCK_SKEW_MARGIN = 300


def cache_key(namespace: str, key: str) -> str:
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"{KEY_PREFIX}:{namespace}:{digest}"


def consume_once(namespace: str, key: str, ttl: float) -> bool:
    """Mark ``key`` used in ``namespace`` for ``ttl`` seconds plus :data:`CLOCK_SKEW_MARGIN`.

    ``ttl`` is how long the caller would still accept the token: until its ``exp`` *plus* the leeway its
    validator allows. Returns ``True`` the first time, ``False`` for every later call within ``ttl``. Raises
    :class:`ReplayCheckUnavailable` when the cache fails.
    """
    if not key:
        raise ValueError("consume_once needs a non-empty key")
    timeout = max(0, math.ceil(ttl)) + CLOCK_SKEW_MARGIN
    try:
        cache = caches[civic_settings.CACHE_ALIAS]
        added = cache.add(cache_key(namespace, key), 1, timeout=timeout)
    except Exception as exc:  # any backend failure (connection refused, timeout, misconfiguration)
        # The exception type only: backend messages may echo the key or the server's address.
        logger.error("replay check unavailable: cache %r failed (%s)", civic_settings.CACHE_ALIAS,
                     type(exc).__name__)
        raise ReplayCheckUnavailable() from None
    return bool(added)
