"""The checks Civic's SIP API runs on an exchange request (civic-protocols.md A6), as pure functions.

Two stages, as on the real service:

1. :func:`authorize` plays the API Gateway authorizer: the ``Authorization: Civic <jwt>.<ext>`` header
   must be a partner token signed with the app's registered key, and ``ext`` must be the HMAC of the
   body. Any failure is a :class:`Unauthorized` (the view answers 401 ``Unauthorized``).
2. :func:`check_auth_code` plays the exchange itself: the body's ``authToken`` must be an auth code the
   sandbox's Civic key signed for this app and that has not expired. Failures are :class:`BadAuthCode`
   (400 with a ``message``); single use is enforced by ``state.redeem``.

Strict where a mistake would be a security hole (signatures, keys, app binding, method and path,
expiry, single use); lenient where Civic's published clients disagree with each other and all worked
(audience spelling, integer or fractional times, ``kid``/``typ`` headers, escaped slashes, ``ext`` over
sorted or raw JSON). ``docs/sandbox.md`` lists each check and why.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from django_civic.protocols import jose as jws
from django_civic.protocols.sip.crypto import canonical_json, hmac_base64
from django_civic.protocols.sip.tokens import (
    CIVIC_ISSUER,
    EXCHANGE_PATH,
    GRACE_SECONDS,
    TokenError,
    decode_es256,
)
from django_civic.sandbox.sip.state import App

CIVIC_API_URL = "https://api.civic.com/sip/"


class Unauthorized(Exception):
    """The partner's credentials were refused. ``reason`` is for the sandbox's log and debug header."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadAuthCode(Exception):
    """The body's auth code cannot be exchanged; the message is what the 400 answer says."""


def accepted_audiences(sandbox_api_url: str) -> frozenset[str]:
    """Civic's API URL and the sandbox's own (``{base}sip/``), each with or without the trailing slash."""
    urls = {CIVIC_API_URL, sandbox_api_url}
    return frozenset(url.rstrip("/") + suffix for url in urls for suffix in ("", "/"))


def split_credential(header: str | None) -> tuple[str, str]:
    """``Civic <header>.<payload>.<signature>.<ext>`` -> ``(jwt, ext)``."""
    if not header:
        raise Unauthorized("no Authorization header")
    scheme, _, credential = header.partition(" ")
    if scheme != "Civic":
        raise Unauthorized("the Authorization scheme is not 'Civic'")
    parts = credential.strip().split(".")
    if len(parts) != 4 or not all(parts):
        raise Unauthorized("the credential is not <jwt>.<ext> with a three-part JWT")
    return ".".join(parts[:3]), parts[3]


def _audience_ok(aud: Any, accepted: frozenset[str]) -> bool:
    if isinstance(aud, str):
        return aud in accepted
    return isinstance(aud, list) and any(isinstance(item, str) and item in accepted for item in aud)


def ext_matches(ext: str, body: bytes, app_secret: str) -> bool:
    """``ext`` is HMAC-SHA256 of the body: sorted-key JSON (Node SDK) or the raw bytes (PHP, C#, Java)."""
    candidates = [hmac_base64(body, app_secret)]
    try:
        parsed = json.loads(body)
        candidates.append(hmac_base64(canonical_json(parsed).encode("utf-8"), app_secret))
    except (ValueError, RecursionError):
        pass  # not JSON: only the raw form can match, and the exchange will refuse the body anyway
    given = ext.encode("utf-8", "replace")
    # compare_digest on every candidate, so timing does not tell which form was close.
    return any([hmac.compare_digest(given, candidate.encode("ascii")) for candidate in candidates])


def authorize(header: str | None, body: bytes, *, get_app: Callable[[str], App | None],
              audiences: Iterable[str], now: float, grace: float = GRACE_SECONDS) -> App:
    """Check the partner's ``Authorization`` header for ``body``; return the calling app."""
    token, ext = split_credential(header)
    try:
        parsed = jws.parse(token, max_length=None)
    except jws.JWSError:
        raise Unauthorized("the partner token's header or payload is not base64url JSON") from None
    if parsed.alg != "ES256":
        raise Unauthorized("the partner token is not ES256")
    # Civic finds the app (and so the key) by the token's own iss before it can verify the signature.
    claims = parsed.unverified_claims()
    if claims is None:
        raise Unauthorized("the partner token's payload is not a JSON object")
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(iss, str) or not iss or iss != sub:
        raise Unauthorized("the partner token is not self-signed (iss must equal sub)")
    app = get_app(iss)
    if app is None:
        raise Unauthorized("no app is registered under the token's iss")
    verified = _verify(token, app.public_key, now=now, grace=grace)
    if not _audience_ok(verified.get("aud"), frozenset(audiences)):
        raise Unauthorized("the partner token's aud is not the SIP API URL")
    data = verified.get("data")
    if not isinstance(data, dict) or data.get("method") != "POST" or data.get("path") != EXCHANGE_PATH:
        raise Unauthorized("the partner token is not for POST scopeRequest/authCode")
    if not ext_matches(ext, body, app.app_secret):
        raise Unauthorized("ext is not the HMAC of the body with the app secret")
    return app


def _verify(token: str, key: ec.EllipticCurvePublicKey, *, now: float, grace: float) -> dict[str, Any]:
    try:
        # exp is required: a partner token that never expires would be a replayable credential.
        return decode_es256(token, key, now=now, grace=grace, require=("exp",))
    except TokenError as exc:
        raise Unauthorized(f"the partner token failed: {exc}") from None


def parse_body(body: bytes) -> str:
    """The ``authToken`` of an exchange body (other keys, e.g. ``allowS3UploadedPayload``, are optional)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadAuthCode("Request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadAuthCode("Request body is not a JSON object")
    token = data.get("authToken")
    if not isinstance(token, str) or not token:
        raise BadAuthCode("authToken is required")
    return token


def check_auth_code(token: str, civic_key: ec.EllipticCurvePublicKey, app_id: str, *, now: float,
                    grace: float = GRACE_SECONDS) -> str:
    """Verify the auth code (the sandbox's Civic key, this app, unexpired); return its ``codeToken``."""
    try:
        claims = decode_es256(token, civic_key, now=now, grace=grace, require=("exp",))
    except TokenError as exc:
        message = "Auth token has expired" if "expired" in str(exc) else "Auth token is invalid"
        raise BadAuthCode(message) from None
    if claims.get("iss") != CIVIC_ISSUER:
        raise BadAuthCode("Auth token is invalid")
    if claims.get("sub") != app_id:
        raise BadAuthCode("Auth token was issued for another app")
    data = claims.get("data")
    code_token = data.get("codeToken") if isinstance(data, dict) else None
    if not isinstance(code_token, str) or not code_token:
        raise BadAuthCode("Auth token is invalid")
    return code_token
