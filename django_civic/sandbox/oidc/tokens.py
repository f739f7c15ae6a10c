"""Tokens the sandbox provider issues: ID tokens, JWT access tokens (RFC 9068), and their faults.

A fault queued on ``oidc.token`` (or ``oidc.userinfo``) can make the *next* token wrong in one
precise way, so the app's validation can be tested through the real flow:

  bad_signature    signed by a key that is not in the JWKS (same ``kid``)
  unknown_kid      signed by an unpublished key under a ``kid`` nobody knows
  wrong_issuer     ``iss`` of another provider          wrong_audience   ``aud`` of another client
  wrong_azp        several audiences, ``azp`` another   expired          ``exp`` in the past
  future_iat       ``iat`` ahead of now                 wrong_nonce      another ``nonce``
  bad_at_hash      ``at_hash`` of another token          identity_change  another person's ``sub``
  alg_none         an unsigned token (``alg: none``)
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any

from django_civic.sandbox.oidc import personas
from django_civic.sandbox.oidc.keys import keyring
from django_civic.sandbox.oidc.state import ACCESS_TOKEN_LIFETIME, ID_TOKEN_LIFETIME

TOKEN_FAULTS = {
    "bad_signature", "unknown_kid", "wrong_issuer", "wrong_audience", "wrong_azp", "expired", "future_iat",
    "wrong_nonce", "bad_at_hash", "identity_change", "alg_none",
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def at_hash(access_token: str) -> str:
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest()[:16])


def other_subject(sub: str) -> str:
    """Someone else's ``sub`` (for the identity_change fault)."""
    for name in personas.names():
        if personas.subject(name) != sub:
            return personas.subject(name)
    return "someone-else"


def access_token_claims(issuer: str, client_id: str, sub: str, scopes: list[str], *,
                        lifetime: int = ACCESS_TOKEN_LIFETIME,
                        extra: dict[str, Any] | None = None) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": issuer, "sub": sub, "aud": client_id, "client_id": client_id, "scope": " ".join(scopes),
            "jti": secrets.token_urlsafe(16), "iat": now, "exp": now + lifetime, **(extra or {})}


def id_token_claims(issuer: str, client_id: str, persona: str, scopes: list[str], *, sub: str | None = None,
                    nonce: str | None = None, auth_time: int | None = None,
                    access_token: str | None = None) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"iss": issuer, "aud": client_id, "iat": now, "exp": now + ID_TOKEN_LIFETIME,
                              "auth_time": auth_time or now, "jti": secrets.token_urlsafe(16)}
    claims.update(personas.claims(persona, scopes))
    if sub is not None:
        claims["sub"] = sub
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        claims["at_hash"] = at_hash(access_token)
    return claims


def sign(claims: dict[str, Any], *, typ: str = "JWT", fault: str | None = None) -> str:
    """Sign ``claims`` with the current key, applying a token ``fault`` if one is given."""
    claims = dict(claims)
    now = int(time.time())
    if fault == "wrong_issuer":
        claims["iss"] = "https://evil.example/oauth/"
    elif fault == "wrong_audience":
        claims["aud"] = "another-client"
    elif fault == "wrong_azp":
        claims["aud"] = [claims.get("aud"), "another-client"]
        claims["azp"] = "another-client"
    elif fault == "expired":
        claims["iat"], claims["exp"] = now - 7200, now - 3600
    elif fault == "future_iat":
        claims["iat"] = now + 3600
        claims["exp"] = now + 7200
    elif fault == "wrong_nonce":
        claims["nonce"] = secrets.token_urlsafe(16)
    elif fault == "bad_at_hash":
        claims["at_hash"] = at_hash(secrets.token_urlsafe(16))
    elif fault == "identity_change":
        claims["sub"] = other_subject(str(claims.get("sub")))
    if fault == "alg_none":
        header = {"alg": "none", "typ": typ}
        return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}."
    if fault == "bad_signature":
        return keyring.sign(claims, typ=typ, key=keyring.foreign, kid=keyring.current.kid)
    if fault == "unknown_kid":
        return keyring.sign(claims, typ=typ, key=keyring.foreign, kid="unknown-" + secrets.token_hex(4))
    return keyring.sign(claims, typ=typ)


def verify_own(token: Any, issuer: str) -> dict[str, Any] | None:
    """The claims of a token this sandbox issued and that is still valid, else None."""
    import jwt

    if not isinstance(token, str) or token.count(".") != 2:
        return None
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = keyring.find(kid)
        if key is None:
            return None
        claims = jwt.decode(token, key.private.public_key(), algorithms=["RS256"],
                            options={"verify_aud": False, "require": ["exp", "iat", "sub"]}, issuer=issuer)
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    return claims if isinstance(claims, dict) else None
