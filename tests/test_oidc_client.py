"""The pure Civic Auth client against the sandbox provider, over real HTTP: the happy path and one
failing test per ID-token validation rule."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization

from django_civic.protocols.civic_auth import (
    IdentityChanged,
    InvalidToken,
    MemoryCache,
    NonceMismatch,
    OIDCClient,
    OIDCConfigurationError,
    ProviderError,
    TokenReplayed,
    UnknownSigningKey,
)

REDIRECT = "http://localhost:8000/civic/auth/callback/"


class Replay:
    """The replay check the Django app backs with its cache: True the first time a key is seen."""

    def __init__(self) -> None:
        self.cache = MemoryCache()

    def __call__(self, key: str, ttl: int) -> bool:
        return self.cache.add(key, 1, ttl)


def make_client(sandbox, *, client_id=None, secret="default", cache=None, **options) -> OIDCClient:
    if secret == "default":
        secret = sandbox.oidc_client_secret
    options.setdefault("replay", Replay())
    return OIDCClient(sandbox.oidc_issuer, client_id or sandbox.oidc_client_id, secret,
                      cache=cache if cache is not None else MemoryCache(), **options)


@pytest.fixture
def client(civic_sandbox):
    return make_client(civic_sandbox)


def login(sandbox, client, persona="alice"):
    request = client.authorization_request(redirect_uri=REDIRECT)
    result = sandbox.oidc_approve(request.url, persona)
    assert result["state"] == request.state
    tokens = client.exchange_code(result["code"], redirect_uri=REDIRECT, code_verifier=request.code_verifier)
    return request, tokens


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# -- the happy path ------------------------------------------------------------------------------------

def test_code_flow_with_pkce_validates_and_fetches_userinfo(civic_sandbox, client):
    request, tokens = login(civic_sandbox, client)
    assert "code_challenge_method=S256" in request.url and "code_challenge=" in request.url
    claims = client.validate_id_token(tokens.id_token, nonce=request.nonce, access_token=tokens.access_token)
    assert claims["sub"] == civic_sandbox.oidc_subject("alice")
    assert claims["iss"] == civic_sandbox.oidc_issuer
    assert claims["email"] == "alice@example.com" and claims["email_verified"] is True
    info = client.userinfo(tokens.access_token, expected_sub=claims["sub"])
    assert info["preferred_username"] == "alice"


def test_reprs_never_show_tokens(civic_sandbox, client):
    request, tokens = login(civic_sandbox, client)
    assert tokens.access_token not in repr(tokens) and tokens.id_token not in repr(tokens)
    assert request.nonce not in repr(request) and request.code_verifier not in repr(request)
    assert civic_sandbox.oidc_client_secret not in repr(client)


def test_public_client_uses_pkce_without_secret(civic_sandbox):
    registered = civic_sandbox.register_oidc_client(redirect_uris=[REDIRECT], public=True)
    public = make_client(civic_sandbox, client_id=registered["client_id"], secret=None)
    request, tokens = login(civic_sandbox, public)
    assert public.validate_id_token(tokens.id_token, nonce=request.nonce)["aud"] == registered["client_id"]
    with pytest.raises(OIDCConfigurationError):
        public.token_exchange(tokens.access_token)


def test_wrong_code_verifier_is_refused_by_the_provider(civic_sandbox, client):
    request = client.authorization_request(redirect_uri=REDIRECT)
    result = civic_sandbox.oidc_approve(request.url)
    with pytest.raises(ProviderError) as info:
        client.exchange_code(result["code"], redirect_uri=REDIRECT, code_verifier="x" * 64)
    assert info.value.error == "invalid_grant"


def test_a_code_works_once(civic_sandbox, client):
    request = client.authorization_request(redirect_uri=REDIRECT)
    code = civic_sandbox.oidc_approve(request.url)["code"]
    client.exchange_code(code, redirect_uri=REDIRECT, code_verifier=request.code_verifier)
    with pytest.raises(ProviderError) as info:
        client.exchange_code(code, redirect_uri=REDIRECT, code_verifier=request.code_verifier)
    assert info.value.error == "invalid_grant"


# -- one failing test per validation rule ---------------------------------------------------------------

@pytest.mark.parametrize(("claims", "reason"), [
    ({"aud": "another-client"}, "wrong_audience"),
    ({"aud": ["sandbox-client", "another-client"]}, "wrong_azp"),  # several audiences need azp
    ({"aud": ["sandbox-client", "another-client"], "azp": "another-client"}, "wrong_azp"),
    ({"azp": "another-client"}, "wrong_azp"),
    ({"iss": "https://auth.civic.com/oauth/"}, "wrong_issuer"),
    ({"iss": "http://127.0.0.1/oauth"}, "wrong_issuer"),
])
def test_audience_and_issuer_rules(civic_sandbox, client, claims, reason):
    token = civic_sandbox.mint_oidc_token(nonce="n", claims=claims)
    with pytest.raises(InvalidToken) as info:
        client.validate_id_token(token, nonce="n")
    assert info.value.reason == reason


def test_several_audiences_with_our_azp_are_accepted(civic_sandbox, client):
    token = civic_sandbox.mint_oidc_token(nonce="n", claims={"aud": ["sandbox-client", "other"],
                                                             "azp": "sandbox-client"})
    assert client.validate_id_token(token, nonce="n")["azp"] == "sandbox-client"


@pytest.mark.parametrize(("offsets", "reason"), [
    ({"exp": -3600, "iat": -7200}, "expired"),
    ({"iat": 3600, "exp": 7200}, "issued_in_future"),
    ({"nbf": 3600}, "not_yet_valid"),
    ({"iat": -7200 - 120, "exp": 3600}, "too_old"),
])
def test_time_rules(civic_sandbox, client, offsets, reason):
    now = int(time.time())
    token = civic_sandbox.mint_oidc_token(nonce="n", claims={k: now + v for k, v in offsets.items()})
    with pytest.raises(InvalidToken) as info:
        client.validate_id_token(token, nonce="n")
    assert info.value.reason == reason


def test_leeway_tolerates_small_clock_skew(civic_sandbox, client):
    now = int(time.time())
    token = civic_sandbox.mint_oidc_token(nonce="n", claims={"iat": now + 30, "exp": now + 3600})
    assert client.validate_id_token(token, nonce="n")["iat"] == now + 30


@pytest.mark.parametrize("exp", ["Infinity", "NaN", '"1999999999"', "true", None])
def test_missing_non_numeric_or_infinite_times_are_malformed(civic_sandbox, client, exp):
    if exp is None:
        token = civic_sandbox.mint_oidc_token(nonce="n", remove=["exp"])
    else:
        # Python's JSON accepts Infinity and NaN; the sandbox signs whatever it is given.
        body = '{"type": "id", "nonce": "n", "claims": {"exp": ' + exp + "}}"
        response = civic_sandbox.http.post(civic_sandbox.url + "control/oidc/tokens", data=body, timeout=5)
        token = response.json()["token"]
    with pytest.raises(InvalidToken) as info:
        client.validate_id_token(token, nonce="n")
    assert info.value.reason == "malformed"


def test_unknown_kid_is_refused(civic_sandbox, client):
    token = civic_sandbox.mint_oidc_token(nonce="n", fault="unknown_kid")
    with pytest.raises(UnknownSigningKey):
        client.validate_id_token(token, nonce="n")


def test_bad_signature_is_refused(civic_sandbox, client):
    token = civic_sandbox.mint_oidc_token(nonce="n", fault="bad_signature")
    with pytest.raises(InvalidToken) as info:
        client.validate_id_token(token, nonce="n")
    assert info.value.reason == "bad_signature"


def test_tampered_payload_is_refused(civic_sandbox, client):
    token = civic_sandbox.mint_oidc_token(nonce="n")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "someone-else"
    with pytest.raises(InvalidToken) as info:
        client.validate_id_token(f"{header}.{b64(claims)}.{signature}", nonce="n")
    assert info.value.reason == "bad_signature"


def test_alg_none_is_refused(civic_sandbox, client):
    token = civic_sandbox.mint_oidc_token(nonce="n", fault="alg_none")
    assert token.endswith(".")
    with pytest.raises(InvalidToken) as info:
        client.validate_id_token(token, nonce="n")
    assert info.value.reason == "alg_not_allowed"


def test_hs256_keyed_with_the_public_key_is_refused(civic_sandbox, client):
    """The classic algorithm-confusion attack: HMAC "signed" with the provider's public key."""
    jwk = requests.get(civic_sandbox.oidc_issuer + "jwks", timeout=5).json()["keys"][0]
    public_pem = jwt.PyJWK(jwk).key.public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    payload = civic_sandbox.mint_oidc_token(nonce="n").split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    header = b64({"alg": "HS256", "typ": "JWT", "kid": jwk["kid"]})
    payload = b64(claims)
    import hashlib
    import hmac

    signature = base64.urlsafe_b64encode(hmac.new(public_pem, f"{header}.{payload}".encode(),
                                                  hashlib.sha256).digest()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken) as info:
        client.validate_id_token(f"{header}.{payload}.{signature}", nonce="n")
    assert info.value.reason == "alg_not_allowed"


