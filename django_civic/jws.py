"""Strict verification of compact JWS tokens (RFC 7515), shared by every signed token this app accepts.

Used by Civic SIP (``sip/tokens.py``: auth codes, data tokens, and the sandbox's partner tokens, all
ES256) and Civic Auth (``oidc/validation.py``: ID and access tokens, RS256 from Civic, or any asymmetric
algorithm a site allows). Pure Python on ``cryptography``; no Django.

Why not PyJWT: it checks the Base64 alphabet one character at a time in Python, which costs more than
an RSA or ECDSA signature check on a normal token and most of a second on a 6 MB SIP payload, and it
supports far more than we may accept (HMAC, ``none``, detached payloads). Here, what is not listed is
refused:

- **Compact serialization**: exactly three segments; each is base64url *without* padding (RFC 7515 2)
  in its canonical spelling (the unused low bits of the last character are zero), so a token has one
  spelling and nothing is silently dropped. No whitespace, no other alphabet.
- **Header**: a UTF-8 JSON object without duplicate member names (two ``alg`` values must not be read
  differently by two readers); ``alg`` a string; ``crit`` and ``b64`` refused (we implement no
  extension, and ``b64: false`` would change what is signed). ``jku``, ``jwk``, ``x5u`` and ``x5c`` are
  never read: the key always comes from the caller.
- **Algorithms**: asymmetric only. There is no code path for ``none`` or HMAC, so "HS256 keyed with the
  public key" has nothing to run on. The key must fit the algorithm: RSA (at least 2048 bits) for
  RS*/PS*, EC on the algorithm's curve for ES*, Ed25519/Ed448 for EdDSA.
- **Signatures**: exact lengths: the RSA modulus size; ECDSA as raw R||S of twice the coordinate size
  (RFC 7518 3.4; DER is refused); 64 or 114 bytes for EdDSA.
- **Order**: the signature is verified before the payload is decoded or parsed, so the claims of a
  forged token are never read (:meth:`CompactJWS.unverified_claims` exists for callers that must route
  a token by its claimed issuer before knowing which key to use, and says so in its name).
- **Claims**: a UTF-8 JSON object without duplicate member names or lone surrogates. Their meaning (times, issuer,
  audience) is the caller's business.

Large tokens (a SIP data token can carry megabytes) are hashed and decoded a chunk at a time, so no step
holds more than one extra copy of the text.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

__all__ = ["ALGORITHMS", "MIN_RSA_BITS", "CompactJWS", "JWSError", "parse", "verify"]

MIN_RSA_BITS = 2048

_CHUNK = 1 << 20  # characters hashed or decoded at a time; a multiple of 4, so chunks decode on their own
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_BASE64URL_VALUE = {c: i for i, c in
                    enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# Header parameters that change what is signed or how it must be processed: we implement none of them.
_REFUSED_HEADERS = ("crit", "b64")


class JWSError(ValueError):
    """The token was refused. The message names the check, never the token; ``reason`` is one of
    ``malformed``, ``alg_not_allowed``, ``bad_key`` (the caller's key does not fit the algorithm) or
    ``bad_signature``."""

    def __init__(self, message: str, reason: str = "malformed") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class _Algorithm:
    family: str  # "RSA", "RSA-PSS", "EC" or "OKP"
    hash: hashes.HashAlgorithm  # unused for EdDSA, which hashes the message itself
    curve: type[ec.EllipticCurve] | None = None
    coordinate_bytes: int = 0


_SPECS: dict[str, _Algorithm] = {
    "RS256": _Algorithm("RSA", hashes.SHA256()),
    "RS384": _Algorithm("RSA", hashes.SHA384()),
    "RS512": _Algorithm("RSA", hashes.SHA512()),
    "PS256": _Algorithm("RSA-PSS", hashes.SHA256()),
    "PS384": _Algorithm("RSA-PSS", hashes.SHA384()),
    "PS512": _Algorithm("RSA-PSS", hashes.SHA512()),
    "ES256": _Algorithm("EC", hashes.SHA256(), ec.SECP256R1, 32),
    "ES384": _Algorithm("EC", hashes.SHA384(), ec.SECP384R1, 48),
    "ES512": _Algorithm("EC", hashes.SHA512(), ec.SECP521R1, 66),
    "EdDSA": _Algorithm("OKP", hashes.SHA512()),
}
#: Every algorithm this module verifies (RFC 7518 3.3-3.5, RFC 8037): asymmetric ones only.
ALGORITHMS = frozenset(_SPECS)


def _no_duplicate_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


# One decoder, built once: ``json.loads`` with a hook would build a new decoder on every call.
_JSON = json.JSONDecoder(object_pairs_hook=_no_duplicate_names)


class CompactJWS:
    """A compact JWS whose encoding and header passed :func:`parse`; nothing about it is verified."""

    __slots__ = ("token", "header", "_first_dot", "_last_dot", "_payload")

    def __init__(self, token: str, header: dict[str, Any], first_dot: int, last_dot: int) -> None:
        self.token = token
        self.header = header
        self._first_dot = first_dot
        self._last_dot = last_dot
        self._payload: bytes | bytearray | None = None  # decoded on first use

    @property
    def alg(self) -> Any:
        """The header's ``alg`` as written (maybe missing or not a string: callers compare it with
        their allow-list, and :func:`verify` with the algorithm it is given)."""
        return self.header.get("alg")

    @property
    def signing_input(self) -> str:
        """``header.payload``, what the signature covers: it identifies the token whatever spelling
        of the signature is presented (an ECDSA signature (r, s) also verifies as (r, n - s))."""
        return self.token[:self._last_dot]

    def unverified_claims(self) -> dict[str, Any] | None:
        """The claims as the token *states* them, signature unchecked: only to decide which issuer's
        rules apply to it, never to trust. A new object on every call, so nothing a caller did with it
        reaches what :func:`verify` returns. None when they are not a JSON object."""
        try:
            return _json_object(_utf8(self._decoded_payload()), "claims")
        except JWSError:
            return None

    def _decoded_payload(self) -> bytes | bytearray:
        if self._payload is None:
            self._payload = _decode(self.token, self._first_dot + 1, self._last_dot)
        return self._payload

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
    first, last = token.index("."), token.rindex(".")
    for start, end in ((0, first), (first + 1, last), (last + 1, len(token))):
        _check_base64url(token, start, end)
    header = _json_object(_utf8(_decode(token, 0, first)), "header")
    if any(name in header for name in _REFUSED_HEADERS):
        raise JWSError("token is malformed (unsupported header parameter)")
    return CompactJWS(token, header, first, last)


def verify(parsed: CompactJWS, key: Any, alg: str) -> dict[str, Any]:
    """Verify ``parsed``'s signature with ``key`` under ``alg`` (which its header must name), then
    return its claims. The caller chooses ``alg`` from its own allow-list and ``key`` from its own key
    set; :class:`JWSError` if anything fails."""
    spec = _SPECS.get(alg) if isinstance(alg, str) else None
    if spec is None or parsed.alg != alg:
        raise JWSError("algorithm is not allowed", "alg_not_allowed")
    _check_key(key, spec)
    token, end = parsed.token, parsed._last_dot
    signature = bytes(_decode(token, end + 1, len(token)))
    if not _signature_valid(token, end, key, spec, signature):
        raise JWSError("signature does not verify", "bad_signature")
    payload = parsed._decoded_payload()
    parsed._payload = None
    text = _utf8(payload)
    del payload  # keep one copy of a large payload alive at a time
    return _json_object(text, "claims")


# -- encoding --------------------------------------------------------------------------------------


def _check_base64url(token: str, start: int, end: int) -> None:
    """``token[start:end]`` is unpadded base64url in its one canonical spelling."""
    remainder = (end - start) % 4
    if remainder == 1 or not _BASE64URL.fullmatch(token, start, end):
        raise JWSError("token is malformed (not base64url)")
    # The last character of a 2- or 3-character group carries unused bits; they must be zero, or the
    # same bytes would have several spellings.
    if remainder and _BASE64URL_VALUE[token[end - 1]] & (0x0F if remainder == 2 else 0x03):
        raise JWSError("token is malformed (not base64url)")


def _decode(token: str, start: int, end: int) -> bytes | bytearray:
    """Decode ``token[start:end]``, already checked by :func:`_check_base64url`, a chunk at a time."""
    if end - start <= _CHUNK:
        chunk = token[start:end].encode("ascii").translate(_URLSAFE_TO_STANDARD)
        return binascii.a2b_base64(chunk + b"=" * (-len(chunk) % 4))
    decoded = bytearray()
    for position in range(start, end, _CHUNK):
        chunk = token[position:min(position + _CHUNK, end)].encode("ascii").translate(_URLSAFE_TO_STANDARD)
        decoded += binascii.a2b_base64(chunk + b"=" * (-len(chunk) % 4))
    return decoded


def _utf8(data: bytes | bytearray) -> str:
    try:
        return data.decode("utf-8")  # UTF-8 only (json.loads would also take UTF-16 and UTF-32)
    except UnicodeDecodeError:
        raise JWSError("token is malformed (not UTF-8)") from None


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = _JSON.decode(text)
        # "\ud800" is valid JSON but no Unicode text (RFC 7493 2.1 refuses it): a lone surrogate
        # breaks every later encode(), compare_digest and database write of the string, so it is
        # refused here, once, for every claim. Checked only when the text has such an escape.
        if _SURROGATE_ESCAPE.search(text):
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError) as exc:  # RecursionError: deeply nested JSON
        raise JWSError(f"token is malformed ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise JWSError("claims are not an object" if what == "claims" else "token is malformed (header)")
    return value


# -- keys and signatures ---------------------------------------------------------------------------


def _check_key(key: Any, spec: _Algorithm) -> None:
    if spec.family in ("RSA", "RSA-PSS"):
        fits = isinstance(key, rsa.RSAPublicKey)
        if fits and key.key_size < MIN_RSA_BITS:
            raise JWSError(f"the RSA key is smaller than {MIN_RSA_BITS} bits", "bad_key")
    elif spec.family == "EC":
        curve = spec.curve
        fits = (isinstance(key, ec.EllipticCurvePublicKey) and curve is not None
                and isinstance(key.curve, curve))
    else:
        fits = isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey))
    if not fits:
        raise JWSError("the key does not fit the algorithm", "bad_key")


def _digest(token: str, end: int, algorithm: hashes.HashAlgorithm) -> bytes:
    """The hash of the ASCII signing input ``token[:end]``, a chunk at a time."""
    digest = hashlib.new(algorithm.name)
    for start in range(0, end, _CHUNK):
        digest.update(token[start:min(start + _CHUNK, end)].encode("ascii"))
    return digest.digest()


def _signature_valid(token: str, end: int, key: Any, spec: _Algorithm, signature: bytes) -> bool:
    try:
        if spec.family == "OKP":
            expected = 64 if isinstance(key, ed25519.Ed25519PublicKey) else 114
            if len(signature) != expected:
                return False
            key.verify(signature, token[:end].encode("ascii"))  # EdDSA signs the message, not a hash
            return True
        if spec.family == "EC":
            size = spec.coordinate_bytes
            if len(signature) != 2 * size:
                return False
            signature = encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                             int.from_bytes(signature[size:], "big"))
            key.verify(signature, _digest(token, end, spec.hash), ec.ECDSA(Prehashed(spec.hash)))
            return True
        if len(signature) != (key.key_size + 7) // 8:
            return False
        scheme = (padding.PKCS1v15() if spec.family == "RSA"
                  else padding.PSS(mgf=padding.MGF1(spec.hash), salt_length=spec.hash.digest_size))
        key.verify(signature, _digest(token, end, spec.hash), scheme, Prehashed(spec.hash))
        return True
    except InvalidSignature:
        return False
