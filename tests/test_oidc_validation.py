"""The OIDC validator on top of :mod:`django_civic.protocols.jose`: the strict parse reaches Civic Auth
tokens, and single use holds whatever spelling of the signature comes back.

The sandbox provider signs RS256 only, so the ES256 cases sign with a key made here and hand the
validator a key set holding it (what the provider's JWKS would hold).
"""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from django_civic.protocols import jose as jws
from django_civic.protocols.civic_auth import InvalidToken, MemoryCache, OIDCClient, TokenReplayed
from django_civic.protocols.civic_auth.validation import TokenValidator

ISSUER = "https://issuer.example/oauth/"
CLIENT = "client-1"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


class OneKey:
    """The provider's key set reduced to one key (``KeySet.key_for``'s contract)."""

    def __init__(self, key) -> None:
        self.key = key

    def key_for(self, kid, alg):
        return self.key


class Replay:
    def __init__(self) -> None:
        self.cache = MemoryCache()

    def __call__(self, key: str, ttl: int) -> bool:
        return self.cache.add(key, 1, ttl)


@pytest.fixture
def es256():
    private = ec.generate_private_key(ec.SECP256R1())
    validator = TokenValidator(issuer=ISSUER, client_id=CLIENT, keys=lambda: OneKey(private.public_key()),
                               algorithms=lambda: ("ES256",), replay=Replay())
    return private, validator


def id_token(private, **claims) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "someone", "aud": CLIENT, "iat": now, "exp": now + 300, "nonce": "n",
            **claims}
    return jwt.encode(body, private, algorithm="ES256")


def high_low_twin(token: str) -> str:
    """The same token with its ECDSA signature (r, s) respelled as (r, n - s), which verifies too."""
    signing_input, signature = token.rsplit(".", 1)
    raw = unb64url(signature)
    s = int.from_bytes(raw[32:], "big")
    return f"{signing_input}.{b64url(raw[:32] + (P256_ORDER - s).to_bytes(32, 'big'))}"


def test_an_id_token_without_jti_cannot_come_back_with_its_signature_respelled(es256):
    private, validator = es256
    token = id_token(private)
    assert validator.id_token(token, nonce="n")["sub"] == "someone"
    twin = high_low_twin(token)
    assert twin != token
    with pytest.raises(TokenReplayed):
        validator.id_token(twin, nonce="n")


def test_an_id_token_with_a_jti_is_single_use_under_either_spelling(es256):
    private, validator = es256
    token = id_token(private, jti="j-1")
    validator.id_token(high_low_twin(token), nonce="n")
    with pytest.raises(TokenReplayed):
        validator.id_token(token, nonce="n")


def test_a_der_signature_is_refused_by_the_validator(es256):
    private, validator = es256
    signing_input = id_token(private).rsplit(".", 1)[0]
    der = private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidToken) as info:
        validator.id_token(f"{signing_input}.{b64url(der)}", nonce="n")
    assert info.value.reason == "bad_signature"


def test_a_key_that_does_not_fit_the_algorithm_is_refused(es256):
    private, _validator = es256
    wrong_curve = ec.generate_private_key(ec.SECP384R1()).public_key()
    validator = TokenValidator(issuer=ISSUER, client_id=CLIENT, keys=lambda: OneKey(wrong_curve),
                               algorithms=lambda: ("ES256",))
    with pytest.raises(InvalidToken) as info:
        validator.id_token(id_token(private), nonce="n")
    assert info.value.reason == "bad_key"


def test_a_parsed_token_is_accepted_and_still_checked(es256):
    private, validator = es256
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "s", "client_id": CLIENT, "iat": now, "exp": now + 60}
    access = jwt.encode(claims, private, algorithm="ES256", headers={"typ": "at+jwt"})
    assert validator.access_token(jws.parse(access, max_length=None))["sub"] == "s"
    # Parsed by a caller without a length limit: the validator's own limit still applies.
    huge = jwt.encode({**claims, "x": "y" * 16 * 1024}, private, algorithm="ES256", headers={"typ": "at+jwt"})
    with pytest.raises(InvalidToken) as info:
        validator.access_token(jws.parse(huge, max_length=None))
    assert info.value.reason == "malformed"
    wrong_issuer = jwt.encode({**claims, "iss": "https://other.example/"}, private, algorithm="ES256")
    with pytest.raises(InvalidToken) as info:
        validator.access_token(jws.parse(wrong_issuer, max_length=None))
    assert info.value.reason == "wrong_issuer"


# -- Civic Auth tokens from the sandbox -------------------------------------------------------------------


@pytest.fixture
def client(civic_sandbox):
    return OIDCClient(civic_sandbox.oidc_issuer, civic_sandbox.oidc_client_id,
                      civic_sandbox.oidc_client_secret, cache=MemoryCache(), replay=Replay())


def _segments(token: str) -> list[str]:
    return token.split(".")


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_padded_segment_is_malformed(civic_sandbox, client, index):
    """RFC 7515 base64url has no padding; PyJWT took it (for AWS ALB tokens), Civic never sends it."""
    for claims in ({}, {"pad": "x"}, {"pad": "xx"}):
        parts = _segments(civic_sandbox.mint_oidc_token(type="access", claims=claims))
        if len(parts[index]) % 4:
            break
    else:
        pytest.skip("no segment length that padding would change")
    parts[index] += "=" * (-len(parts[index]) % 4)
    with pytest.raises(InvalidToken) as info:
        client.validate_access_token(".".join(parts))
    assert info.value.reason == "malformed"


def test_a_non_canonical_signature_spelling_is_malformed(civic_sandbox, client):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    header, payload, signature = _segments(civic_sandbox.mint_oidc_token(type="access"))
    assert len(signature) % 4 == 2  # a 2048-bit RSA signature: 256 bytes, 342 characters
    bent = signature[:-1] + alphabet[alphabet.index(signature[-1]) | 1]
    assert unb64url(bent) == unb64url(signature)  # lenient decoders read the same bytes
    with pytest.raises(InvalidToken) as info:
        client.validate_access_token(f"{header}.{payload}.{bent}")
    assert info.value.reason == "malformed"


def test_a_header_with_an_empty_crit_is_malformed(civic_sandbox, client):
    header, payload, signature = _segments(civic_sandbox.mint_oidc_token(type="access"))
    bent = {**json.loads(unb64url(header)), "crit": []}
    with pytest.raises(InvalidToken) as info:
        client.validate_access_token(f"{b64url(json.dumps(bent).encode())}.{payload}.{signature}")
    assert info.value.reason == "malformed"
