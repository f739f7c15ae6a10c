"""Typed errors of the Civic Auth (OIDC) client.

Every error has a stable ``code`` (used in API responses and logs) and a message that names the check
that failed, never a token, code, secret or claim value, so it is safe to log or show.
"""

from __future__ import annotations

from django_civic.protocols.errors import ProtocolError


class OIDCError(ProtocolError):
    """Base class: anything that stops an OIDC operation."""

    code = "oidc_error"
    # retryable (ProtocolError): provider-side trouble rather than a bad token.


class OIDCConfigurationError(OIDCError):
    """The OIDC client is misconfigured (client id, issuer, algorithms)."""

    code = "oidc_configuration"


# -- talking to the provider -----------------------------------------------------------------------

class ProviderUnavailable(OIDCError):
    """Civic Auth could not be reached, timed out or failed (5xx)."""

    code = "provider_unavailable"
    retryable = True


class ProviderResponseError(OIDCError):
    """Civic Auth's response was not in the documented shape."""

    code = "provider_bad_response"


class DiscoveryError(ProviderResponseError):
    """The discovery document is missing, malformed or names another issuer."""

    code = "discovery_failed"


class ProviderError(OIDCError):
    """Civic Auth refused the request with an OAuth error (``invalid_grant``, ``invalid_client``, ...)."""

    code = "provider_error"

    def __init__(self, message: str = "", *, status: int | None = None, error: str = "",
                 retry_after: int | None = None) -> None:
        super().__init__(message, status=status)
        #: The provider's OAuth ``error`` code (RFC 6749 5.2), e.g. ``invalid_grant``.
        self.error = error
        self.retry_after = retry_after
        self.retryable = status == 429


class TokenExchangeError(ProviderError):
    """The RFC 8693 token exchange failed."""

    code = "token_exchange_failed"


# -- validating tokens -----------------------------------------------------------------------------

class InvalidToken(OIDCError):
    """A token failed validation; ``reason`` names the rule (``wrong_audience``, ``expired``, ...)."""

    code = "invalid_token"

    def __init__(self, message: str = "", *, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


class UnknownSigningKey(InvalidToken):
    """The token's ``kid`` is not in the provider's key set (even after a permitted refetch)."""

    def __init__(self, message: str = "the token's signing key is unknown") -> None:
        super().__init__(message, reason="unknown_kid")


class NonceMismatch(InvalidToken):
    """The ID token's ``nonce`` is missing or is not the one this login issued."""

    def __init__(self, message: str = "the ID token's nonce does not match") -> None:
        super().__init__(message, reason="nonce_mismatch")


class TokenReplayed(InvalidToken):
    """This ID token (its ``jti``) was already used."""

    code = "token_replayed"

    def __init__(self, message: str = "the ID token was already used") -> None:
        super().__init__(message, reason="replayed")


class IdentityChanged(InvalidToken):
    """A refreshed ID token or the userinfo response names another identity."""

    code = "identity_changed"

    def __init__(self, message: str = "the provider returned a different identity") -> None:
        super().__init__(message, reason="identity_changed")


# -- the redirect flow's state ---------------------------------------------------------------------

class StateError(OIDCError):
    """The callback's ``state`` is missing, unknown, used already or too old: start the login again."""

    code = "state_mismatch"
