"""Discovery and JWKS: shared caching with bounded lifetimes, key rotation without downtime, and the
refetch cooldown that keeps random ``kid`` values from forcing fetches."""

from __future__ import annotations

import jwt
import pytest
import requests

from django_civic.protocols.civic_auth import (
    DiscoveryError,
    MemoryCache,
    OIDCClient,
    ProviderResponseError,
    ProviderUnavailable,
    UnknownSigningKey,
)
from django_civic.protocols.civic_auth.documents import DocumentCache
from django_civic.protocols.civic_auth.jwks import find_key


class Clock:
    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def make(sandbox, cache, clock=None, **options):
    clock = clock or Clock()
    options.setdefault("replay", None)
    return OIDCClient(sandbox.oidc_issuer, sandbox.oidc_client_id, sandbox.oidc_client_secret, cache=cache,
                      clock=clock, **options)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def cache(clock):
    return MemoryCache(clock=clock)


def test_discovery_and_keys_are_fetched_once_and_shared(civic_sandbox, cache, clock):
    first, second = make(civic_sandbox, cache, clock), make(civic_sandbox, cache, clock)  # two "workers"
    for client in (first, second, first):
        client.validate_id_token(civic_sandbox.mint_oidc_token(nonce="n"), nonce="n")
    stats = civic_sandbox.oidc_stats()
    assert stats["discovery"] == 1 and stats["jwks"] == 1


def test_key_rotation_without_downtime(civic_sandbox, cache, clock):
    client = make(civic_sandbox, cache, clock)
    old_token = civic_sandbox.mint_oidc_token(nonce="n")
    client.validate_id_token(old_token, nonce="n", single_use=False)
    new_kid = civic_sandbox.rotate_oidc_keys()
    new_token = civic_sandbox.mint_oidc_token(nonce="n")
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    assert client.validate_id_token(new_token, nonce="n")["sub"]
    # Tokens signed before the rotation keep working: the old key is still published.
    assert client.validate_id_token(old_token, nonce="n", single_use=False)["sub"]
    assert civic_sandbox.oidc_stats()["jwks"] == 2  # the start, and one refetch for the new kid
    assert civic_sandbox.oidc_kids()[0] == new_kid


def test_retired_keys_stop_verifying(civic_sandbox, cache, clock):
    client = make(civic_sandbox, cache, clock, jwks_refetch_cooldown=0)
    old_token = civic_sandbox.mint_oidc_token(nonce="n")
    client.validate_id_token(old_token, nonce="n", single_use=False)
    civic_sandbox.rotate_oidc_keys(retire_previous=True)
    # The new key's token makes the client refetch; the retired key is then gone from its cache too.
    client.validate_id_token(civic_sandbox.mint_oidc_token(nonce="n"), nonce="n")
    with pytest.raises(UnknownSigningKey):
        client.validate_id_token(old_token, nonce="n", single_use=False)


def test_random_kids_cannot_force_fetches(civic_sandbox, cache, clock):
    client = make(civic_sandbox, cache, clock, jwks_refetch_cooldown=30)
    client.validate_id_token(civic_sandbox.mint_oidc_token(nonce="n"), nonce="n")
    for _ in range(5):
        with pytest.raises(UnknownSigningKey):
            client.validate_id_token(civic_sandbox.mint_oidc_token(nonce="n", fault="unknown_kid"), nonce="n")
    other_worker = make(civic_sandbox, cache, clock, jwks_refetch_cooldown=30)
    with pytest.raises(UnknownSigningKey):
        probe = civic_sandbox.mint_oidc_token(nonce="n", fault="unknown_kid")
        other_worker.validate_id_token(probe, nonce="n")
    assert civic_sandbox.oidc_stats()["jwks"] == 2  # the first fetch and a single refetch


def test_after_the_cooldown_an_unknown_kid_may_refetch_again(civic_sandbox, cache, clock):
    client = make(civic_sandbox, cache, clock, jwks_refetch_cooldown=30)
    client.validate_id_token(civic_sandbox.mint_oidc_token(nonce="n"), nonce="n")
    with pytest.raises(UnknownSigningKey):
        client.validate_id_token(civic_sandbox.mint_oidc_token(nonce="n", fault="unknown_kid"), nonce="n")
    civic_sandbox.rotate_oidc_keys()  # a real rotation right after a probe: must wait for the cooldown
    rotated = civic_sandbox.mint_oidc_token(nonce="n")
    with pytest.raises(UnknownSigningKey):
        client.validate_id_token(rotated, nonce="n", single_use=False)
    clock.now += 31
    assert client.validate_id_token(rotated, nonce="n", single_use=False)["sub"]
    assert civic_sandbox.oidc_stats()["jwks"] == 3


