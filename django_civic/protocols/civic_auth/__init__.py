"""Civic Auth (OIDC) client: discovery, JWKS cache, PKCE, ID-token validation, refresh, token exchange.

Pure Python (no Django import): a cache with ``get``/``set``/``add``/``delete`` and a replay check are
passed in; inside Django, :mod:`django_civic.civic_auth.client` builds the client from ``CIVIC["AUTH"]``.
"""

from __future__ import annotations

from django_civic.protocols.civic_auth.cache import Cache, MemoryCache
from django_civic.protocols.civic_auth.client import (
    ACCESS_TOKEN_TYPE,
    DEFAULT_ISSUER,
    ID_TOKEN_TYPE,
    OIDCClient,
    check_same_identity,
)
from django_civic.protocols.civic_auth.discovery import ProviderMetadata
from django_civic.protocols.civic_auth.errors import (
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
from django_civic.protocols.civic_auth.exchange import ExchangedToken, TokenExchanger
from django_civic.protocols.civic_auth.hub import call_hub, hub_headers
from django_civic.protocols.civic_auth.state import PendingLogin, StateStore
from django_civic.protocols.civic_auth.types import AuthorizationRequest, TokenResponse

__all__ = [
    "ACCESS_TOKEN_TYPE", "DEFAULT_ISSUER", "ID_TOKEN_TYPE", "AuthorizationRequest", "Cache", "DiscoveryError",
    "ExchangedToken", "IdentityChanged", "InvalidToken", "MemoryCache", "NonceMismatch", "OIDCClient",
    "OIDCConfigurationError", "OIDCError", "PendingLogin", "ProviderError", "ProviderMetadata",
    "ProviderResponseError", "ProviderUnavailable", "StateError", "StateStore", "TokenExchangeError",
    "TokenExchanger", "TokenReplayed", "TokenResponse", "UnknownSigningKey", "call_hub",
    "check_same_identity", "hub_headers",
]
