"""Civic tokens kept in the user's session after a redirect login (``CIVIC["AUTH"]["STORE_TOKENS"]``).

The session is the caller's mapping (Django's server-side session): tokens never reach the browser.
:meth:`TokenStore.access_token` hands out the access token and, once it is about to expire, uses the
refresh token, checking that the refreshed ID token names the *same* identity as the login did
(OIDC Core 12.2). If the refresh fails or the identity changed, the stored tokens are dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from django_civic.protocols.civic_auth.client import OIDCClient
from django_civic.protocols.civic_auth.errors import IdentityChanged, OIDCError
from django_civic.protocols.civic_auth.types import TokenResponse

logger = logging.getLogger(__name__)

SESSION_KEY = "django_civic.oidc.tokens"
#: ID-token claims kept to compare a refreshed ID token with (no personal data).
IDENTITY_CLAIMS = ("iss", "sub", "aud", "azp", "auth_time", "nonce")


class TokenStore:
    def __init__(self, storage: MutableMapping[str, Any], *, key: str = SESSION_KEY,
                 clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.key = key
        self.clock = clock

    def _data(self) -> dict[str, Any] | None:
        data = self.storage.get(self.key)
        return data if isinstance(data, dict) else None

    def save(self, tokens: TokenResponse, claims: dict[str, Any], *, keep_tokens: bool = True) -> None:
        """Remember the ID token (for logout's ``id_token_hint``) and, with ``keep_tokens``, the
        access and refresh tokens."""
        data: dict[str, Any] = {
            "id_token": tokens.id_token,
            "identity": {name: claims[name] for name in IDENTITY_CLAIMS if name in claims},
        }
        if keep_tokens:
            data.update({
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
                "expires_at": self.clock() + tokens.expires_in if tokens.expires_in else None,
                "scope": tokens.scope,
            })
        self.storage[self.key] = data

    def id_token(self) -> str | None:
        data = self._data()
        return data.get("id_token") if data else None

    def clear(self) -> None:
        self.storage.pop(self.key, None)

    def access_token(self, client: OIDCClient, *, margin: float = 30) -> str | None:
        """A usable Civic access token for this session, refreshed if needed; None if there is none.

        Raises :class:`IdentityChanged` (after dropping the tokens) when a refresh names someone else.
        """
        data = self._data()
        if not data or not data.get("access_token"):
            return None
        expires_at = data.get("expires_at")
        if expires_at is None or self.clock() < expires_at - margin:
            return data["access_token"]
        refresh_token = data.get("refresh_token")
        if not refresh_token:
            self.clear()
            return None
        try:
            tokens, claims = client.refresh(refresh_token, previous_claims=data.get("identity") or {})
        except IdentityChanged:
            self.clear()
            raise
        except OIDCError as exc:
            logger.info("Civic Auth token refresh failed (%s); the stored tokens are dropped", exc.code)
            self.clear()
            return None
        self.storage[self.key] = {
            **data,
            "id_token": tokens.id_token or data.get("id_token"),
            "access_token": tokens.access_token,
            # Rotation: the provider may issue a new refresh token; the old one is spent either way.
            "refresh_token": tokens.refresh_token or refresh_token,
            "expires_at": self.clock() + tokens.expires_in if tokens.expires_in else None,
        }
        return tokens.access_token