def test_stale_keys_are_served_only_while_the_provider_fails(civic_sandbox, cache, clock):
    client = make(civic_sandbox, cache, clock, jwks_cache_seconds=60, discovery_cache_seconds=600)
    client.validate_id_token(civic_sandbox.mint_oidc_token(nonce="n"), nonce="n")
    clock.now += 100  # JWKS stale (fresh for 60 s), not yet gone (kept 60 s more)
    civic_sandbox.inject_fault("oidc.jwks", "status", status=503, count=5)
    assert client.validate_id_token(civic_sandbox.mint_oidc_token(nonce="n"), nonce="n")["sub"]
    assert client.validate_id_token(civic_sandbox.mint_oidc_token(nonce="n"), nonce="n")["sub"]
    # One refresh attempt, then the cooldown keeps the failing provider from being hammered.
    assert civic_sandbox.oidc_stats()["jwks"] == 2
    clock.now += 100  # past the stale window: nothing cached any more
    with pytest.raises(ProviderUnavailable):
        client.validate_id_token(civic_sandbox.mint_oidc_token(nonce="n"), nonce="n")


def test_a_recovered_provider_is_trusted_again_at_once(civic_sandbox, cache, clock):
    client = make(civic_sandbox, cache, clock, jwks_cache_seconds=60, jwks_refetch_cooldown=5)
    client.validate_id_token(civic_sandbox.mint_oidc_token(nonce="n"), nonce="n")
    clock.now += 61
    client.validate_id_token(civic_sandbox.mint_oidc_token(nonce="n"), nonce="n")
    assert civic_sandbox.oidc_stats()["jwks"] == 2  # stale -> refreshed on next use


def test_cold_cache_and_provider_down(civic_sandbox, cache, clock):
    civic_sandbox.inject_fault("oidc.discovery", "status", status=500)
    with pytest.raises(ProviderUnavailable):
        make(civic_sandbox, cache, clock).metadata()
    civic_sandbox.inject_fault("oidc.jwks", "timeout", seconds=2)
    client = make(civic_sandbox, cache, clock, timeout=0.5)
    with pytest.raises(ProviderUnavailable):
        client.validate_id_token(civic_sandbox.mint_oidc_token(nonce="n"), nonce="n")


def test_discovery_naming_another_issuer_is_refused(civic_sandbox, cache, clock):
    civic_sandbox.inject_fault("oidc.discovery", "wrong_issuer")
    with pytest.raises(DiscoveryError):
        make(civic_sandbox, cache, clock).metadata()


def test_malformed_provider_documents(civic_sandbox, cache, clock):
    civic_sandbox.inject_fault("oidc.discovery", "malformed")
    with pytest.raises(ProviderResponseError):
        make(civic_sandbox, cache, clock).metadata()
    client = make(civic_sandbox, cache, clock)
    civic_sandbox.inject_fault("oidc.jwks", "malformed")
    with pytest.raises(ProviderResponseError):
        client.validate_id_token(civic_sandbox.mint_oidc_token(nonce="n"), nonce="n")


def test_no_fallback_endpoints_when_discovery_fails(civic_sandbox, cache, clock):
    """civic-auth-py guesses /authorize and /token when discovery fails; we stop instead."""
    civic_sandbox.inject_fault("oidc.discovery", "status", status=404)
    with pytest.raises(DiscoveryError):
        make(civic_sandbox, cache, clock).authorization_request(redirect_uri="http://localhost/cb")


# -- lifetimes and key selection (no provider needed) ------------------------------------------------------

def test_cache_control_is_honoured_within_bounds(clock):
    cache = MemoryCache(clock=clock)
    documents = DocumentCache(cache, "t", ttl=3600, min_ttl=60, clock=clock)
    documents.put("u", {"a": 1}, max_age=5)  # too short: raised to the minimum
    clock.now += 59
    assert documents.get("u").fresh
    clock.now += 2
    assert not documents.get("u").fresh
    documents.put("u", {"a": 1}, max_age=10 ** 9)  # too long: capped
    clock.now += 3601
    assert not documents.get("u").fresh
    clock.now += 3600
    assert documents.get("u") is None  # stale window over


