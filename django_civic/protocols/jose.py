"""Strict compact JWS (RFC 7515) for every token this app signs or accepts, on PyJWT.

Used by Civic SIP (``sip/tokens.py``: auth codes, data tokens and partner tokens, all ES256) and Civic
Auth (``civic_auth/validation.py``: ID and access tokens, RS256 from Civic, or any asymmetric algorithm a site
allows). PyJWT does the cryptography (its algorithm objects, which PyJWS.decode uses too); this module
is the thin layer of rules PyJWT leaves to its callers, because each one closes an attack
(tests/test_jws.py has one test per rule):

- **Compact serialization** (checked here, so PyJWT's algorithm verifies the signature of segments this
  module has split and decoded): exactly three segments, each unpadded base64url in its canonical spelling
  (the unused low bits of the last character are zero), so a token has one spelling and nothing is
  silently dropped (Python's base64 decoder skips characters outside the alphabet).
- **Header**: a UTF-8 JSON object without duplicate member names; ``crit`` and ``b64`` are refused (we
  implement no extension). ``jku``, ``jwk``, ``x5u`` and ``x5c`` are never read: the key always comes
  from the caller.
- **Algorithms**: asymmetric only. Our PyJWS instance registers no HMAC and no ``none``, so "HS256 keyed
  with the public key" has nothing to run on. The caller names the one algorithm a token kind may use.
- **Keys**: the key must fit the algorithm (RSA of at least 2048 bits for RS*/PS*, EC on the algorithm's
  curve for ES*, Ed25519/Ed448 for EdDSA). ECDSA signatures are raw R||S of the exact length, as
  PyJWT checks them.
- **Claims**: parsed only after the signature verified, as a UTF-8 JSON object without duplicate
  member names or lone surrogates (headers too). Their meaning (times, issuer, audience) is the
  caller's business.
"""

from __future__ import annotations

import binascii
import copy
import functools
import json
import re
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.api_jws import PyJWS
from jwt.exceptions import PyJWTError
from jwt.utils import base64url_decode

from django_civic.protocols import strict_json

__all__ = ["ALGORITHMS", "MIN_RSA_BITS", "CompactJWS", "JWSError", "parse", "sign", "verify"]

MIN_RSA_BITS = 2048

_RSA = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_EC_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1,
}
#: Every algorithm this module signs and verifies (RFC 7518 3.3-3.5, RFC 8037): asymmetric ones only.
ALGORITHMS = frozenset((*_RSA, *_EC_CURVES, "EdDSA"))

# One PyJWS that knows only the asymmetric algorithms: PyJWT's default instance also knows HMAC.
_PYJWS = PyJWS(algorithms=sorted(ALGORITHMS))

_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
_BASE64URL_VALUE = {c: i for i, c in
                    enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}
# Header parameters that change what is signed or how it must be processed: we implement none of them.
_REFUSED_HEADERS = ("crit", "b64")
# A SIP data token is megabytes: its claims are decoded this many characters at a time (a multiple of 4,
# so each chunk of base64url decodes on its own), never as whole copies of the segment.
_CHUNK = 1 << 20
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


class JWSError(ValueError):
    """The token was refused. The message names the check, never the token; ``reason`` is one of
    ``malformed``, ``alg_not_allowed``, ``bad_key`` (the caller's key does not fit the algorithm) or
    ``bad_signature``."""

    def __init__(self, message: str, reason: str = "malformed") -> None:
        super().__init__(message)
        self.reason = reason


def _no_duplicate_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


# One decoder, built once: ``json.loads`` with a hook would build a new decoder on every call.
_JSON = json.JSONDecoder(object_pairs_hook=_no_duplicate_names)


class CompactJWS:
    """A compact JWS whose encoding and header passed :func:`parse`; nothing about it is verified."""

    __slots__ = ("_claims", "header", "token")

    def __init__(self, token: str, header: dict[str, Any]) -> None:
        self.token = token
        self.header = header
        # The claims segment parsed by unverified_claims(): verify() returns this same parse once the
        # signature checks (the bytes are the same), instead of decoding them a second time.
        self._claims: dict[str, Any] | None = None

    @property
    def alg(self) -> Any:
        """The header's ``alg`` as written (maybe missing or not a string: callers compare it with
        their allow-list, and :func:`verify` with the algorithm it is given)."""
        return self.header.get("alg")

    @property
    def signing_input(self) -> str:
        """``header.payload``, what the signature covers: it identifies the token whatever spelling
        of the signature is presented (an ECDSA signature (r, s) also verifies as (r, n - s))."""
        return self.token[:self.token.rindex(".")]

    def unverified_claims(self) -> dict[str, Any] | None:
        """The claims as the token *states* them, signature unchecked: only to decide which issuer's
        rules apply to it, never to trust. None when they are not a JSON object. A copy: the parse
        itself is kept for :func:`verify`."""
        claims = self._stated_claims()
        return None if claims is None else copy.deepcopy(claims)

    def unverified_claim(self, name: str) -> Any:
        """One claim as the token states it (see :meth:`unverified_claims`), None when absent."""
        claims = self._stated_claims()
        return None if claims is None else copy.deepcopy(claims.get(name))

    def _stated_claims(self) -> dict[str, Any] | None:
        if self._claims is None:
            try:
                self._claims = _json_object(base64url_decode(self.token.split(".")[1]), "claims")
            except JWSError:
                return None
        return self._claims

    def __repr__(self) -> str:  # never the token: it is a credential
        return f"<CompactJWS alg={self.header.get('alg')!r}>"


