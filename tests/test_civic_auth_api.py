"""``POST civic/auth/nonce/`` and ``POST civic/auth/token/``: ID-token login for SPAs and mobile apps."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from django_civic.models import CivicIdentity
from django_civic.protocols.civic_auth import MemoryCache, OIDCClient

pytestmark = pytest.mark.django_db

NONCE = "/civic/auth/nonce/"
TOKEN = "/civic/auth/token/"


def new_nonce(client) -> dict:
    response = client.post(NONCE)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    return response.json()


def post(client, body):
    return client.post(TOKEN, body, content_type="application/json")


def test_nonce_then_id_token_logs_in(civic, client):
    issued = new_nonce(client)
    assert set(issued) == {"nonce_id", "nonce", "expires_in"} and issued["nonce_id"] != issued["nonce"]
    id_token = civic.mint_oidc_token(persona="carol", nonce=issued["nonce"])
    response = post(client, {"id_token": id_token, "nonce_id": issued["nonce_id"], "next": "/profile/"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["login_mode"] == "session" and body["user_created"] is True and body["next"] == "/profile/"
    assert body["civic_user_id"] == civic.oidc_subject("carol")
    assert {"label": "contact.personal.email", "value": "carol@example.net", "is_valid": True,
            "is_owner": True} in body["attributes"]
    assert client.session["_auth_user_id"] == str(body["user"]["id"])
    assert CivicIdentity.objects.get().provider == civic.oidc_issuer


def test_the_real_flow_of_an_spa(civic, client):
    """The app runs the authorization request itself with our nonce, then posts the ID token."""
    issued = new_nonce(client)
    spa = OIDCClient(civic.oidc_issuer, civic.oidc_client_id, civic.oidc_client_secret, cache=MemoryCache())
    request = spa.authorization_request(redirect_uri="http://localhost:3000/cb", nonce=issued["nonce"])
    code = civic.oidc_approve(request.url, "alice")["code"]
    tokens = spa.exchange_code(code, redirect_uri="http://localhost:3000/cb",
                               code_verifier=request.code_verifier)
    response = post(client, {"id_token": tokens.id_token, "nonce_id": issued["nonce_id"],
                             "access_token": tokens.access_token})
    assert response.status_code == 200, response.content
    assert response.json()["civic_user_id"] == civic.oidc_subject("alice")


def test_a_nonce_works_once(civic, client):
    issued = new_nonce(client)
    id_token = civic.mint_oidc_token(nonce=issued["nonce"])
    assert post(client, {"id_token": id_token, "nonce_id": issued["nonce_id"]}).status_code == 200
    again = post(Client(), {"id_token": id_token, "nonce_id": issued["nonce_id"]})
    assert again.status_code == 400 and again.json()["error"] == "nonce_invalid"


def test_concurrent_requests_with_one_nonce_log_in_once(civic, transactional_db):
    issued = new_nonce(Client())
    id_token = civic.mint_oidc_token(nonce=issued["nonce"])
    statuses, barrier = [], threading.Barrier(4)

    def attempt():
        barrier.wait()
        try:
            response = post(Client(), {"id_token": id_token, "nonce_id": issued["nonce_id"]})
            statuses.append(response.status_code)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 400, 400, 400]


def test_a_token_with_another_nonce_is_refused(civic, client):
    issued = new_nonce(client)
    response = post(client, {"id_token": civic.mint_oidc_token(nonce="chosen-by-the-client"),
                             "nonce_id": issued["nonce_id"]})
    assert response.status_code == 400 and response.json()["error"] == "invalid_token"
    assert "_auth_user_id" not in client.session and get_user_model().objects.count() == 0


def test_a_nonce_id_we_never_issued_is_refused(civic, client):
    response = post(client, {"id_token": civic.mint_oidc_token(nonce="n"), "nonce_id": "n"})
    assert response.status_code == 400 and response.json()["error"] == "nonce_invalid"


def test_a_replayed_id_token_is_refused_even_with_a_fresh_nonce_entry(civic, client, settings):
    """The jti is consumed too: the same token cannot log in twice, whatever the nonce store says."""
    issued = new_nonce(client)
    id_token = civic.mint_oidc_token(nonce=issued["nonce"])
    assert post(client, {"id_token": id_token, "nonce_id": issued["nonce_id"]}).status_code == 200
    # Put the same nonce back under a new id, as if the store had been tampered with.
    from django_civic.civic_auth.api import _nonce_key

    caches["default"].set(_nonce_key("again"), issued["nonce"], 60)
    response = post(Client(), {"id_token": id_token, "nonce_id": "again"})
    assert response.status_code == 400 and response.json()["error"] == "token_replayed"


@pytest.mark.parametrize("claims,fault", [
    ({"aud": "another-client"}, None), ({"iss": "https://auth.civic.com/oauth/"}, None),
    ({"exp": 1000, "iat": 900}, None), (None, "bad_signature"), (None, "alg_none"), (None, "unknown_kid"),
])
def test_invalid_id_tokens_are_refused_and_change_nothing(civic, client, claims, fault):
    issued = new_nonce(client)
    token = civic.mint_oidc_token(nonce=issued["nonce"], claims=claims, fault=fault)
    response = post(client, {"id_token": token, "nonce_id": issued["nonce_id"]})
    assert response.status_code == 400 and response.json()["error"] == "invalid_token"
    assert set(response.json()) == {"error", "detail"}
    assert get_user_model().objects.count() == 0 and CivicIdentity.objects.count() == 0


def test_an_access_token_is_not_an_id_token(civic, client):
    """Issue 13 item 7, the other direction: an access token carrying our nonce is still no ID token."""
    issued = new_nonce(client)
    token = civic.mint_oidc_token(type="access", claims={"nonce": issued["nonce"]})
    response = post(client, {"id_token": token, "nonce_id": issued["nonce_id"]})
    assert response.status_code == 400 and response.json()["error"] == "invalid_token"
    assert get_user_model().objects.count() == 0 and CivicIdentity.objects.count() == 0


ILL_FORMED = [
    {"exp": 10 ** 400}, {"iat": 10 ** 400}, {"nbf": 10 ** 400}, {"exp": 1e300}, {"auth_time": 10 ** 400},
    {"nonce": "\ud800"}, {"sub": "\ud800"}, {"email": "\udfff@example.com", "email_verified": True},
    {"name": "\ud800"}, {"at_hash": "\u00e9\u00e9\u00e9"}, {"at_hash": "\ud800"}, {"jti": "\ud800"},
    {"azp": "\ud800"},
]


@pytest.mark.parametrize("claims", ILL_FORMED)
def test_provider_signed_ill_formed_claims_are_400_never_500(civic, client, claims, record_figure):
    """Issue 13 item 8: tokens signed with the provider's own key, with out-of-range times, lone
    surrogates or a non-ASCII at_hash, were a 500 here. Each is a 400 that writes nothing."""
    issued = new_nonce(client)
    access = civic.mint_oidc_token(type="access")
    token = civic.mint_oidc_token(nonce=issued["nonce"], access_token=access, claims=claims)
    response = post(client, {"id_token": token, "nonce_id": issued["nonce_id"], "access_token": access})
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_token"
    assert get_user_model().objects.count() == 0 and CivicIdentity.objects.count() == 0


# JSON (and so the sandbox's control API) has no NaN or Infinity.
_CLAIM_VALUES = st.one_of(
    st.integers(min_value=-(10 ** 500), max_value=10 ** 500),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(codec=None), max_size=12), st.booleans(), st.none(),
    st.lists(st.text(max_size=4), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def test_any_claim_value_signed_by_the_provider_is_a_4xx(civic, record_figure):
    """Hypothesis over claim values (any size of number, any Unicode including lone surrogates, any
    type) in the claims an ID token is judged by: never a 5xx, never a login with a broken claim."""
    statuses: dict[int, int] = {}

    @hypothesis_settings(max_examples=60, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(name=st.sampled_from(["exp", "iat", "nbf", "auth_time", "sub", "nonce", "at_hash", "aud", "azp",
                                 "iss", "jti", "email", "email_verified", "name"]),
           value=_CLAIM_VALUES)
    def attack(name, value):
        web = Client()
        issued = new_nonce(web)
        access = civic.mint_oidc_token(type="access")
        minted = civic.control("POST", "oidc/tokens",
                               {"type": "id", "persona": "alice", "nonce": issued["nonce"],
                                "access_token": access, "claims": {name: value}},
                               expect=(201, 400))
        assume("token" in minted)  # PyJWT itself refuses to sign a few (an iss that is not a string)
        token = minted["token"]
        response = post(web, {"id_token": token, "nonce_id": issued["nonce_id"], "access_token": access})
        assert response.status_code < 500, (name, response.content)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    attack()
    record_figure("hostile_input.civic_auth_token.signed_claims", cases=sum(statuses.values()),
                  statuses={str(k): v for k, v in sorted(statuses.items())}, server_errors=0)


@pytest.mark.parametrize("body", ['{"sub": "\\ud800"}', '{"sub": "x", "name": "\\udfff"}', "[" * 100_000])
def test_a_userinfo_answer_that_is_no_utf8_text_is_a_502_never_a_500(civic, client, body):
    """Same class as issue 13 item 8, unsigned: Civic's userinfo answering a lone surrogate or deep nesting
    is a bad answer from Civic (502), and nothing is written."""
    issued = new_nonce(client)
    access = civic.mint_oidc_token(type="access")
    token = civic.mint_oidc_token(nonce=issued["nonce"], access_token=access)
    civic.inject_fault("oidc.userinfo", "status", status=200, body=body)
    response = post(client, {"id_token": token, "nonce_id": issued["nonce_id"], "access_token": access})
    assert response.status_code == 502, response.content
    assert get_user_model().objects.count() == 0 and CivicIdentity.objects.count() == 0


def test_an_access_token_of_another_login_fails_at_hash(civic, client):
    issued = new_nonce(client)
    access = civic.mint_oidc_token(type="access")
    token = civic.mint_oidc_token(nonce=issued["nonce"], access_token=civic.mint_oidc_token(type="access"))
    response = post(client, {"id_token": token, "nonce_id": issued["nonce_id"], "access_token": access})
    assert response.status_code == 400 and response.json()["error"] == "invalid_token"


def test_token_mode_sets_no_cookie(civic, client, settings):
    settings.CIVIC = {**settings.CIVIC, "API": {"LOGIN_MODE": "token", "THROTTLE_RATE": None}}
    issued = new_nonce(client)
    response = post(client, {"id_token": civic.mint_oidc_token(nonce=issued["nonce"]),
                         "nonce_id": issued["nonce_id"]})
    assert response.status_code == 200 and response.json()["token"]
    assert "sessionid" not in response.cookies


def test_session_mode_needs_the_csrf_token(civic):
    strict = Client(enforce_csrf_checks=True)
    issued = new_nonce(strict)
    response = post(strict, {"id_token": civic.mint_oidc_token(nonce=issued["nonce"]),
                         "nonce_id": issued["nonce_id"]})
    assert response.status_code == 403 and response.json()["error"] == "csrf_failed"
    assert get_user_model().objects.count() == 0


def test_signup_closed_is_a_clear_403(civic, client, settings):
    settings.CIVIC = {**settings.CIVIC, "SIGNUP_OPEN": False}
    issued = new_nonce(client)
    response = post(client, {"id_token": civic.mint_oidc_token(nonce=issued["nonce"]),
                         "nonce_id": issued["nonce_id"]})
    assert response.status_code == 403 and response.json()["error"] == "signup_closed"


def test_provider_down_is_a_retryable_503(civic, client):
    issued = new_nonce(client)
    token = civic.mint_oidc_token(nonce=issued["nonce"])
    civic.inject_fault("oidc.discovery", "status", status=500)
    response = post(client, {"id_token": token, "nonce_id": issued["nonce_id"]})
    assert response.status_code == 503 and response.json()["retryable"] is True


def test_cache_down_fails_closed(civic, client, settings):
    settings.CACHES = {**settings.CACHES, "broken": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2}}}
    settings.CIVIC = {**settings.CIVIC, "CACHE_ALIAS": "broken"}
    response = client.post(NONCE)
    assert response.status_code == 503 and response.json()["error"] == "replay_check_unavailable"
    response = post(client, {"id_token": civic.mint_oidc_token(nonce="n"), "nonce_id": "x"})
    assert response.status_code == 503 and response.json()["error"] == "replay_check_unavailable"


@pytest.mark.parametrize("body", [
    {}, {"id_token": "x"}, {"nonce_id": "x"}, {"id_token": 5, "nonce_id": "x"},
    {"id_token": "not a jwt", "nonce_id": "x"},
    {"id_token": "a.b.c", "nonce_id": ["x"]}, {"id_token": "a" * 20000, "nonce_id": "x"}, [], "text",
])
def test_bad_bodies_are_4xx_json(civic, client, body):
    response = post(client, body)
    assert 400 <= response.status_code < 500
    assert set(response.json()) >= {"error", "detail"}


@hypothesis_settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=40),
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                             st.sampled_from(["id_token", "nonce_id", "access_token", "next", "x"]), inner,
                             max_size=4), max_leaves=8))
def test_any_json_body_is_a_4xx_never_a_500(civic, client, body):
    response = post(client, body)
    assert 400 <= response.status_code < 500, response.content
    assert "error" in response.json()


def test_get_is_not_allowed(civic, client):
    assert client.get(TOKEN).status_code == 405 and client.get(NONCE).status_code == 405