def _rsa_jwk(**extra):
    import json

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key)), **extra}


def _ec_jwk(curve, **extra):
    import json

    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(curve).public_key()
    return {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key)), **extra}


def test_keys_are_only_used_for_what_they_can_sign():
    from cryptography.hazmat.primitives.asymmetric import ec

    rsa_key = _rsa_jwk(kid="r")
    assert find_key({"keys": [rsa_key]}, "r", "RS256") is not None
    assert find_key({"keys": [rsa_key]}, "r", "ES256") is None  # RSA key for an EC algorithm
    assert find_key({"keys": [{**rsa_key, "use": "enc"}]}, "r", "RS256") is None
    assert find_key({"keys": [{**rsa_key, "alg": "RS512"}]}, "r", "RS256") is None
    assert find_key({"keys": [{**rsa_key, "key_ops": ["encrypt"]}]}, "r", "RS256") is None
    assert find_key({"keys": [_ec_jwk(ec.SECP384R1(), kid="e")]}, "e", "ES256") is None  # wrong curve
    assert find_key({"keys": [_ec_jwk(ec.SECP256R1(), kid="e")]}, "e", "ES256") is not None
    # Without a kid, only an unambiguous set is usable.
    assert find_key({"keys": [rsa_key]}, None, "RS256") is not None
    assert find_key({"keys": [rsa_key, _rsa_jwk(kid="s")]}, None, "RS256") is None
    assert find_key({"keys": "nope"}, "r", "RS256") is None
    assert find_key({"keys": [{"kty": "RSA", "kid": "r", "n": "!!", "e": "AQAB"}]}, "r", "RS256") is None


def test_private_key_members_are_not_cached(civic_sandbox, cache, clock):
    client = make(civic_sandbox, cache, clock)
    client.validate_id_token(civic_sandbox.mint_oidc_token(nonce="n"), nonce="n")
    document = client._jwks_documents.get(client.metadata().jwks_uri).document
    assert all(not ({"d", "p", "q"} & set(jwk)) for jwk in document["keys"])
    assert requests.get(civic_sandbox.oidc_issuer + "jwks", timeout=5).json()["keys"][0]["kty"] == "RSA"


def test_a_rotation_fetched_by_one_worker_is_seen_by_the_others(civic_sandbox, cache, clock):
    first = make(civic_sandbox, cache, clock, jwks_refetch_cooldown=30)
    second = make(civic_sandbox, cache, clock, jwks_refetch_cooldown=30)
    for client in (first, second):  # both hold the start-up keys in memory
        client.validate_id_token(civic_sandbox.mint_oidc_token(nonce="n"), nonce="n")
    civic_sandbox.rotate_oidc_keys()
    rotated = civic_sandbox.mint_oidc_token(nonce="n")
    first.validate_id_token(rotated, nonce="n", single_use=False)  # refetches, and claims the cooldown
    # The second worker's own copy lacks the new kid and the cooldown is taken, but the shared cache has it.
    assert second.validate_id_token(rotated, nonce="n", single_use=False)["sub"]
    assert civic_sandbox.oidc_stats()["jwks"] == 2


class CountingCache(MemoryCache):
    def __init__(self, clock) -> None:
        super().__init__(clock=clock)
        self.reads = 0

    def get(self, key, default=None):
        self.reads += 1
        return super().get(key, default)


def test_the_warm_path_costs_no_cache_round_trip(civic_sandbox, clock):
    cache = CountingCache(clock)
    client = make(civic_sandbox, cache, clock)
    token = civic_sandbox.mint_oidc_token(type="access")
    client.validate_access_token(token)
    cache.reads = 0
    for _ in range(10):
        client.validate_access_token(token)
    assert cache.reads == 0  # discovery and keys come from this process's copy while fresh
    clock.now += 3601  # stale: the next use goes back to the shared cache (and the provider)
    later = {"iat": int(clock.now), "exp": int(clock.now) + 60}
    client.validate_access_token(civic_sandbox.mint_oidc_token(type="access", claims=later))
    assert cache.reads > 0
