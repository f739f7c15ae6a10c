"""ID-token and access-token validation (OIDC Core 3.1.3.7, 3.1.3.8, 12.2; RFC 9068).

One validator, in the spirit of social-core's ``decode_and_validate_id_token``, with every rule a
separate, named check so that each has its own failing test:

- signature by a key from the provider's JWKS, algorithm from an asymmetric allow-list (``none`` and
  HS* are refused before any key is looked at, so the "HS256 keyed with the public key" attack has
  nothing to work with); the JWS itself is parsed and verified by :mod:`django_civic.protocols.jose` (strict
  base64url, no ``crit``, keys only from the JWKS, the signature checked before the claims are read);
- ``iss`` equal to the configured issuer, exactly;
- ``aud`` contains our client id; with several audiences ``azp`` must be us (and whenever present);
- ``exp``, ``nbf`` and ``iat`` with a small leeway, ``iat`` not in the future, and a maximum age;
- ``nonce`` equal to the one this login issued (constant-time compare);
- ``at_hash`` bound to the access token it came with;
- single use: the ``jti`` (or, for providers that send none, the signed header and claims) is
  consumed through a callback that the app backs with its shared cache.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeGuard

from django_civic.protocols import jose as jws
from django_civic.protocols.civic_auth.errors import (
    InvalidToken,
    NonceMismatch,
    OIDCConfigurationError,
    TokenReplayed,
)
from django_civic.protocols.civic_auth.jwks import ASYMMETRIC_ALGORITHMS, KeySet
from django_civic.protocols.civic_auth.pkce import b64url

MAX_TOKEN_LENGTH = 16 * 1024
#: ``typ`` values (normalised by :func:`_typ`) of an ID token: none at all, or plain JWT.
ID_TOKEN_TYPES = (None, "jwt")
#: Claims that only an ID token carries (OIDC Core 2, 3.3.2.11); never in an access token.
ID_TOKEN_ONLY_CLAIMS = ("nonce", "at_hash", "c_hash", "s_hash")
#: 9999-12-31T23:59:59Z: later times are not dates any clock, cache or database here can hold.
MAX_NUMERIC_DATE = 253402300799

_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}

#: ``replay(key, ttl)`` returns True the first time a key is seen within ``ttl`` seconds.
ReplayCheck = Callable[[str, int], bool]


def allowed_algorithms(configured: Iterable[str], supported: Iterable[str] = ()) -> tuple[str, ...]:
    """Configured algorithms, restricted to asymmetric ones and to what the provider says it uses."""
    configured = tuple(configured)
    bad = [alg for alg in configured if alg not in ASYMMETRIC_ALGORITHMS]
    if bad:
        raise OIDCConfigurationError(
            f"only asymmetric signing algorithms may be allowed, not {', '.join(bad)}")
    supported = tuple(supported)
    return tuple(alg for alg in configured if not supported or alg in supported)


def token_hash(value: str, alg: str) -> str:
    """``at_hash``/``c_hash``: the left half of the token's hash, with the hash of the JWS ``alg``."""
    digest = hashlib.sha512 if alg == "EdDSA" else _HASHES.get(alg[-3:])
    if digest is None:
        raise InvalidToken("no hash is defined for the token's algorithm", reason="bad_algorithm")
    raw = digest(value.encode("ascii")).digest()
    return b64url(raw[: len(raw) // 2])


class TokenValidator:
    def __init__(self, *, issuer: str, client_id: str, keys: Callable[[], KeySet],
                 algorithms: Callable[[], tuple[str, ...]], leeway: float = 60, max_age: float = 3600,
                 replay: ReplayCheck | None = None, clock: Callable[[], float] = time.time) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self._keys = keys
        self._algorithms = algorithms
        self.leeway = leeway
        self.max_age = max_age
        self.replay = replay
        self.clock = clock

    # -- public ------------------------------------------------------------------------------------

    def id_token(self, token: str | jws.CompactJWS, *, nonce: str | None, access_token: str | None = None,
                 single_use: bool = True) -> dict[str, Any]:
        """Validate an ID token and return its claims; :class:`InvalidToken` (a subclass) if it fails.

        ``nonce`` is the value this login issued; ``None`` is only for refreshed tokens, whose nonce
        (if any) the caller compares with the original token's.
        """
        header, claims, signing_input = self._verify(token)
        if _is_access_token(header, claims) or _typ(header) not in ID_TOKEN_TYPES:
            raise InvalidToken("the token is not an ID token", reason="not_an_id_token")
        now = self.clock()
        self._check_times(claims, now, max_age=self.max_age)
        if "auth_time" in claims and not _is_numeric_date(claims["auth_time"]):
            raise InvalidToken("the token's auth_time is not a time", reason="malformed")
        self._check_issuer_and_subject(claims)
        self._check_audience(claims)
        if nonce is not None:
            got = claims.get("nonce")
            if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
                raise NonceMismatch()
        if access_token is not None and "at_hash" in claims:
            # A token is ASCII (RFC 6750); any other text cannot be the one the hash was made of.
            expected = token_hash(access_token, header["alg"]) if access_token.isascii() else ""
            got = claims["at_hash"]
            # compare_digest takes ASCII text only: a non-ASCII at_hash is a mismatch, not a TypeError.
            if not isinstance(got, str) or not got.isascii() or not expected \
                    or not hmac.compare_digest(got, expected):
                raise InvalidToken("the ID token's at_hash does not match the access token",
                                   reason="at_hash_mismatch")
        if single_use and self.replay is not None:
            self._consume(claims, signing_input, now)
        return claims

    def access_token(self, token: str | jws.CompactJWS, *, audience: str | None = None) -> dict[str, Any]:
        """Validate a Civic access token (a JWT) locally and return its claims.

        ``token`` may come already parsed (:func:`django_civic.protocols.jose.parse`) by a caller that had to
        look at it first, e.g. to route bearer tokens by issuer; nothing about it is trusted.

        It must be an access token (an ID token is refused: it proves a login to *us*, it does not
        authorise API calls), issued for this application: ``aud`` contains ``audience`` when one is
        configured, otherwise its ``client_id`` (or ``aud``) is our client id.
        """
        header, claims, _ = self._verify(token)
        if not _is_access_token(header, claims):
            raise InvalidToken("the token is not an access token", reason="not_an_access_token")
        self._check_times(claims, self.clock(), max_age=None)
        self._check_issuer_and_subject(claims)
        audiences = _audiences(claims)
        if audience:
            if audience not in audiences:
                raise InvalidToken("the access token is for another audience", reason="wrong_audience")
        elif claims.get("client_id") != self.client_id and self.client_id not in audiences:
            raise InvalidToken("the access token was issued to another client", reason="wrong_audience")
        return claims

    # -- rules -------------------------------------------------------------------------------------

    def _verify(self, token: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
        """The token's header, its claims once the signature verifies, and its signing input."""
        parsed = token if isinstance(token, jws.CompactJWS) else _parse(token)
        if len(parsed.token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("the token is not a compact JWS", reason="malformed")
        header, alg = parsed.header, parsed.alg
        # The allow-list first: none and HS* never get as far as a key lookup.
        if not isinstance(alg, str) or alg not in self._algorithms():
            raise InvalidToken("the token's algorithm is not allowed", reason="alg_not_allowed")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("the token's kid is malformed", reason="malformed")
        key = self._keys().key_for(kid, alg)
        try:
            claims = jws.verify(parsed, key, alg)
        except jws.JWSError as exc:
            raise InvalidToken(f"the token is refused: {exc}", reason=exc.reason) from None
        return header, claims, parsed.signing_input

    def _check_times(self, claims: dict[str, Any], now: float, *, max_age: float | None) -> None:
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
        if not _is_numeric_date(exp) or not _is_numeric_date(iat):
            raise InvalidToken("the token lacks exp or iat", reason="malformed")
        if now > exp + self.leeway:
            raise InvalidToken("the token has expired", reason="expired")
        if nbf is not None and (not _is_numeric_date(nbf) or nbf > now + self.leeway):
            raise InvalidToken("the token is not valid yet", reason="not_yet_valid")
        if iat > now + self.leeway:
            raise InvalidToken("the token was issued in the future", reason="issued_in_future")
        if max_age is not None and now - iat > max_age + self.leeway:
            raise InvalidToken("the token is too old", reason="too_old")

    def _check_issuer_and_subject(self, claims: dict[str, Any]) -> None:
        if claims.get("iss") != self.issuer:
            raise InvalidToken("the token was issued by another issuer", reason="wrong_issuer")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 255:
            raise InvalidToken("the token has no valid subject", reason="malformed")

    def _check_audience(self, claims: dict[str, Any]) -> None:
        audiences = _audiences(claims)
        if self.client_id not in audiences:
            raise InvalidToken("the ID token is for another client", reason="wrong_audience")
        azp = claims.get("azp")
        if (len(audiences) > 1 or azp is not None) and azp != self.client_id:
            raise InvalidToken("the ID token's authorized party is another client", reason="wrong_azp")

    def _consume(self, claims: dict[str, Any], signing_input: str, now: float) -> None:
        jti = claims.get("jti")
        # Without a jti, what was signed identifies the token. Not the signature: an ECDSA signature
        # (r, s) also verifies as (r, n - s), so the same token would come back under a new name.
        marker = f"jti:{jti}" if isinstance(jti, str) and jti else f"jws:{signing_input}"
        key = hashlib.sha256(f"{claims['iss']}\n{marker}".encode()).hexdigest()
        # Kept until the token fails its expiry or its maximum age, whichever comes first.
        until = min(claims["exp"], claims["iat"] + self.max_age) + self.leeway
        ttl = max(1, int(until - now) + 1)
        if not self.replay(key, ttl):  # type: ignore[misc]
            raise TokenReplayed()


def _parse(token: Any) -> jws.CompactJWS:
    try:
        return jws.parse(token, max_length=MAX_TOKEN_LENGTH)
    except jws.JWSError as exc:
        raise InvalidToken(f"the token is not a well-formed compact JWS: {exc}", reason="malformed") from None


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [a for a in aud if isinstance(a, str)]
    return []


def _is_numeric_date(value: Any) -> TypeGuard[int | float]:
    """A JSON number of seconds from 1970 to the end of year 9999 (RFC 7519 NumericDate).

    JSON parsers accept NaN and Infinity, and integers of any size: an ``"exp": Infinity`` must not
    mean "never expires", and ``10**400`` must not overflow the float arithmetic and cache timeouts
    that follow (it did: a 500).
    """
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and 0 <= value <= MAX_NUMERIC_DATE)


def _typ(header: dict[str, Any]) -> Any:
    """The header's ``typ``, lower case and without ``application/`` (RFC 7515 4.1.9)."""
    typ = header.get("typ")
    if not isinstance(typ, str):
        return typ
    return typ.lower().removeprefix("application/")


def _is_access_token(header: dict[str, Any], claims: dict[str, Any]) -> bool:
    """RFC 9068: an access token says so in its header (``typ: at+jwt``, as Civic's panva-based provider
    and the sandbox set it), or, from a provider that does not type its tokens, carries the
    ``client_id`` claim that RFC 9068 requires and no claim only an ID token has. An ID token is
    neither, so it is never taken for an access token (nor an access token for an ID token)."""
    if any(name in claims for name in ID_TOKEN_ONLY_CLAIMS):
        return False
    typ = _typ(header)
    return typ == "at+jwt" or (typ in ID_TOKEN_TYPES and isinstance(claims.get("client_id"), str))
