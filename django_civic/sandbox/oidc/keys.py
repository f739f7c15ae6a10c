"""The sandbox provider's signing keys: RS256 with a ``kid``, rotated on demand.

Rotation works the way a real provider rolls keys without downtime: the new key signs from now on,
the previous ones stay in the JWKS (so tokens already issued still verify) until retired.
A separate *foreign* key, never published, signs tokens for the ``bad_signature`` fault.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    def public_jwk(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "n": jwk["n"], "e": jwk["e"]}


def _new_key() -> SigningKey:
    # 2048 bits: what providers use; generation takes tens of milliseconds, once per rotation.
    return SigningKey(kid=secrets.token_urlsafe(12), private=rsa.generate_private_key(public_exponent=65537,
                                                                                       key_size=2048))


class KeyRing:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._initial = _new_key()
        self._keys = [self._initial]  # newest last; the last one signs
        self.foreign = _new_key()

    @property
    def current(self) -> SigningKey:
        with self._lock:
            return self._keys[-1]

    def find(self, kid: str | None) -> SigningKey | None:
        with self._lock:
            for key in self._keys:
                if key.kid == kid:
                    return key
        return None

    def rotate(self, *, retire_previous: bool = False) -> SigningKey:
        key = _new_key()
        with self._lock:
            self._keys = [key] if retire_previous else [*self._keys, key][-5:]
        return key

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            return {"keys": [key.public_jwk() for key in reversed(self._keys)]}

    def kids(self) -> list[str]:
        with self._lock:
            return [key.kid for key in reversed(self._keys)]

    def reset(self) -> None:
        """Back to the key the sandbox started with (so clients' cached JWKS stay valid across tests)."""
        with self._lock:
            self._keys = [self._initial]

    def sign(self, claims: dict[str, Any], *, typ: str = "JWT", key: SigningKey | None = None,
             kid: str | None = None) -> str:
        key = key or self.current
        headers = {"kid": kid if kid is not None else key.kid, "typ": typ}
        return jwt.encode(claims, key.private, algorithm="RS256", headers=headers)


keyring = KeyRing()
