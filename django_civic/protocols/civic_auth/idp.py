"""The site as an identity provider Civic trusts (federated token exchange, civic-protocols.md B3).

A site with its own logins (passwords, another SSO) has no token Civic would exchange. It signs short-lived
identity tokens for its users with a key of its own, publishes the public keys (JWKS) and an OpenID
discovery document, and registers its issuer at Civic's Integration page; Civic then exchanges those
tokens for Civic access tokens (RFC 8693). This module is the Django-free part: key generation, the
key's strength, the JWK, the discovery document and the signed token. ``django_civic.civic_auth.idp``
keeps the keys and knows the users.
"""

from __future__ import annotations

import json
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from django_civic.protocols import jose

#: What the site may sign with. RS256 is what Civic's provider configuration expects by default.
SIGNING_ALGORITHMS = ("RS256", "ES256")
DEFAULT_ALGORITHM = "RS256"
DEFAULT_RSA_BITS = 2048

PrivateKey = Any  # rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def generate_key(algorithm: str = DEFAULT_ALGORITHM, *, rsa_bits: int = DEFAULT_RSA_BITS) -> PrivateKey:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"the site signs with one of {', '.join(SIGNING_ALGORITHMS)}")


def key_problem(private_key: Any, algorithm: str) -> str | None:
    """Why ``private_key`` must not sign under ``algorithm``, or None when it may."""
    if algorithm not in SIGNING_ALGORITHMS:
        return f"the algorithm must be one of {', '.join(SIGNING_ALGORITHMS)}"
    if algorithm == "RS256":
        if not isinstance(private_key, rsa.RSAPrivateKey):
            return "RS256 needs an RSA key"
        if private_key.key_size < jose.MIN_RSA_BITS:
            return f"the RSA key has {private_key.key_size} bits, fewer than {jose.MIN_RSA_BITS}"
        return None
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(private_key.curve,
                                                                                  ec.SECP256R1):
        return "ES256 needs a P-256 key"
    return None


def public_jwk(private_key: PrivateKey, kid: str, algorithm: str) -> dict[str, Any]:
    """The public half as a JWK (RFC 7517), with the ``kid`` and ``alg`` verifiers select it by."""
    codec = RSAAlgorithm if algorithm.startswith(("RS", "PS")) else ECAlgorithm
    jwk = codec.to_jwk(private_key.public_key(), as_dict=True)
    jwk.pop("key_ops", None)  # RFC 7517 4.3: not beside "use"
    return {**jwk, "kid": kid, "alg": algorithm, "use": "sig"}


def discovery_document(issuer: str, jwks_uri: str, algorithms: list[str]) -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 metadata for an issuer that only signs identity tokens.

    There is no authorization endpoint: nobody logs in here, the site hands its tokens to Civic itself.
    """
    return {
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": algorithms,
        "claims_supported": ["iss", "sub", "aud", "iat", "nbf", "exp", "jti", "email", "email_verified",
                             "name"],
    }


def identity_token(private_key: PrivateKey, kid: str, algorithm: str, *, issuer: str, audience: str,
                   subject: str, lifetime: int, jti: str, email: str | None = None,
                   email_verified: bool = False, name: str | None = None,
                   now: float | None = None) -> str:
    """A signed identity token for one user. ``email`` goes in only with ``email_verified``: Civic's
    access policy matches invited users by email, so an unverified address must never reach it."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {"iss": issuer, "sub": subject, "aud": audience, "iat": issued, "nbf": issued,
                              "exp": issued + lifetime, "jti": jti}
    if email and email_verified:
        claims.update(email=email, email_verified=True)
    if name:
        claims["name"] = name
    payload = json.dumps(claims, separators=(",", ":")).encode("utf-8")
    return jose.sign(payload, private_key, algorithm, headers={"kid": kid, "typ": "JWT"})