def parse(token: Any, *, max_length: int | None) -> CompactJWS:
    """Check a compact JWS's shape, encoding and header; :class:`JWSError` (``malformed``) if any fails.

    ``max_length`` bounds tokens from untrusted input; ``None`` is for a token whose source was already
    read under a size cap (a SIP data token).
    """
    if (not isinstance(token, str) or token.count(".") != 2
            or (max_length is not None and len(token) > max_length)):
        raise JWSError("not a compact JWS")
    segments = token.split(".")
    for segment in segments[1:]:
        _check_base64url(segment)
    header = segments[0]
    if len(header) > 512:  # longer than any real header: parsed, never remembered
        return CompactJWS(token, _header(header))
    known, nested = _known_header(header)
    # Each token gets its own copy, so that nothing done to one reaches another: a deep copy only when the
    # header holds an object or a list (a real one holds strings).
    return CompactJWS(token, copy.deepcopy(known) if nested else dict(known))


def _header(segment: str) -> dict[str, Any]:
    _check_base64url(segment)
    header = _json_object(base64url_decode(segment), "header")
    if any(name in header for name in _REFUSED_HEADERS):
        raise JWSError("token is malformed (unsupported header parameter)")
    return header


@functools.lru_cache(maxsize=64)
def _known_header(segment: str) -> tuple[dict[str, Any], bool]:
    """A header segment parsed once, and whether it nests (see :func:`parse`). A provider signs thousands
    of tokens with the same few headers (alg, kid, typ): a bearer-authenticated request would otherwise
    parse its header again every time. Refusals are not remembered."""
    header = _header(segment)
    return header, any(isinstance(value, (dict, list)) for value in header.values())


def verify(parsed: CompactJWS, key: Any, alg: str) -> dict[str, Any]:
    """Verify ``parsed``'s signature with ``key`` under ``alg`` (which its header must name), then
    return its claims. The caller chooses ``alg`` from its own allow-list and ``key`` from its own key
    set; :class:`JWSError` if anything fails."""
    if not isinstance(alg, str) or alg not in ALGORITHMS or parsed.alg != alg:
        raise JWSError("algorithm is not allowed", "alg_not_allowed")
    _check_key(key, alg)
    # PyJWT's algorithm checks the signature. Not PyJWS.decode: parse() has already checked and split
    # the segments, more strictly than PyJWT does, and PyJWT would check each of them again, character
    # by character in Python: more than the RSA verification itself on an access token, and 90% of the
    # CPU of a SIP data token (docs/performance.md, row 2).
    dot = parsed.token.rindex(".")
    message = parsed.token[:dot].encode("ascii")
    try:
        verified = _PYJWS.get_algorithm_by_name(alg).verify(
            message, key, base64url_decode(parsed.token[dot + 1:])
        )
    except (PyJWTError, ValueError):  # a signature of the wrong length for the key
        verified = False
    if not verified:
        raise JWSError("signature does not verify", "bad_signature")
    if parsed._claims is not None:
        return parsed._claims
    claims = _decode_segment(message, message.index(b".") + 1)
    del message  # a data token's bytes need not outlive the decoding of its claims
    return _json_object(claims, "claims")


def _decode_segment(data: bytes, start: int) -> bytearray:
    """The base64url segment ``data[start:]`` (checked canonical by :func:`parse`) decoded a chunk at a
    time into one buffer of its final size: decoding it whole would copy it three times over (padded,
    translated, decoded), and a SIP data token's claims are megabytes (docs/performance.md, row 8)."""
    length = len(data) - start
    decoded = bytearray(length * 3 // 4)
    filled = 0
    for position in range(start, len(data), _CHUNK):
        chunk = data[position:position + _CHUNK].translate(_URLSAFE_TO_STANDARD)
        part = binascii.a2b_base64(chunk + b"=" * (-len(chunk) % 4))
        decoded[filled:filled + len(part)] = part
        filled += len(part)
    return decoded


def sign(payload: bytes, key: Any, alg: str, *, headers: dict[str, Any] | None = None) -> str:
    """A compact JWS of ``payload`` (bytes as they are: callers that must match another SDK's claim
    order encode the claims themselves) signed with the private ``key`` under ``alg``."""
    if alg not in ALGORITHMS:
        raise JWSError("algorithm is not allowed", "alg_not_allowed")
    return _PYJWS.encode(payload, key, algorithm=alg, headers=headers)


def _check_base64url(segment: str) -> None:
    """``segment`` is unpadded base64url in its one canonical spelling."""
    remainder = len(segment) % 4
    if remainder == 1 or not _SEGMENT.fullmatch(segment):
        raise JWSError("token is malformed (not base64url)")
    # The last character of a 2- or 3-character group carries unused bits; they must be zero, or the
    # same bytes would have several spellings.
    if remainder and _BASE64URL_VALUE[segment[-1]] & (0x0F if remainder == 2 else 0x03):
        raise JWSError("token is malformed (not base64url)")


def _json_object(data: bytes | bytearray, what: str) -> dict[str, Any]:
    try:
        value = strict_json.loads(data, _JSON)
    except (ValueError, RecursionError) as exc:  # RecursionError: deeply nested JSON
        raise JWSError(f"token is malformed ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise JWSError("claims are not an object" if what == "claims" else "token is malformed (header)")
    return value


def _check_key(key: Any, alg: str) -> None:
    if alg in _RSA:
        fits = isinstance(key, rsa.RSAPublicKey)
        if fits and key.key_size < MIN_RSA_BITS:
            raise JWSError(f"the RSA key is smaller than {MIN_RSA_BITS} bits", "bad_key")
    elif alg in _EC_CURVES:
        fits = isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, _EC_CURVES[alg])
    else:
        fits = isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey))
    if not fits:
        raise JWSError("the key does not fit the algorithm", "bad_key")
