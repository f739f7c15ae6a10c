"""Hostile input on Civic Auth: ``POST civic/auth/token/`` (bodies, headers, forged ID tokens) and the
redirect flow's ``GET civic/auth/callback/`` (hostile query strings), with hypothesis.

The token endpoint answers JSON: every case is a 4xx ``{"error", "detail"}``. The callback answers HTML by
design (a retry page, docs/civic-auth.md): every case is the documented page (200 for a state that does not
match, 400 for a refused code or issuer) with its ``data-error-code``, never a 500. Neither writes anything
or logs anybody in. Each test ends with a genuine login through the same path, so the setup is known to
accept what it should.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from urllib.parse import quote, urlencode, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.core.cache import caches
from django.test import Client
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from django_civic.sandbox.idemia.testing import RecordingServer

from .hostile import (
    CONTENT_TYPES,
    EXAMPLES,
    HOSTILE_META,
    assert_json_error,
    db_rows,
    forgeries,
    latin1,
    logged_in_user_ids,
    raw_bodies,
)

pytestmark = pytest.mark.django_db
NONCE = "/civic/auth/nonce/"
TOKEN = "/civic/auth/token/"
LOGIN = "/civic/auth/login/"
CALLBACK = "/civic/auth/callback/"
# The callback's documented refusals (docs/civic-auth.md, "Error pages"), with their status.
CALLBACK_REFUSALS = {"state_mismatch": 200, "access_denied": 200, "provider_error": 400, "invalid_token": 400,
                     "token_replayed": 400, "identity_changed": 400}
ERROR_CODE = re.compile(rb'data-error-code="([a-z_]+)"')


@pytest.fixture
def civic(settings, civic_sandbox):
    caches["default"].clear()
    # A long cooldown: the figure below counts every JWKS fetch that forged key ids could provoke.
    settings.CIVIC = civic_sandbox.civic_settings(
        SANDBOX_ALLOW_WITHOUT_DEBUG=True, API={"THROTTLE_RATE": None}, AUTH={"JWKS_REFETCH_COOLDOWN": 3600})
    return civic_sandbox


def new_nonce(client) -> dict:
    response = client.post(NONCE)
    assert response.status_code == 200, response.content
    return response.json()


def provider_public_keys(civic) -> list[bytes]:
    """The provider's RSA key as an attacker would feed it to HMAC: PEM, DER, and the JWK as JSON."""
    jwks = civic.http.get(f"{civic.oidc_issuer}jwks", timeout=10).json()
    jwk = jwks["keys"][0]
    key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))
    return [
        key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        json.dumps(jwk).encode(),
    ]


# -- civic/auth/token/ ----------------------------------------------------------------------------------


def test_any_body_content_type_and_headers_get_a_4xx_json_error(civic, record_figure):
    tried: Counter[str] = Counter()
    client = Client()
    issued = new_nonce(client)
    before = db_rows()
    keys = ["id_token", "nonce_id", "access_token", "next"]

    @hsettings(max_examples=100, **EXAMPLES)
    @given(body=st.one_of(raw_bodies(keys), st.fixed_dictionaries(
               {"id_token": st.text(max_size=60) | st.just("a.b.c"), "nonce_id": st.just(issued["nonce_id"])},
               optional={"access_token": st.text(max_size=20), "next": st.text(max_size=20)},
           ).map(lambda value: json.dumps(value).encode())),
           content_type=CONTENT_TYPES, meta=HOSTILE_META,
           method=st.sampled_from(["POST"] * 6 + ["PUT", "PATCH", "DELETE", "GET"]))
    def attack(body, content_type, meta, method):
        response = client.generic(method, TOKEN, body, content_type=content_type, **latin1(meta))
        tried[assert_json_error(response)["error"]] += 1
        assert db_rows() == before

    attack()
    assert logged_in_user_ids() == set()
    record_figure("hostile_input.civic_auth_token.bodies", cases=sum(tried.values()), errors=dict(tried),
                  server_errors=0, rows_written=0)


def test_forged_id_tokens_are_refused(civic, record_figure):
    """Genuine ID tokens, bound to a nonce we issued, broken every way: alg none, HS256 keyed with the
    provider's public key, kid injection, jku/x5u/jwk headers, swapped and mangled signatures, edited
    claims."""
    tried: Counter[str] = Counter()
    client = Client()
    before = db_rows()
    public_keys = provider_public_keys(civic)
    civic.clear_oidc_stats()
    current: dict[str, str] = {}

    def genuine() -> str:
        current.update(new_nonce(client))
        return civic.mint_oidc_token(persona="carol", nonce=current["nonce"])

    def other() -> str:
        return civic.mint_oidc_token(persona="alice", nonce=current["nonce"])

    with RecordingServer() as attacker:
        @hsettings(max_examples=80, **EXAMPLES)
        @given(forged=forgeries(genuine, other, public_keys, attacker.url))
        def attack(forged):
            kind, token = forged
            response = client.post(TOKEN, {"id_token": token, "nonce_id": current["nonce_id"]},
                                   content_type="application/json")
            # A token too long for the field is "invalid"; every other forgery is "invalid_token".
            body = assert_json_error(response, codes={"invalid_token", "invalid"})
            assert token not in json.dumps(body)
            assert db_rows() == before
            tried[kind] += 1

        attack()
        assert attacker.requests == []
    jwks_fetches = civic.oidc_stats().get("jwks", 0)
    # One fetch for the first token, at most one more for all the unknown kids (the refetch cooldown).
    assert jwks_fetches <= 2
    assert logged_in_user_ids() == set()
    record_figure("hostile_input.civic_auth_token.forged_id_tokens", cases=sum(tried.values()),
                  kinds=dict(tried), accepted=0, rows_written=0, jwks_fetches=jwks_fetches)

    # The same client, a genuine token: accepted (the refusals above were not the setup refusing everything).
    token = genuine()
    response = client.post(TOKEN, {"id_token": token, "nonce_id": current["nonce_id"]},
                           content_type="application/json")
    assert response.status_code == 200, response.content


