"""Byte-level primitives of the Civic SIP protocol (civic-protocols.md A2-A4).

Shared by the client and the sandbox, so both sides of the wire agree by construction, and both
are pinned to the literal vectors of the protocol notes by the tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from django_civic.protocols import jose as jws

_CURVE = ec.SECP256R1()
# Large texts (an S3 payload is megabytes) are hashed and decoded this many characters at a time, so
# that no step copies the whole text: the temporary copies stay a few MB whatever the payload's size.
_CHUNK = 1 << 20  # a multiple of 4, so every chunk of Base64 text decodes on its own
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_STANDARD_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")


class KeyFormatError(ValueError):
    """A key is neither Civic's hex format nor PEM for a P-256 key."""


def b64url_encode(data: bytes) -> str:
    encoded = binascii.b2a_base64(data, newline=False)
    return encoded.translate(_STANDARD_TO_URLSAFE).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not isinstance(text, str) or not text.isascii():
        raise ValueError("not base64url text")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- keys -----------------------------------------------------------------------------------------


def _load_key(value: Any, key_type: type[Any], from_pem: Any, from_hex: Any, formats: str) -> Any:
    """A P-256 key of ``key_type``: a key object, a PEM text, or Civic's hex format (``from_hex``)."""
    if isinstance(value, key_type):
        key = value
    else:
        text = (value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)).strip()
        try:
            key = from_pem(text.encode()) if text.startswith("-----BEGIN") else from_hex(text)
        except KeyFormatError:
            raise
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:  # TypeError: an encrypted PEM
            raise KeyFormatError(f"the key is neither {formats} nor PEM") from exc
        if not isinstance(key, key_type):
            raise KeyFormatError("the PEM key is not an elliptic-curve key")
    if not isinstance(key.curve, ec.SECP256R1):
        raise KeyFormatError("Civic SIP keys are on P-256 (secp256r1)")
    return key


def _private_scalar(text: str) -> ec.EllipticCurvePrivateKey:
    if len(text) != 64:
        raise KeyFormatError("a hex private key has 64 hex digits")
    return ec.derive_private_key(int(text, 16), _CURVE)


def load_private_key(value: str | bytes | ec.EllipticCurvePrivateKey) -> ec.EllipticCurvePrivateKey:
    """Accept Civic's 64-hex private scalar, a PEM private key, or a key object (P-256 only)."""
    return _load_key(value, ec.EllipticCurvePrivateKey,
                     lambda pem: serialization.load_pem_private_key(pem, password=None), _private_scalar,
                     "64 hex digits")


def load_public_key(value: str | bytes | ec.EllipticCurvePublicKey) -> ec.EllipticCurvePublicKey:
    """Accept an uncompressed SEC1 point in hex (``04``||X||Y, 130 digits), PEM, or a key object."""
    return _load_key(value, ec.EllipticCurvePublicKey, serialization.load_pem_public_key,
                     lambda text: ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, bytes.fromhex(text)),
                     "an uncompressed hex point")


def private_key_hex(key: ec.EllipticCurvePrivateKey) -> str:
    return format(key.private_numbers().private_value, "064x")


def public_key_hex(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint).hex()


def generate_key_pair() -> tuple[str, str]:
    """A new SIP signing key pair in Civic's hex formats: ``(private_hex, public_hex)``."""
    key = ec.generate_private_key(_CURVE)
    return private_key_hex(key), public_key_hex(key)


def generate_app_secret() -> str:
    """An app secret as the Integration Portal issues them: 32 uppercase hex digits (AES-128 key)."""
    return os.urandom(16).hex().upper()


def compact_json(obj: Any) -> str:
    """``JSON.stringify`` without whitespace, keys in insertion order."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def canonical_json(obj: Any) -> str:
    """``json-stable-stringify``: keys sorted at every level, no whitespace (civic-protocols.md A3)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def js_timestamp(value: float) -> int | float:
    """A timestamp as JavaScript prints it: millisecond precision, and no ``.0`` on whole seconds."""
    value = round(value, 3)
    return int(value) if value == int(value) else value


