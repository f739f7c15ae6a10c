"""The three JWTs of a SIP exchange (civic-protocols.md A2, A4, A5).

- the partner request token we sign (``Authorization: Civic <jwt>.<ext>``),
- the auth code the browser receives, which Civic signs and we pre-check locally,
- the data token in Civic's response, which Civic signs and we verify before decrypting.
"""

from __future__ import annotations

import math
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from django_civic.protocols import jose as jws
from django_civic.protocols.sip.crypto import civic_ext, compact_json, js_timestamp

CIVIC_ISSUER = "civic-sip-hosted-service"
EXCHANGE_PATH = "scopeRequest/authCode"
PARTNER_TOKEN_LIFETIME = 180  # the Node SDK's JWT_EXPIRATION = '3m'
AUTH_CODE_LIFETIME = 1800
DATA_TOKEN_LIFETIME = 1800
GRACE_SECONDS = 60  # jsrsasign gracePeriod used by the Node SDK


class TokenError(ValueError):
    """A token failed a check. The message names the check, never the token."""


def _signed_claims(key: ec.EllipticCurvePrivateKey, *, issuer: str, subject: str, audience: str,
                   lifetime: float, data: Any, now: float | None) -> str:
    """A token with the Node SDK's claims in its order (jti, iat, exp, iss, aud, sub, data) and its
    fractional times; the header is PyJWT's default one, as the SDK's: ``{"alg":"ES256","typ":"JWT"}``."""
    iat = js_timestamp(time.time() if now is None else now)
    claims = {"jti": str(uuid.uuid4()), "iat": iat, "exp": js_timestamp(iat + lifetime),
              "iss": issuer, "aud": audience, "sub": subject, "data": data}
    return jws.sign(compact_json(claims).encode(), key, "ES256")


class PartnerTokenSigner:
    """Signs one app's partner JWTs (``Authorization: Civic <jwt>.<ext>``)."""

    def __init__(self, app_id: str, key: ec.EllipticCurvePrivateKey, audience: str) -> None:
        self._app_id = app_id
        self._key = key
        self._audience = audience

    def token(self, *, now: float | None = None) -> str:
        """The partner JWT exactly as Civic's Node SDK signs it: claim order, fractional times, 3 minutes."""
        return _signed_claims(self._key, issuer=self._app_id, subject=self._app_id, audience=self._audience,
                              lifetime=PARTNER_TOKEN_LIFETIME, data={"method": "POST", "path": EXCHANGE_PATH},
                              now=now)


def partner_token(app_id: str, key: ec.EllipticCurvePrivateKey, audience: str, *,
                  now: float | None = None) -> str:
    """The partner JWT exactly as Civic's Node SDK signs it: claim order, fractional times, 3 minutes."""
    return PartnerTokenSigner(app_id, key, audience).token(now=now)


def authorization_header(
    app_id: str, key: ec.EllipticCurvePrivateKey, app_secret: str, audience: str, body: dict[str, Any],
    *, now: float | None = None,
) -> str:
    return f"Civic {partner_token(app_id, key, audience, now=now)}.{civic_ext(body, app_secret)}"


def decode_es256(token: str, key: ec.EllipticCurvePublicKey, *, now: float | None = None,
                 grace: float = GRACE_SECONDS, require: tuple[str, ...] = ("exp",),
                 max_length: int | None = 64 * 1024) -> dict[str, Any]:
    """Verify an ES256 JWS and its times the way jsrsasign's ``verifyJWT`` does, then return its claims.

    Only ES256 is accepted, whatever the header says: ``none``, HS256 keyed with the public key and
    every other algorithm fail here. ``max_length`` bounds tokens from untrusted input (auth codes,
    partner tokens); pass ``None`` for a data token whose body was already read under a size cap.

    The JWS is parsed and verified by :mod:`django_civic.protocols.jose` (PyJWT with the strict rules of every
    token kind: canonical base64url, the key fits the algorithm, claims parsed after the signature).
    """
    try:
        parsed = jws.parse(token, max_length=max_length)
        if parsed.alg != "ES256":
            raise TokenError("algorithm is not ES256")
        claims = jws.verify(parsed, key, "ES256")
    except jws.JWSError as exc:
        raise TokenError(str(exc)) from None
    check_times(claims, now=now, grace=grace, require=require)
    return claims


def check_times(claims: dict[str, Any], *, now: float | None = None, grace: float = GRACE_SECONDS,
                require: tuple[str, ...] = ("exp",)) -> None:
    now = time.time() if now is None else now
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name)
        if value is None:
            if name in require:
                raise TokenError(f"{name} is missing")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TokenError(f"{name} is not a number")
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an integer beyond any float would break the arithmetic below
            finite = False
        if not finite:
            # Python's json accepts NaN and Infinity; either would make every comparison below pass.
            raise TokenError(f"{name} is not a finite number")
    if "exp" in claims and claims["exp"] + grace < now:
        raise TokenError("token has expired")
    if "iat" in claims and claims["iat"] - grace > now:
        raise TokenError("token was issued in the future")
    if "nbf" in claims and claims["nbf"] - grace > now:
        raise TokenError("token is not valid yet")


def check_auth_code(token: str, civic_key: ec.EllipticCurvePublicKey, app_id: str, *,
                    now: float | None = None, leeway: float = 30) -> dict[str, Any]:
    """The browser's auth code, checked before any network call: Civic's signature, issuer, app, expiry."""
    claims = decode_es256(token, civic_key, now=now, grace=leeway)
    if claims.get("iss") != CIVIC_ISSUER:
        raise TokenError("issuer is not Civic's SIP service")
    if claims.get("sub") != app_id:
        raise TokenError("auth code was issued for another app")
    return claims


def auth_code_id(claims: dict[str, Any]) -> str:
    """A stable identifier of one auth code, for single-use bookkeeping."""
    data = claims.get("data")
    code_token = data.get("codeToken") if isinstance(data, dict) else None
    return str(code_token or claims.get("jti") or "")


def data_token(app_id: str, key: ec.EllipticCurvePrivateKey, data: str, audience: str,
               *, now: float | None = None) -> str:
    """Civic's response token (A4), used by the sandbox."""
    return _signed_claims(key, issuer=CIVIC_ISSUER, subject=app_id, audience=audience,
                          lifetime=DATA_TOKEN_LIFETIME, data=data, now=now)


def auth_code(app_id: str, key: ec.EllipticCurvePrivateKey, audience: str, *, code_token: str | None = None,
              now: float | None = None, lifetime: float = AUTH_CODE_LIFETIME) -> str:
    """The browser auth code (A5), used by the sandbox."""
    return _signed_claims(key, issuer=CIVIC_ISSUER, subject=app_id, audience=audience, lifetime=lifetime,
                          data={"codeToken": code_token or str(uuid.uuid4())}, now=now)


__all__ = [
    "CIVIC_ISSUER", "EXCHANGE_PATH", "PartnerTokenSigner", "TokenError", "auth_code", "auth_code_id",
    "authorization_header", "check_auth_code", "check_times", "compact_json", "data_token", "decode_es256",
    "partner_token",
]
