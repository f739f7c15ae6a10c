"""Federated token exchange, as Civic's Integration page configures it (civic-protocols.md B3).

A site registers its identity provider (issuer, audience, JWKS URI or a PEM public key, algorithms,
max TTL); the provider then exchanges that issuer's tokens for Civic access tokens:

- the subject token's ``iss`` must name a registered provider (else ``unknown issuer``);
- its signature verifies with a key of that provider: the JWKS is fetched over HTTP from the registered
  URI and cached an hour, refetched at once for a ``kid`` it does not hold (PyJWT's ``PyJWKClient``);
- ``aud`` must be the registered audience, ``exp`` in the future, ``iat`` not ahead, ``sub`` present;
- external ``iss`` + ``sub`` map to one stable Civic user, created on first sight, whose ``email``
  (lowercased), ``email_verified`` and ``name`` are copied from the token at each exchange;
- the access policy: with public access on, anyone the provider vouches for gets in; with it off, only
  invited users, matched by a verified email *and* the client id that asks (seeds' Integration page:
  "Their access token must have both a matching email and Client ID").
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization

MIN_TTL, MAX_TTL = 60, 86400
JWKS_CACHE_SECONDS = 3600  # Civic caches a provider's JWKS for one hour (B3)
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY = 30


class Refused(Exception):
    """The subject token or its user is refused: an ``invalid_grant`` (RFC 6749 5.2) with this description,
    as the sandbox answers for its own tokens."""


@dataclass
class ExternalProvider:
    issuer: str
    audience: str
    jwks_uri: str | None = None
    public_key: str | None = None  # PEM
    algorithms: list[str] = field(default_factory=lambda: ["RS256"])
    max_ttl: int = 3600
    _jwks: jwt.PyJWKClient | None = field(default=None, repr=False)

    def describe(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "audience": self.audience, "jwks_uri": self.jwks_uri,
                "public_key": self.public_key, "algorithms": self.algorithms, "max_ttl": self.max_ttl}

    def key_for(self, token: str) -> Any:
        if self.public_key is not None:
            return serialization.load_pem_public_key(self.public_key.encode())
        if self._jwks is None:
            options: dict[str, Any] = {"cache_keys": False, "lifespan": JWKS_CACHE_SECONDS, "timeout": 10}
            try:
                # No cooldown: a site's rotated key is fetched at the first token it signs.
                self._jwks = jwt.PyJWKClient(self.jwks_uri or "", cooldown_duration=0, **options)
            except TypeError:  # PyJWT before the cooldown existed refetches for every unknown kid anyway
                self._jwks = jwt.PyJWKClient(self.jwks_uri or "", **options)
        try:
            return self._jwks.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError:
            raise Refused("the provider's JWKS could not be fetched") from None
        except jwt.PyJWKClientError:
            raise Refused("no key of the provider matches the token (bad signature or unknown kid)") from None


@dataclass
class CivicUser:
    sub: str
    email: str | None = None
    email_verified: bool = False
    name: str | None = None


class Federation:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "_lock", threading.Lock()):
            self.providers: dict[str, ExternalProvider] = {}
            self.users: dict[tuple[str, str], CivicUser] = {}
            self.public_access = True
            self.invited: list[dict[str, str]] = []

    def register(self, provider: ExternalProvider) -> None:
        with self._lock:
            self.providers[provider.issuer] = provider

    def set_policy(self, public_access: bool, invited: list[dict[str, str]]) -> None:
        with self._lock:
            self.public_access = public_access
            self.invited = [{"email": entry["email"].lower(), "client_id": entry["client_id"]}
                            for entry in invited]

    def policy(self) -> dict[str, Any]:
        return {"public_access": self.public_access, "invited": self.invited}

    def provider_for(self, token: str) -> ExternalProvider | None:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        issuer = claims.get("iss")
        with self._lock:
            return self.providers.get(issuer) if isinstance(issuer, str) else None

    def verify(self, token: str) -> tuple[ExternalProvider, dict[str, Any]]:
        """The provider and the verified claims of a federated subject token, or :class:`Refused`."""
        provider = self.provider_for(token)
        if provider is None:
            raise Refused("the subject token's issuer is not a registered identity provider")
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in provider.algorithms:
                raise Refused("the subject token's algorithm is not allowed for this provider")
            claims = jwt.decode(token, provider.key_for(token), algorithms=provider.algorithms,
                                audience=provider.audience, issuer=provider.issuer, leeway=LEEWAY,
                                options={"require": ["iss", "sub", "aud", "exp", "iat"]})
        except jwt.ExpiredSignatureError:
            raise Refused("the subject token has expired") from None
        except jwt.InvalidAudienceError:
            raise Refused("the subject token's audience is not the provider's") from None
        except jwt.InvalidSignatureError:
            raise Refused("the subject token's signature does not verify") from None
        except jwt.ImmatureSignatureError:
            raise Refused("the subject token is not valid yet") from None
        except jwt.PyJWTError:
            raise Refused("the subject token is not valid") from None
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Refused("the subject token has no sub")
        return provider, claims

    def user_for(self, issuer: str, claims: dict[str, Any]) -> CivicUser:
        """The stable Civic user of external ``iss`` + ``sub``, updated from the token's claims."""
        digest = hashlib.sha256(f"{issuer}\n{claims['sub']}".encode()).hexdigest()
        email = claims.get("email")
        with self._lock:
            user = self.users.setdefault((issuer, claims["sub"]), CivicUser(sub="fed_" + digest[:32]))
            user.email = email.lower() if isinstance(email, str) else None
            user.email_verified = claims.get("email_verified") is True
            user.name = claims.get("name") if isinstance(claims.get("name"), str) else None
        return user

    def admits(self, email: str | None, email_verified: bool, client_id: str) -> bool:
        with self._lock:
            if self.public_access:
                return True
            invitation = {"email": (email or "").lower(), "client_id": client_id}
            return bool(email and email_verified) and invitation in self.invited


