"""The sandbox's A6 checks as pure functions at a chosen instant, and Civic's recorded header against them."""

from __future__ import annotations

import json

import pytest
import requests

from django_civic.protocols.sip.crypto import generate_key_pair, load_private_key, load_public_key
from django_civic.protocols.sip.tokens import auth_code
from django_civic.sandbox.sip import exchange
from django_civic.sandbox.sip.authorizer import (
    BadAuthCode,
    Unauthorized,
    accepted_audiences,
    authorize,
    check_auth_code,
    ext_matches,
    split_credential,
)
from django_civic.sandbox.sip.state import App

from .test_sip_vectors import A74_APP_ID, A74_BODY, A74_HEADER, A74_IAT, A74_PUBLIC_KEY, A74_SECRET

A74_APP = App(A74_APP_ID, A74_SECRET, load_public_key(A74_PUBLIC_KEY))
CIVIC_AUDIENCES = accepted_audiences("http://sandbox.test/sip/")
A74_BODY_BYTES = A74_BODY.encode()


def _authorize(header=A74_HEADER, body=A74_BODY_BYTES, *, now=A74_IAT + 30, app=A74_APP):
    return authorize(header, body, get_app={app.app_id: app}.get, audiences=CIVIC_AUDIENCES, now=now)


def test_the_recorded_partner_header_is_accepted_at_its_time():
    assert _authorize() is A74_APP


@pytest.mark.parametrize("offset", [-60, 0, 70, 70 + 60])
def test_the_recorded_header_is_accepted_within_its_lifetime_and_grace(offset):
    assert _authorize(now=A74_IAT + offset) is A74_APP


@pytest.mark.parametrize(("offset", "reason"), [(70 + 61, "expired"), (-61, "future")])
def test_the_recorded_header_is_refused_outside_its_lifetime(offset, reason):
    with pytest.raises(Unauthorized, match=reason):
        _authorize(now=A74_IAT + offset)


def test_the_recorded_header_is_refused_for_another_body_secret_or_key():
    with pytest.raises(Unauthorized, match="ext"):
        _authorize(body=A74_BODY.replace("eyJh", "eyJi", 1).encode())
    with pytest.raises(Unauthorized, match="ext"):
        _authorize(app=App(A74_APP_ID, A74_SECRET.lower(), A74_APP.public_key))
    with pytest.raises(Unauthorized, match="signature"):
        _authorize(app=App(A74_APP_ID, A74_SECRET, load_public_key(generate_key_pair()[1])))


def test_the_recorded_header_is_refused_when_its_app_is_not_registered():
    with pytest.raises(Unauthorized, match="no app"):
        authorize(A74_HEADER, A74_BODY.encode(), get_app=lambda _: None, audiences=CIVIC_AUDIENCES,
                  now=A74_IAT)


def test_the_recorded_header_is_refused_when_only_the_sandbox_url_is_an_accepted_audience():
    with pytest.raises(Unauthorized, match="aud"):
        authorize(A74_HEADER, A74_BODY.encode(), get_app={A74_APP_ID: A74_APP}.get,
                  audiences={"http://sandbox.test/sip/"}, now=A74_IAT + 30)


def test_the_recorded_header_passes_the_sandbox_when_its_clock_is_set_back(civic_sandbox, monkeypatch):
    civic_sandbox.register_sip_app(A74_APP_ID, A74_SECRET, A74_PUBLIC_KEY)
    url = civic_sandbox.sip_exchange_url()
    headers = {"Authorization": A74_HEADER, "Content-Type": "application/json"}

    today = requests.post(url, data=A74_BODY, headers=headers, timeout=10)
    assert today.status_code == 401 and "expired" in today.headers["X-Sandbox-Reason"]

    monkeypatch.setattr(exchange, "now", lambda: A74_IAT + 30)
    then = requests.post(url, data=A74_BODY, headers=headers, timeout=10)
    # The header is accepted; the body's auth code is refused because the sandbox did not sign it.
    assert then.status_code == 400, then.headers.get("X-Sandbox-Reason")
    assert then.json() == {"message": "Auth token is invalid"}


def test_split_credential_takes_the_ext_after_the_last_dot():
    assert split_credential("Civic h.p.s.e+x/t=") == ("h.p.s", "e+x/t=")
    for header in (None, "", "Civic", "Civic ", "CIVIC h.p.s.e", "Civic h.p.s", "Civic h.p.s.e.f",
                   "Civic .p.s.e"):
        with pytest.raises(Unauthorized):
            split_credential(header)


def test_ext_matches_sorted_or_raw_json_only():
    body = {"authToken": "t", "allowS3UploadedPayload": True}
    wire = json.dumps(body, separators=(",", ":")).encode()
    from django_civic.protocols.sip.crypto import civic_ext, hmac_base64

    assert ext_matches(civic_ext(body, A74_SECRET), wire, A74_SECRET)
    assert ext_matches(hmac_base64(wire, A74_SECRET), wire, A74_SECRET)
    spaced = json.dumps(body).encode()
    assert not ext_matches(hmac_base64(spaced, A74_SECRET), wire, A74_SECRET)
    assert not ext_matches("é" + civic_ext(body, A74_SECRET)[1:], wire, A74_SECRET)


def test_accepted_audiences():
    assert accepted_audiences("http://127.0.0.1:9/civic-sandbox/sip/") == {
        "https://api.civic.com/sip/", "https://api.civic.com/sip",
        "http://127.0.0.1:9/civic-sandbox/sip/", "http://127.0.0.1:9/civic-sandbox/sip",
    }


def test_check_auth_code_enforces_key_issuer_app_and_expiry():
    civic_private = load_private_key(generate_key_pair()[0])
    civic_public = civic_private.public_key()
    now = 1_700_000_000.0
    token = auth_code("app", civic_private, "http://sandbox.test/sip/", code_token="ct", now=now)
    assert check_auth_code(token, civic_public, "app", now=now + 1800) == "ct"
    with pytest.raises(BadAuthCode, match="expired"):
        check_auth_code(token, civic_public, "app", now=now + 1800 + 61)
    with pytest.raises(BadAuthCode, match="another app"):
        check_auth_code(token, civic_public, "other", now=now)
    with pytest.raises(BadAuthCode, match="invalid"):
        check_auth_code(token, load_public_key(generate_key_pair()[1]), "app", now=now)