def test_an_algorithm_outside_the_allow_list_is_refused(civic_sandbox):
    es256_only = make_client(civic_sandbox, algorithms=["ES256"])
    with pytest.raises(InvalidToken) as info:
        es256_only.validate_id_token(civic_sandbox.mint_oidc_token(nonce="n"), nonce="n")
    assert info.value.reason == "alg_not_allowed"


def test_symmetric_algorithms_cannot_be_configured(civic_sandbox):
    for algorithms in (["HS256"], ["RS256", "none"]):
        with pytest.raises(OIDCConfigurationError):
            make_client(civic_sandbox, algorithms=algorithms)


def test_nonce_mismatch_and_missing_nonce_are_refused(civic_sandbox, client):
    with pytest.raises(NonceMismatch):
        client.validate_id_token(civic_sandbox.mint_oidc_token(nonce="ours"), nonce="theirs")
    with pytest.raises(NonceMismatch):
        client.validate_id_token(civic_sandbox.mint_oidc_token(), nonce="ours")


def test_nonce_mismatch_through_the_real_flow(civic_sandbox, client):
    civic_sandbox.inject_fault("oidc.token", "wrong_nonce")
    request, tokens = login(civic_sandbox, client)
    with pytest.raises(NonceMismatch):
        client.validate_id_token(tokens.id_token, nonce=request.nonce)


