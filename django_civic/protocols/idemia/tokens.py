"""The client-credentials access token, cached and shared by every caller of one client."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Refresh this long before the token expires (at most a tenth of its lifetime for short-lived tokens),
# so a token never expires between the check and IDEMIA receiving the request.
REFRESH_MARGIN = 60.0


class TokenCache:
    """Holds one access token until shortly before its ``expires_in``.

    ``fetch()`` returns ``(access_token, expires_in_seconds)``. Callers that arrive while a token is being
    fetched wait for that fetch instead of starting their own, so a burst of callers costs one token
    request. The lock is held across the fetch on purpose: the fetch has its own timeout.
    """

    def __init__(self, fetch: Callable[[], tuple[str, float]], *, margin: float = REFRESH_MARGIN,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._margin = margin
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    def __repr__(self) -> str:
        return f"<TokenCache {'cached' if self._token else 'empty'}>"

    def get(self) -> str:
        with self._lock:
            if self._token is not None and self._clock() < self._refresh_at:
                return self._token
            token, expires_in = self._fetch()
            now = self._clock()
            self._token = token
            self._refresh_at = now + max(0.0, expires_in - min(self._margin, expires_in / 10))
            return token

    def invalidate(self, token: str | None = None) -> None:
        """Forget the cached token (only if it is still ``token``, when given): IDEMIA refused it."""
        with self._lock:
            if token is None or token == self._token:
                self._token = None
                self._refresh_at = 0.0
