"""Property-based tests: malformed tokens end in SIPError; the sandbox answers garbage with a 4xx."""

from __future__ import annotations

import json
import string

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_civic.protocols.sip.crypto import (
    b64url_encode,
    compact_json,
    hmac_base64,
    load_private_key,
)
from django_civic.sandbox import defaults
from django_civic.sandbox.testing import SandboxHandle
from django_civic.sip import SIPError

from .hostile import es256_raw

SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
PARTNER_KEY = load_private_key(defaults.SIP_APP_PRIVATE_KEY)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
b64_segment = st.text(alphabet=string.ascii_letters + string.digits + "-_", max_size=60)
jwt_like = st.builds(lambda a, b, c: f"{a}.{b}.{c}", b64_segment, b64_segment, b64_segment)


def _json_segment(value) -> str:
    return b64url_encode(json.dumps(value).encode())


json_jwt = st.builds(lambda head, claims, sig: f"{_json_segment(head)}.{_json_segment(claims)}.{sig}",
                     json_values, json_values, b64_segment)
any_token = st.one_of(st.text(), st.binary(), jwt_like, json_jwt, st.none(), st.integers(), json_values)


@pytest.fixture(scope="module")
def sandbox(civic_sandbox_server):
    handle = SandboxHandle(civic_sandbox_server)
    yield handle
    handle.reset()
    handle.http.close()


@pytest.fixture(scope="module")
def client(sandbox):
    return sandbox.sip_client(timeout=5)


@SETTINGS
@given(token=any_token)
def test_any_auth_token_ends_in_a_sip_error(client, token):
    with pytest.raises(SIPError):
        client.exchange_code(token)


@SETTINGS
@given(token=st.one_of(st.text(max_size=300), jwt_like, json_jwt, st.binary(max_size=50)))
def test_any_auth_token_sent_past_the_local_check_ends_in_a_sip_error(client, token):
    # claims={} skips the local pre-check, so the sandbox judges the token (or the client refuses to send it).
    with pytest.raises(SIPError):
        client.exchange_code(token, claims={})


# Any Latin-1 text requests agrees to send (it refuses line breaks and leading whitespace itself).
header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=200).filter(
    lambda text: not text or not text[0].isspace())
civic_header = st.builds(lambda parts: "Civic " + ".".join(parts), st.lists(b64_segment, max_size=6))


@SETTINGS
@given(body=st.binary(max_size=2000), authorization=st.one_of(st.none(), header_text, civic_header))
def test_garbage_headers_and_bodies_get_a_4xx(sandbox, body, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = requests.post(sandbox.sip_exchange_url(), data=body, headers=headers, timeout=10)
    assert 400 <= response.status_code < 500, response.status_code


@SETTINGS
@given(body=st.one_of(st.binary(max_size=2000), json_values.map(lambda v: compact_json(v).encode())))
def test_garbage_bodies_with_valid_credentials_get_a_4xx(sandbox, body):
    response = sandbox.sip_post(body)
    assert 400 <= response.status_code < 500, response.status_code
    assert response.status_code != 401  # the credentials were good: the body was judged


@SETTINGS
@given(claims=st.dictionaries(st.sampled_from(["iss", "sub", "aud", "iat", "exp", "nbf", "data", "jti"]),
                              json_values, max_size=8),
       header=st.dictionaries(st.sampled_from(["alg", "typ", "kid", "crit"]), json_values, max_size=4))
def test_partner_tokens_with_any_claims_get_a_4xx(sandbox, claims, header):
    body = b'{"authToken":"x"}'
    token = es256_raw({"alg": "ES256", **header}, claims, PARTNER_KEY)
    authorization = f"Civic {token}.{hmac_base64(body, defaults.SIP_APP_SECRET)}"
    response = requests.post(sandbox.sip_exchange_url(), data=body, headers={"Authorization": authorization},
                             timeout=10)
    assert 400 <= response.status_code < 500, response.status_code


@SETTINGS
@given(body=json_values)
def test_control_endpoints_answer_any_json_with_a_4xx_or_success(sandbox, body):
    for path in ("control/sip/apps", "control/sip/codes", "sip/wallet/preview", "sip/wallet/approve"):
        response = requests.post(f"{sandbox.url}{path}", json=body, timeout=10)
        assert response.status_code < 500, (path, response.status_code)
