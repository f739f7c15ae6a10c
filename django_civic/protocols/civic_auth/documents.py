"""Provider documents (discovery, JWKS) kept in the shared cache with bounded lifetimes.

An entry is *fresh* for ``ttl`` seconds (the provider's ``Cache-Control: max-age`` when it sends one,
clamped to ``[min_ttl, ttl]``), then *stale* for up to ``stale_ttl`` more seconds: a stale entry is
refreshed on next use, and only served if that refresh fails, so a provider outage does not log
everyone out at once, while a provider that recovers is trusted again immediately.

Each process also keeps the fresh documents it has seen in memory until they go stale, so the hot
path (verifying a bearer token) costs no cache round trip and no re-parsing, only the signature check.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django_civic.protocols.civic_auth.cache import Cache


@dataclass(frozen=True)
class CachedDocument:
    document: dict[str, Any]
    fresh: bool


class DocumentCache:
    def __init__(self, cache: Cache, namespace: str, *, ttl: float, min_ttl: float = 60,
                 stale_ttl: float | None = None, clock: Callable[[], float] = time.time) -> None:
        self.cache = cache
        self.namespace = namespace
        self.ttl = max(1.0, float(ttl))
        self.min_ttl = min(float(min_ttl), self.ttl)
        self.stale_ttl = self.ttl if stale_ttl is None else float(stale_ttl)
        self.clock = clock
        # url -> (fresh_until, document): this process's copy of fresh documents.
        self._local: dict[str, tuple[float, dict[str, Any]]] = {}

    def key(self, url: str) -> str:
        return f"django_civic:oidc:{self.namespace}:{hashlib.sha256(url.encode()).hexdigest()[:32]}"

    def get(self, url: str, *, shared: bool = False) -> CachedDocument | None:
        """The cached document; ``shared`` skips this process's copy (to see another worker's refresh)."""
        local = None if shared else self._local.get(url)
        if local is not None and self.clock() < local[0]:
            return CachedDocument(local[1], True)
        entry = self.cache.get(self.key(url))
        if not isinstance(entry, dict) or not isinstance(entry.get("document"), dict):
            return None
        fresh_until = entry.get("fresh_until")
        if isinstance(fresh_until, (int, float)) and self.clock() < fresh_until:
            self._local[url] = (fresh_until, entry["document"])
            return CachedDocument(entry["document"], True)
        return CachedDocument(entry["document"], False)

    def put(self, url: str, document: dict[str, Any], max_age: int | None = None) -> None:
        ttl = self.ttl if max_age is None else min(max(float(max_age), self.min_ttl), self.ttl)
        fresh_until = self.clock() + ttl
        entry = {"document": document, "fresh_until": fresh_until}
        self.cache.set(self.key(url), entry, ttl + self.stale_ttl)
        self._local[url] = (fresh_until, document)

    def forget(self, url: str) -> None:
        self._local.pop(url, None)
        self.cache.delete(self.key(url))

    def claim_fetch(self, url: str, cooldown: float) -> bool:
        """Claim the right to fetch ``url`` now, at most once per ``cooldown`` seconds across processes.

        ``cache.add`` is atomic in every shared Django cache backend, so of many workers that want to
        refetch at once, one does and the others keep what they have.
        """
        if cooldown <= 0:
            return True
        return bool(self.cache.add(self.key(url) + ":cooldown", 1, cooldown))