def test_jti_replay_is_refused(civic_sandbox, client):
    token = civic_sandbox.mint_oidc_token(nonce="n")
    client.validate_id_token(token, nonce="n")
    with pytest.raises(TokenReplayed):
        client.validate_id_token(token, nonce="n")


def test_a_token_without_jti_is_still_single_use(civic_sandbox, client):
    token = civic_sandbox.mint_oidc_token(nonce="n", remove=["jti"])
    client.validate_id_token(token, nonce="n")
    with pytest.raises(TokenReplayed):
        client.validate_id_token(token, nonce="n")


def test_the_replay_cache_is_shared_between_clients(civic_sandbox):
    replay = Replay()  # one shared cache, two "processes"
    first, second = make_client(civic_sandbox, replay=replay), make_client(civic_sandbox, replay=replay)
    token = civic_sandbox.mint_oidc_token(nonce="n")
    first.validate_id_token(token, nonce="n")
    with pytest.raises(TokenReplayed):
        second.validate_id_token(token, nonce="n")


def test_at_hash_must_match_the_access_token(civic_sandbox, client):
    civic_sandbox.inject_fault("oidc.token", "bad_at_hash")
    request, tokens = login(civic_sandbox, client)
    with pytest.raises(InvalidToken) as info:
        client.validate_id_token(tokens.id_token, nonce=request.nonce, access_token=tokens.access_token)
    assert info.value.reason == "at_hash_mismatch"


@pytest.mark.parametrize("fault,reason", [
    ("wrong_issuer", "wrong_issuer"), ("wrong_audience", "wrong_audience"), ("expired", "expired"),
    ("future_iat", "issued_in_future"), ("bad_signature", "bad_signature"), ("alg_none", "alg_not_allowed"),
])
def test_faulty_id_tokens_from_the_token_endpoint(civic_sandbox, client, fault, reason):
    civic_sandbox.inject_fault("oidc.token", fault)
    request, tokens = login(civic_sandbox, client)
    with pytest.raises(InvalidToken) as info:
        client.validate_id_token(tokens.id_token, nonce=request.nonce, access_token=tokens.access_token)
    assert info.value.reason == reason


def test_userinfo_about_someone_else_is_refused(civic_sandbox, client):
    request, tokens = login(civic_sandbox, client)
    claims = client.validate_id_token(tokens.id_token, nonce=request.nonce)
    civic_sandbox.inject_fault("oidc.userinfo", "identity_change")
    with pytest.raises(IdentityChanged):
        client.userinfo(tokens.access_token, expected_sub=claims["sub"])


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d", "x" * 20000, None, 42])
def test_garbage_is_malformed_not_a_crash(client, token):
    with pytest.raises(InvalidToken) as info:
        client.validate_id_token(token, nonce="n")
    assert info.value.reason == "malformed"


