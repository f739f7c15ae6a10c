"""Per-user Civic access tokens through RFC 8693 token exchange, cached and shared.

``TokenExchanger.access_token(user_key, subject_token, profile=...)`` returns a Civic access token for
one of your users, to call Civic's hub on their behalf (seeds/civic-auth-app-integration.txt):

- cached in the shared cache per (client, user, profile) until shortly before it expires
  (``expires_in - min(margin, expires_in / 2)``, python-civic-mcp-client's rule), and only while the
  subject token it was obtained with is still the one presented: a new subject token (a new login,
  another user) is exchanged again;
- a token with no positive ``expires_in`` is returned but never cached;
- concurrent callers in one process for the same user and profile share one exchange request.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django_civic.protocols.civic_auth.cache import Cache
from django_civic.protocols.civic_auth.client import ACCESS_TOKEN_TYPE, OIDCClient
from django_civic.protocols.civic_auth.errors import OIDCConfigurationError, OIDCError, TokenExchangeError

SubjectToken = str | Callable[[], str]


@dataclass(frozen=True)
class ExchangedToken:
    access_token: str = field(repr=False)
    expires_at: float | None
    profile: str | None
    token_type: str = "Bearer"


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: ExchangedToken | None = None
        self.error: BaseException | None = None


class TokenExchanger:
    def __init__(self, client: OIDCClient, cache: Cache, *, margin: float = 30,
                 subject_token_type: str = ACCESS_TOKEN_TYPE, clock: Callable[[], float] = time.time,
                 wait_timeout: float = 60) -> None:
        self.client = client
        self.cache = cache
        self.margin = margin
        self.subject_token_type = subject_token_type
        self.clock = clock
        self.wait_timeout = wait_timeout
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}

    def cache_key(self, user_key: str, profile: str | None) -> str:
        raw = f"{self.client.issuer}\n{self.client.client_id}\n{user_key}\n{profile or ''}"
        return "django_civic:oidc:exchange:" + hashlib.sha256(raw.encode()).hexdigest()[:40]

    def forget(self, user_key: str, profile: str | None = None) -> None:
        self.cache.delete(self.cache_key(str(user_key), profile))

    def access_token(self, user_key: Any, subject_token: SubjectToken, *, profile: str | None = None,
                     expires_in: int | None = None, subject_key: str | None = None) -> ExchangedToken:
        """A valid Civic access token for ``user_key`` (any stable id of your user) and ``profile``.

        ``subject_token`` is the user's token from your identity provider, or a callable returning it.
        ``subject_key``, when given, is what a cached token stays bound to instead of the subject token,
        and a callable ``subject_token`` is then called only when an exchange is needed: for tokens minted
        on demand (the site's own identity tokens), each one new though the user is the same.
        """
        user_key = str(user_key)
        key = self.cache_key(user_key, profile)
        token: Any = None
        if subject_key is None:
            token = self._resolve(key, subject_token)
        bound_to = token if subject_key is None else "key\n" + subject_key
        subject = hashlib.sha256(bound_to.encode()).hexdigest()
        cached = self._cached(key, subject, profile)
        if cached is not None:
            return cached

        flight_key = f"{key}:{subject}"
        with self._lock:
            flight = self._flights.get(flight_key)
            leader = flight is None
            if leader:
                flight = self._flights[flight_key] = _Flight()
        assert flight is not None
        if not leader:
            if not flight.done.wait(self.wait_timeout):
                raise TokenExchangeError("the token exchange in progress did not finish in time")
            if flight.error is not None:
                raise flight.error
            assert flight.result is not None
            return flight.result
        try:
            flight.result = self._cached(key, subject, profile)
            if flight.result is None:
                token = token or self._resolve(key, subject_token)
                flight.result = self._exchange(key, subject, token, profile, expires_in)
            return flight.result
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                self._flights.pop(flight_key, None)
            flight.done.set()

    def _resolve(self, key: str, subject_token: SubjectToken) -> str:
        token = subject_token() if callable(subject_token) else subject_token
        if not isinstance(token, str) or not token:
            self.cache.delete(key)
            raise TokenExchangeError("no subject token to exchange")
        return token

    def _cached(self, key: str, subject: str, profile: str | None) -> ExchangedToken | None:
        entry = self.cache.get(key)
        if not isinstance(entry, dict) or entry.get("subject") != subject:
            return None
        expires_at = entry.get("expires_at")
        if not isinstance(expires_at, (int, float)) or self.clock() >= expires_at:
            return None
        return ExchangedToken(access_token=entry["access_token"], expires_at=expires_at, profile=profile,
                              token_type=entry.get("token_type", "Bearer"))

    def _exchange(self, key: str, subject: str, token: str, profile: str | None,
                  expires_in: int | None) -> ExchangedToken:
        try:
            response = self.client.token_exchange(token, subject_token_type=self.subject_token_type,
                                                  expires_in=expires_in, civic_profile=profile)
        except (TokenExchangeError, OIDCConfigurationError):
            raise
        except OIDCError as exc:
            error = TokenExchangeError(str(exc), status=exc.status)
            error.retryable = exc.retryable
            raise error from None
        lifetime = response.expires_in
        if lifetime is None or lifetime <= 0:
            # No usable lifetime: hand it out once, exchange again next time.
            return ExchangedToken(response.access_token, None, profile, response.token_type)
        now = self.clock()
        expires_at = now + lifetime - min(self.margin, lifetime / 2)
        self.cache.set(key, {"access_token": response.access_token, "expires_at": expires_at,
                             "subject": subject, "token_type": response.token_type},
                       max(1, int(expires_at - now)))
        return ExchangedToken(response.access_token, expires_at, profile, response.token_type)
