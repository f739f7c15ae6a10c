"""Result types of the OIDC client. Tokens are kept out of every repr (hence out of logs and tracebacks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django_civic.protocols.civic_auth.errors import ProviderResponseError


@dataclass(frozen=True)
class TokenResponse:
    """A token endpoint's answer (RFC 6749 5.1; OIDC Core 3.1.3.3)."""

    access_token: str = field(repr=False)
    token_type: str = "Bearer"
    expires_in: float | None = None
    id_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    scope: str | None = None
    issued_token_type: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenResponse:
        access_token = data.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise ProviderResponseError("the token response has no access_token")
        token_type = data.get("token_type", "Bearer")
        if not isinstance(token_type, str):
            raise ProviderResponseError("the token response's token_type is not a string")
        for name in ("id_token", "refresh_token", "scope", "issued_token_type"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ProviderResponseError(f"the token response's {name} is not a string")
        return cls(
            access_token=access_token,
            token_type=token_type,
            expires_in=parse_expires_in(data.get("expires_in")),
            id_token=data.get("id_token") or None,
            refresh_token=data.get("refresh_token") or None,
            scope=data.get("scope"),
            issued_token_type=data.get("issued_token_type"),
            raw=data,
        )


def parse_expires_in(value: Any) -> float | None:
    """``expires_in`` as int, float or numeric string (civic-protocols.md B3); anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class AuthorizationRequest:
    """What a login redirect needs: the URL, plus the values to keep until the callback."""

    url: str = field(repr=False)  # carries state and nonce
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