def encode_es256_jwt(payload: dict[str, Any], key: ec.EllipticCurvePrivateKey,
                     header: dict[str, Any] | None = None) -> str:
    """A compact ES256 JWS of ``payload`` with the payload bytes Civic's Node SDK produces."""
    return jws.sign(compact_json(payload).encode(), key, "ES256", headers=header)


# --- the ext HMAC -----------------------------------------------------------------------------------


def civic_ext(body: Any, app_secret: str) -> str:
    """HMAC-SHA256 of the sorted-key body, keyed by the secret's UTF-8 bytes as given; standard Base64."""
    message = body if isinstance(body, str) else canonical_json(body)
    return hmac_base64(message.encode("utf-8"), app_secret)


def hmac_base64(message: bytes, app_secret: str) -> str:
    return BodyMac(app_secret).ext(message)


class BodyMac:
    """The ``ext`` HMAC under one app secret: keyed once, then each message costs a copy of that state
    (``hmac.digest`` looks the algorithm up in OpenSSL and keys a new context on every call)."""

    def __init__(self, app_secret: str) -> None:
        self._keyed = hmac.new(app_secret.encode("utf-8"), digestmod=hashlib.sha256)

    def ext(self, message: bytes) -> str:
        """Standard Base64 of HMAC-SHA256(secret as UTF-8, message)."""
        mac = self._keyed.copy()
        mac.update(message)
        return binascii.b2a_base64(mac.digest(), newline=False).decode("ascii")


# --- AES-CBC payload --------------------------------------------------------------------------------


def _aes_key(app_secret: str) -> bytes:
    try:
        key = bytes.fromhex(app_secret)
    except ValueError as exc:
        raise ValueError("the app secret is not hex") from exc
    if len(key) not in (16, 24, 32):
        raise ValueError("the app secret must decode to 16, 24 or 32 bytes")
    return key


def aes_encrypt(plaintext: str, app_secret: str, iv: bytes | None = None) -> str:
    """Civic's payload encryption: ``hex(iv)`` (32 chars) followed by Base64 of AES-CBC/PKCS#7 ciphertext."""
    iv = iv if iv is not None else os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(_aes_key(app_secret)), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    return iv.hex() + base64.b64encode(ciphertext).decode("ascii")


def aes_decrypt(data: str, app_secret: str) -> str:
    """Inverse of :func:`aes_encrypt`. Raises ``ValueError`` on anything that does not decrypt cleanly.

    Decodes and decrypts chunk by chunk: a payload of megabytes is never held as Base64 bytes, whole
    ciphertext and plaintext at once (only the growing plaintext and one chunk of each).
    """
    if not isinstance(data, str) or len(data) < 32 + 4:
        raise ValueError("ciphertext too short")
    iv = bytes.fromhex(data[:32])
    if not _BASE64.fullmatch(data, 32) or (len(data) - 32) % 4:
        raise ValueError("ciphertext is not Base64")
    decryptor = Cipher(algorithms.AES(_aes_key(app_secret)), modes.CBC(iv)).decryptor()
    padded = bytearray()
    ciphertext_length = 0
    for position in range(32, len(data), _CHUNK):
        ciphertext = binascii.a2b_base64(data[position:position + _CHUNK].encode("ascii"))
        ciphertext_length += len(ciphertext)
        padded += decryptor.update(ciphertext)
    if not ciphertext_length or ciphertext_length % 16:
        raise ValueError("ciphertext is not whole AES blocks")
    padded += decryptor.finalize()
    # PKCS#7 touches only the last block: unpad that one (with cryptography's check) and put it back.
    unpadder = padding.PKCS7(128).unpadder()
    last_block = unpadder.update(bytes(padded[-16:])) + unpadder.finalize()
    del padded[-16:]
    padded += last_block
    return padded.decode("utf-8")