# -- civic/auth/callback/ -------------------------------------------------------------------------------

# Query values that have broken callback handlers elsewhere: huge, encoded, control characters, arrays.
HOSTILE_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\x00", "%00", "%ff%fe", "a" * 10_000, "https://evil.example/", "null", "[]",
                     "{\"$ne\": null}", "access_denied", "' OR 1=1 --", "../../", "\r\nSet-Cookie: x=1"]),
)


def start_login(client) -> str:
    """POST the login form; return the state of the pending login Civic would send back."""
    response = client.post(LOGIN, {"next": "/profile/"})
    assert response.status_code == 302, response.content[:300]
    query = dict(pair.split("=", 1) for pair in urlsplit(response["Location"]).query.split("&"))
    return query["state"]


def test_hostile_callback_queries_get_the_documented_page(civic, record_figure):
    tried: Counter[str] = Counter()
    browser = Client(SERVER_NAME="localhost")  # the sandbox's default client accepts localhost redirects

    @hsettings(max_examples=70, **EXAMPLES)
    @given(use_state=st.sampled_from(["genuine", "hostile", "missing", "twice"]),
           state=HOSTILE_VALUES, params=st.dictionaries(
               st.sampled_from(["code", "iss", "error", "error_description", "session_state", "state"]),
               HOSTILE_VALUES, max_size=4),
           repeat=st.integers(0, 3), raw_tail=st.sampled_from(["", "&code=%ff%fe%fd", "&state=%C0%AF",
                                                               "&" + "x=1&" * 1200, "&code[]=1&code[]=2"]),
           meta=HOSTILE_META)
    def attack(use_state, state, params, repeat, raw_tail, meta):
        genuine = start_login(browser)
        before = db_rows()
        query = [(name, value) for name, value in params.items() if name != "state"]
        if use_state == "genuine":
            query.append(("state", genuine))
        elif use_state == "hostile":
            query.append(("state", state))
        elif use_state == "twice":
            query += [("state", state), ("state", genuine)]
        query += query[:1] * repeat
        url = f"{CALLBACK}?{urlencode(query, quote_via=quote)}{raw_tail}"
        # (Not the Cookie header: without the session cookie every state is foreign; "missing" covers it.)
        response = browser.get(url, **latin1({k: v for k, v in meta.items() if k != "HTTP_COOKIE"}))
        assert response.status_code != 500
        if raw_tail.startswith("&x=1"):
            # Over DATA_UPLOAD_MAX_NUMBER_FIELDS: Django refuses the request itself (400) before any view.
            assert response.status_code == 400
            tried["too_many_fields"] += 1
        else:
            found = ERROR_CODE.search(response.content)
            assert found, (response.status_code, response.content[:300])
            code = found.group(1).decode()
            assert code in CALLBACK_REFUSALS, code
            assert response.status_code == CALLBACK_REFUSALS[code]
            tried[code] += 1
        assert db_rows() == before
        assert logged_in_user_ids() == set()

    attack()
    record_figure("hostile_input.civic_auth_callback.queries", cases=sum(tried.values()), pages=dict(tried),
                  server_errors=0, rows_written=0, logins=0)

    # A genuine round trip through the same browser still logs in.
    approved = civic.oidc_approve(browser.post(LOGIN, {"next": "/profile/"})["Location"], "alice")
    parts = urlsplit(approved["redirect"])
    response = browser.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 302 and response["Location"] == "/profile/"
    assert logged_in_user_ids() != set()


# -- the access token sent beside the ID token ----------------------------------------------------------

@pytest.mark.parametrize("with_at_hash", [True, False], ids=["bound", "unbound"])
@pytest.mark.parametrize("access_token", ["\u20ac", "\u00e9t\u00e9", "a\r\nX-Injected: 1", "a b", "abc",
                                          "\x7f"])
def test_an_access_token_that_is_not_one_is_a_400(civic, access_token, with_at_hash):
    """Found by these tests: a non-ASCII access token beside a valid ID token was a 500 (at_hash hashed it as
    ASCII; the userinfo header could not be encoded), a header-breaking one a 503, and one that userinfo
    refused a 502. The API now refuses what is not an RFC 6750 token, and a refusal by userinfo is the
    token's fault (400 invalid_token), not Civic's."""
    client = Client()
    issued = new_nonce(client)
    bound_to = civic.mint_oidc_token(type="access") if with_at_hash else None
    id_token = civic.mint_oidc_token(persona="carol", nonce=issued["nonce"], access_token=bound_to)
    before = db_rows()
    body = {"id_token": id_token, "nonce_id": issued["nonce_id"], "access_token": access_token}
    response = client.post(TOKEN, body, content_type="application/json")
    assert_json_error(response, codes={"invalid", "invalid_token"})
    assert response.status_code == 400
    assert db_rows() == before and logged_in_user_ids() == set()


def test_the_validator_refuses_a_non_ascii_access_token_itself(civic):
    # The same rule one level down, for code that calls the protocol client directly.
    from django_civic.civic_auth.client import get_oidc_client
    from django_civic.protocols.civic_auth import InvalidToken

    token = civic.mint_oidc_token(nonce="n", access_token=civic.mint_oidc_token(type="access"))
    with pytest.raises(InvalidToken) as info:
        get_oidc_client().validate_id_token(token, nonce="n", access_token="\u00e9t\u00e9")
    assert info.value.reason == "at_hash_mismatch"
