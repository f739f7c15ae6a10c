"""The SIP part of the sandbox's control API: apps, codes, Civic key, personas, reset."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from django_civic.protocols.sip.crypto import generate_key_pair, load_private_key, public_key_hex
from django_civic.sandbox import defaults
from django_civic.sip import SIPBadRequest, SIPUnauthorized


def post(sandbox, path, body):
    return requests.post(f"{sandbox.url}control/sip/{path}", json=body, timeout=5)


def app_ids(sandbox):
    return {app["appId"] for app in sandbox.control("GET", "sip/apps")["apps"]}


def test_the_default_app_is_registered_at_start(civic_sandbox):
    (app,) = civic_sandbox.control("GET", "sip/apps")["apps"]
    assert app == {"appId": defaults.SIP_APP_ID, "name": "Sandbox app",
                   "publicKey": defaults.SIP_APP_PUBLIC_KEY}
    assert "appSecret" not in json.dumps(app)


def test_civic_key_is_the_documented_default_in_three_forms(civic_sandbox):
    key = civic_sandbox.control("GET", "sip/civic-key")
    assert key["publicKey"] == defaults.SIP_CIVIC_PUBLIC_KEY == civic_sandbox.sip_civic_public_key()
    assert key["pem"].startswith("-----BEGIN PUBLIC KEY-----")
    raw = bytes.fromhex(defaults.SIP_CIVIC_PUBLIC_KEY)
    pad = lambda text: text + "=" * (-len(text) % 4)  # noqa: E731
    assert base64.urlsafe_b64decode(pad(key["jwk"]["x"])) == raw[1:33]
    assert base64.urlsafe_b64decode(pad(key["jwk"]["y"])) == raw[33:]
    # ...and it is the public half of the documented private key.
    assert public_key_hex(load_private_key(defaults.SIP_CIVIC_PRIVATE_KEY)) == defaults.SIP_CIVIC_PUBLIC_KEY


def test_register_and_overwrite_an_app(civic_sandbox):
    first_private, first_public = generate_key_pair()
    second_private, second_public = generate_key_pair()
    secret = "0123456789ABCDEF0123456789ABCDEF"
    response = post(civic_sandbox, "apps",
                    {"appId": "HyhaWO1SG", "appSecret": secret, "publicKey": first_public})
    assert response.status_code == 201 and response.json()["publicKey"] == first_public
    code = civic_sandbox.mint_code(app_id="HyhaWO1SG")["authToken"]
    assert post(civic_sandbox, "apps", {"appId": "HyhaWO1SG", "appSecret": secret,
                                        "publicKey": second_public}).status_code == 201
    # The old key no longer signs for the app; the new one does.
    with pytest.raises(SIPUnauthorized):
        civic_sandbox.sip_client(app_id="HyhaWO1SG", app_secret=secret,
                                 private_key=first_private).exchange_code(code)
    client = civic_sandbox.sip_client(app_id="HyhaWO1SG", app_secret=secret, private_key=second_private)
    assert client.exchange_code(code).email == "alice@example.com"


@pytest.mark.parametrize("body", [
    {},
    {"appId": "", "appSecret": "0" * 32, "publicKey": defaults.SIP_APP_PUBLIC_KEY},
    {"appId": "a b", "appSecret": "0" * 32, "publicKey": defaults.SIP_APP_PUBLIC_KEY},
    {"appId": "x" * 129, "appSecret": "0" * 32, "publicKey": defaults.SIP_APP_PUBLIC_KEY},
    {"appId": "app", "appSecret": "not-hex-" * 4, "publicKey": defaults.SIP_APP_PUBLIC_KEY},
    {"appId": "app", "appSecret": "0" * 30, "publicKey": defaults.SIP_APP_PUBLIC_KEY},
    {"appId": "app", "appSecret": "0" * 32, "publicKey": "04" + "00" * 64},
    {"appId": "app", "appSecret": "0" * 32, "publicKey": defaults.SIP_APP_PRIVATE_KEY},
    {"appId": "app", "appSecret": "0" * 32, "publicKey": 42},
    {"appId": "app", "appSecret": "0" * 32, "publicKey": defaults.SIP_APP_PUBLIC_KEY, "name": ["x"]},
])
def test_bad_app_registrations_are_400_and_change_nothing(civic_sandbox, body):
    response = post(civic_sandbox, "apps", body)
    assert response.status_code == 400 and response.json()["message"]
    assert app_ids(civic_sandbox) == {defaults.SIP_APP_ID}


@pytest.mark.parametrize("body", [b"not json", b"[]", b"[" * 10_000, b'"x"'])
def test_non_object_bodies_are_400(civic_sandbox, body):
    for path in ("apps", "codes"):
        response = requests.post(f"{civic_sandbox.url}control/sip/{path}", data=body, timeout=5)
        assert response.status_code == 400, (path, body[:10])


@pytest.mark.parametrize(("body", "message"), [
    ({"appId": "nobody"}, "not a registered app"),
    ({"persona": "mallory"}, "unknown persona"),
    ({"scope": "EVERYTHING"}, "unknown scope"),
    ({"scope": "PROOF_OF_AGE"}, "does not emulate"),
    ({"scope": "Login"}, "does not emulate"),
    ({"data": [{"value": "no label"}]}, "label"),
    ({"data": [{"label": "x", "value": 5}]}, "value must be a string"),
    ({"data": [{"label": "x", "isValid": "yes"}]}, "isValid"),
    ({"data": "x"}, "list"),
    ({"userId": ""}, "userId"),
    ({"age": -1}, "age"),
    ({"age": True}, "age"),
])
def test_bad_mint_requests_are_400(civic_sandbox, body, message):
    response = post(civic_sandbox, "codes", body)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_scopes_are_accepted_by_name_or_wire_value(civic_sandbox):
    client = civic_sandbox.sip_client()
    for scope in ("BASIC_SIGNUP", "CIVIC_BASIC", "civicBasic"):
        assert len(client.exchange_code(civic_sandbox.mint_code("alice", scope)["authToken"]).attributes) == 2
    for scope in ("ANONYMOUS_LOGIN", "Anonymous_Login"):
        assert client.exchange_code(civic_sandbox.mint_code("alice", scope)["authToken"]).attributes == ()
    poi = civic_sandbox.mint_code("carol", "proofOfIdentity")["authToken"]
    assert len(client.exchange_code(poi).attributes) == 11


def test_personas_listing(civic_sandbox):
    listing = civic_sandbox.control("GET", "sip/personas")
    names = [p["name"] for p in listing["personas"]]
    assert names == ["alice", "bob", "anon", "carol"]
    anon = next(p for p in listing["personas"] if p["name"] == "anon")
    assert anon["labels"] == []
    assert {s["name"]: s["wire"] for s in listing["scopes"]} == {
        "BASIC_SIGNUP": "civicBasic", "ANONYMOUS_LOGIN": "Anonymous_Login",
        "PROOF_OF_IDENTITY": "proofOfIdentity"}


def test_reset_forgets_custom_apps_and_codes(civic_sandbox):
    creds = civic_sandbox.register_sip_app("temp-app")
    code = civic_sandbox.mint_code()["authToken"]
    used = civic_sandbox.mint_code()["authToken"]
    civic_sandbox.sip_client().exchange_code(used)
    civic_sandbox.reset()
    assert app_ids(civic_sandbox) == {defaults.SIP_APP_ID}
    with pytest.raises(SIPUnauthorized):
        civic_sandbox.sip_client(app_id="temp-app", app_secret=creds["appSecret"],
                                 private_key=creds["privateKey"]).exchange_code(
            civic_sandbox.mint_code()["authToken"], claims={})
    # Codes issued before the reset are unknown afterwards (used or not).
    for token in (code, used):
        with pytest.raises(SIPBadRequest, match="unknown"):
            civic_sandbox.sip_client().exchange_code(token)


def test_reset_restores_an_overwritten_default_app(civic_sandbox):
    _, other_public = generate_key_pair()
    civic_sandbox.register_sip_app(defaults.SIP_APP_ID, "0" * 32, other_public)
    with pytest.raises(SIPUnauthorized):
        civic_sandbox.sip_client().exchange_code(civic_sandbox.mint_code()["authToken"])
    civic_sandbox.reset()
    assert civic_sandbox.sip_client().exchange_code(civic_sandbox.mint_code()["authToken"]).user_id


def test_control_endpoints_refuse_other_methods(civic_sandbox):
    assert requests.delete(f"{civic_sandbox.url}control/sip/apps", timeout=5).status_code == 405
    assert requests.get(f"{civic_sandbox.url}control/sip/codes", timeout=5).status_code == 405
    assert requests.post(f"{civic_sandbox.url}control/sip/civic-key", timeout=5).status_code == 405


def test_index_lists_the_sip_part(civic_sandbox):
    info = requests.get(civic_sandbox.url, timeout=5).json()["sip"]
    assert info["app_id"] == defaults.SIP_APP_ID and info["civic_public_key"] == defaults.SIP_CIVIC_PUBLIC_KEY
    assert requests.get(info["script_url"], timeout=5).status_code == 200
    assert info["api_url"] == civic_sandbox.sip_api_url
