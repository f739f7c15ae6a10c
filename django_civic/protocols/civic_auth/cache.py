"""The cache interface the OIDC client needs, and a small in-memory one for use outside Django.

Django's cache (``django.core.cache.caches[...]``) already has this shape, so the app passes it in
and every process shares discovery, JWKS, cooldowns and exchanged tokens. ``add`` is the one atomic
operation relied upon: it is how a cooldown or a single use is claimed across processes.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol


class Cache(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any, timeout: float | None = ...) -> Any: ...

    def add(self, key: str, value: Any, timeout: float | None = ...) -> bool: ...

    def delete(self, key: str) -> Any: ...


class MemoryCache:
    """A thread-safe, per-process cache with expiry (what Django's LocMemCache does, minus culling)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._data: dict[str, tuple[float | None, Any]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def _live(self, key: str) -> tuple[bool, Any]:
        item = self._data.get(key)
        if item is None:
            return False, None
        expires, value = item
        if expires is not None and expires <= self._clock():
            del self._data[key]
            return False, None
        return True, value

    def _expiry(self, timeout: float | None) -> float | None:
        return None if timeout is None else self._clock() + timeout

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            found, value = self._live(key)
            return value if found else default

    def set(self, key: str, value: Any, timeout: float | None = 300) -> None:
        with self._lock:
            self._data[key] = (self._expiry(timeout), value)

    def add(self, key: str, value: Any, timeout: float | None = 300) -> bool:
        with self._lock:
            found, _ = self._live(key)
            if found:
                return False
            self._data[key] = (self._expiry(timeout), value)
            return True

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._data.pop(key, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
