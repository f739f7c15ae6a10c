"""PKCE (RFC 7636, S256 only) and the random values of an authorization request."""

from __future__ import annotations

import base64
import hashlib
import secrets


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def random_token(nbytes: int = 32) -> str:
    """A URL-safe random string with ``nbytes`` bytes of entropy (state, nonce)."""
    return secrets.token_urlsafe(nbytes)


def new_verifier() -> str:
    """A code verifier: 64 random bytes as 86 characters of the RFC 7636 unreserved alphabet."""
    return secrets.token_urlsafe(64)


def s256_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(code_verifier)))`` without padding (RFC 7636 4.2)."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())
