"""Civic Auth (OIDC) client: discovery, JWKS cache, PKCE, ID-token validation, refresh, token exchange.

Pure Python (no Django import): a cache with ``get``/``set``/``add``/``delete`` and a replay check are
passed in; inside Django, :mod:`django_civic.clients.oidc` builds the client from ``CIVIC["AUTH"]``.
"""

from __future__ import annotations

from .cache import Cache, MemoryCache
from .client import ACCESS_TOKEN_TYPE, DEFAULT_ISSUER, ID_TOKEN_TYPE, OIDCClient, check_same_identity
from .discovery import ProviderMetadata
from .errors import (
    DiscoveryError,
    IdentityChanged,
    InvalidToken,
    NonceMismatch,
    OIDCConfigurationError,
    OIDCError,
    ProviderError,
    ProviderResponseError,
    ProviderUnavailable,
    StateError,
    TokenExchangeError,
    TokenReplayed,
    UnknownSigningKey,
)
from .exchange import ExchangedToken, TokenExchanger
from .hub import call_hub, hub_headers
from .state import PendingLogin, StateStore
from .types import AuthorizationRequest, TokenResponse

__all__ = [
    "ACCESS_TOKEN_TYPE", "DEFAULT_ISSUER", "ID_TOKEN_TYPE", "AuthorizationRequest", "Cache", "DiscoveryError",
    "ExchangedToken", "IdentityChanged", "InvalidToken", "MemoryCache", "NonceMismatch", "OIDCClient",
    "OIDCConfigurationError", "OIDCError", "PendingLogin", "ProviderError", "ProviderMetadata",
    "ProviderResponseError", "ProviderUnavailable", "StateError", "StateStore", "TokenExchangeError",
    "TokenExchanger", "TokenReplayed", "TokenResponse", "UnknownSigningKey", "call_hub",
    "check_same_identity", "hub_headers",
]
