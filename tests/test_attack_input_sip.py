"""Hostile input on ``POST civic/sip/exchange/``: bodies, headers and forged auth codes (hypothesis).

Every case must end in a 4xx JSON error and write nothing, and no forged code may cost a call to Civic:
1000 faults are queued on the sandbox's exchange channel as a tripwire (a call that got through would be
answered 500, so it would show as a 502 here, and the queue would be shorter at the end). The last step
lifts the tripwire and logs in with a genuine code, so the setup is known to accept what it should.
tests/test_api_errors.py holds the fixed cases; this file adds the attacks built from genuine codes.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.cache import caches
from django.test import Client
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from django_civic.protocols.sip.crypto import load_public_key
from django_civic.sandbox import defaults
from django_civic.sandbox.idemia.testing import RecordingServer

from .hostile import (
    CONTENT_TYPES,
    EXAMPLES,
    HOSTILE_META,
    assert_json_error,
    db_rows,
    forgeries,
    latin1,
    raw_bodies,
)

pytestmark = pytest.mark.django_db
URL = "/civic/sip/exchange/"
TRIPWIRE = 1000


@pytest.fixture
def sandbox(settings, civic_sandbox):
    caches["default"].clear()
    settings.CIVIC = civic_sandbox.civic_settings(SANDBOX_ALLOW_WITHOUT_DEBUG=True,
                                                  API={"THROTTLE_RATE": None})
    civic_sandbox.inject_fault("sip.exchange", "status", count=TRIPWIRE, status=500)
    return civic_sandbox


def tripwire_left(sandbox) -> int:
    return len(sandbox.control("GET", "faults")["pending"].get("sip.exchange", []))


def civic_public_keys() -> list[bytes]:
    """Civic's verification key in every form an attacker might use as an HMAC secret."""
    key = load_public_key(defaults.SIP_CIVIC_PUBLIC_KEY)
    return [
        defaults.SIP_CIVIC_PUBLIC_KEY.encode(),
        bytes.fromhex(defaults.SIP_CIVIC_PUBLIC_KEY),
        key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
    ]


def proves_genuine_login_still_works(sandbox, client) -> None:
    sandbox.clear_faults()
    code = sandbox.mint_code("alice")["authToken"]
    response = client.post(URL, {"token": code}, content_type="application/json")
    assert response.status_code == 200, response.content


def test_any_body_content_type_and_headers_get_a_4xx_json_error(sandbox, record_figure):
    tried: Counter[str] = Counter()
    client = Client()
    before = db_rows()

    @hsettings(max_examples=120, **EXAMPLES)
    @given(body=raw_bodies(["token", "scope", "next"]), content_type=CONTENT_TYPES, meta=HOSTILE_META,
           method=st.sampled_from(["POST"] * 6 + ["PUT", "PATCH", "DELETE", "GET"]))
    def attack(body, content_type, meta, method):
        response = client.generic(method, URL, body, content_type=content_type, **latin1(meta))
        tried[assert_json_error(response)["error"]] += 1
        assert db_rows() == before

    attack()
    assert tripwire_left(sandbox) == TRIPWIRE
    record_figure("hostile_input.sip_exchange.bodies", cases=sum(tried.values()), errors=dict(tried),
                  server_errors=0, rows_written=0, civic_calls=0)
    proves_genuine_login_still_works(sandbox, client)


def test_forged_auth_codes_are_refused_before_any_call_to_civic(sandbox, settings, record_figure):
    """alg none, HS256 keyed with Civic's public key, kid and key-URL injection, swapped and mangled
    signatures, edited claims, non-canonical encodings: all built from genuine codes."""
    tried: Counter[str] = Counter()
    client = Client()
    before = db_rows()
    base = dict(settings.CIVIC)

    def genuine() -> str:
        return sandbox.mint_code("alice")["authToken"]

    def other() -> str:
        return sandbox.mint_code("bob")["authToken"]

    with RecordingServer() as attacker:
        @hsettings(max_examples=80, **EXAMPLES)
        @given(forged=forgeries(genuine, other, civic_public_keys(), attacker.url),
               where=st.sampled_from(["body", "bearer", "raw_header"]),
               mode=st.sampled_from(["session", "token", "jwt"]))
        def attack(forged, where, mode):
            kind, token = forged
            settings.CIVIC = {**base, "API": {"THROTTLE_RATE": None, "LOGIN_MODE": mode}}
            if where == "body":
                response = client.post(URL, {"token": token}, content_type="application/json")
            else:
                header = f"Bearer {token}" if where == "bearer" else token
                response = client.post(URL, b"{}", content_type="application/json", HTTP_AUTHORIZATION=header)
            body = assert_json_error(response, codes={"invalid_token", "invalid"})
            assert token not in json.dumps(body)
            assert db_rows() == before
            tried[kind] += 1

        attack()
        assert attacker.requests == []
    assert tripwire_left(sandbox) == TRIPWIRE
    settings.CIVIC = base
    record_figure("hostile_input.sip_exchange.forged_codes", cases=sum(tried.values()), kinds=dict(tried),
                  accepted=0, rows_written=0, civic_calls=0)
    proves_genuine_login_still_works(sandbox, client)