federation = Federation()


def new_provider(data: dict[str, Any]) -> ExternalProvider:
    """A provider from the control API's JSON (``ValueError`` on bad input)."""
    issuer, audience = data.get("issuer"), data.get("audience")
    jwks_uri, public_key = data.get("jwks_uri"), data.get("public_key")
    algorithms = data.get("algorithms", ["RS256"])
    max_ttl = data.get("max_ttl", 3600)
    if not isinstance(issuer, str) or urlsplit(issuer).scheme not in ("http", "https") or len(issuer) > 500:
        raise ValueError("issuer must be an http(s) URL")
    if not isinstance(audience, str) or not 0 < len(audience) <= 500:
        raise ValueError("audience must be a non-empty string")
    if (jwks_uri is None) == (public_key is None):
        raise ValueError("give exactly one of jwks_uri and public_key")
    if jwks_uri is not None and (not isinstance(jwks_uri, str)
                                 or urlsplit(jwks_uri).scheme not in ("http", "https")):
        raise ValueError("jwks_uri must be an http(s) URL")
    if public_key is not None:
        try:
            serialization.load_pem_public_key(str(public_key).encode())
        except (ValueError, TypeError):
            raise ValueError("public_key must be a PEM public key") from None
    if (not isinstance(algorithms, list) or not algorithms
            or not all(isinstance(alg, str) and alg in ALGORITHMS for alg in algorithms)):
        raise ValueError("algorithms must be a non-empty list of asymmetric JWS algorithms")
    if not isinstance(max_ttl, int) or isinstance(max_ttl, bool) or not MIN_TTL <= max_ttl <= MAX_TTL:
        raise ValueError(f"max_ttl must be {MIN_TTL} to {MAX_TTL} seconds")
    return ExternalProvider(issuer, audience, jwks_uri, public_key, list(algorithms), max_ttl)


def new_policy(data: dict[str, Any]) -> tuple[bool, list[dict[str, str]]]:
    public_access, invited = data.get("public_access"), data.get("invited", [])
    if not isinstance(public_access, bool):
        raise ValueError("public_access must be a boolean")
    if not isinstance(invited, list) or not all(
            isinstance(entry, dict) and set(entry) == {"email", "client_id"}
            and all(isinstance(value, str) and value for value in entry.values()) for entry in invited):
        raise ValueError('invited must be a list of {"email": ..., "client_id": ...}')
    return public_access, invited