# -- refresh ----------------------------------------------------------------------------------------------

def test_refresh_keeps_the_identity_and_rotates_the_refresh_token(civic_sandbox, client):
    request, tokens = login(civic_sandbox, client)
    claims = client.validate_id_token(tokens.id_token, nonce=request.nonce)
    refreshed, new_claims = client.refresh(tokens.refresh_token, previous_claims=claims)
    assert new_claims["sub"] == claims["sub"] and refreshed.refresh_token != tokens.refresh_token
    with pytest.raises(ProviderError) as info:
        client.refresh(tokens.refresh_token, previous_claims=claims)  # the rotated-out token
    assert info.value.error == "invalid_grant"
    with pytest.raises(ProviderError):
        client.refresh(refreshed.refresh_token, previous_claims=claims)  # reuse revoked the family


def test_the_same_refreshed_id_token_twice_is_not_a_replay(civic_sandbox, client):
    """Issue 13 item 11: panva's oidc-provider sends no jti, and RS256 is deterministic, so two refreshes
    in one second bring the very same ID token. The sandbox's token endpoint answers both refreshes
    with such a token (a canned 200, as that provider would); both must succeed and the session keep
    its tokens."""
    from django_civic.protocols.civic_auth.session import TokenStore
    from django_civic.protocols.civic_auth.types import TokenResponse

    id_token = civic_sandbox.mint_oidc_token(remove=["jti", "nonce"])
    claims = jwt.decode(id_token, options={"verify_signature": False})
    access = civic_sandbox.mint_oidc_token(type="access")
    body = json.dumps({"access_token": access, "token_type": "Bearer", "expires_in": 300,
                       "id_token": id_token})
    civic_sandbox.inject_fault("oidc.token", "status", count=2, status=200, body=body)
    stores = []
    for _ in range(2):  # two browser tabs of one session, each refreshing an expired access token
        later = [0.0]
        store = TokenStore({}, clock=lambda later=later: time.time() + later[0])
        store.save(TokenResponse.from_json({"access_token": "old", "token_type": "Bearer", "expires_in": 60,
                                            "refresh_token": "r", "id_token": id_token}), claims)
        later[0] = 120  # the stored access token has expired
        assert store.access_token(client) == access
        stores.append(store)
    assert all(store.id_token() == id_token for store in stores)


def test_identity_change_on_refresh_is_refused(civic_sandbox, client):
    request, tokens = login(civic_sandbox, client)
    claims = client.validate_id_token(tokens.id_token, nonce=request.nonce)
    civic_sandbox.inject_fault("oidc.token", "identity_change")
    with pytest.raises(IdentityChanged):
        client.refresh(tokens.refresh_token, previous_claims=claims)


# -- access tokens ----------------------------------------------------------------------------------------

def test_access_tokens_validate_locally(civic_sandbox, client):
    token = civic_sandbox.mint_oidc_token(type="access", persona="carol")
    assert client.validate_access_token(token)["sub"] == civic_sandbox.oidc_subject("carol")


def test_an_id_token_is_not_an_access_token(civic_sandbox, client):
    with pytest.raises(InvalidToken) as info:
        client.validate_access_token(civic_sandbox.mint_oidc_token(nonce="n"))
    assert info.value.reason == "not_an_access_token"


def test_an_access_token_of_another_client_is_refused(civic_sandbox, client):
    token = civic_sandbox.mint_oidc_token(type="access", client_id="another-client")
    with pytest.raises(InvalidToken) as info:
        client.validate_access_token(token)
    assert info.value.reason == "wrong_audience"
    token = civic_sandbox.mint_oidc_token(type="access", claims={"aud": "https://api.example.com"})
    claims = client.validate_access_token(token, audience="https://api.example.com")
    assert claims["aud"] == "https://api.example.com"
    with pytest.raises(InvalidToken):
        client.validate_access_token(token, audience="https://other.example.com")


# -- client credentials and logout --------------------------------------------------------------------------

def test_client_credentials(civic_sandbox, client):
    tokens = client.client_credentials()
    assert client.validate_access_token(tokens.access_token)["sub"] == civic_sandbox.oidc_client_id


def test_end_session_url_returns_to_the_site(civic_sandbox, client):
    request, tokens = login(civic_sandbox, client)
    url = client.end_session_url(id_token_hint=tokens.id_token,
                                 post_logout_redirect_uri="http://localhost:8000/", state="s1")
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 302 and response.headers["Location"] == "http://localhost:8000/?state=s1"
