"""Our SIPClient against the sandbox over real HTTP: every persona and scope, every fault, every refusal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re

import pytest
import requests

from django_civic.protocols.sip.crypto import b64url_encode, generate_key_pair, load_private_key
from django_civic.protocols.sip.tokens import auth_code
from django_civic.sandbox import defaults
from django_civic.sandbox.sip.personas import ID_IMAGE_MD5
from django_civic.sip import (
    SIPBadRequest,
    SIPClient,
    SIPError,
    SIPForbidden,
    SIPGatewayTimeout,
    SIPInvalidAuthToken,
    SIPInvalidSignature,
    SIPMalformedResponse,
    SIPMethodNotAllowed,
    SIPPayloadTooLarge,
    SIPRateLimited,
    SIPTimeout,
    SIPUnauthorized,
    SIPUpstreamError,
)

EMAIL, PHONE = "contact.personal.email", "contact.personal.phoneNumber"
POI = [
    "verifications.levels.CIVIC:IAL1", "documents.genericId.type", "documents.genericId.number",
    "documents.genericId.name", "documents.genericId.dateOfBirth", "documents.genericId.dateOfIssue",
    "documents.genericId.dateOfExpiry", "documents.genericId.image", "documents.genericId.image_md5",
    "documents.genericId.country", EMAIL,
]


ALICE = [(EMAIL, "alice@example.com", True, True), (PHONE, "+1 5556187380", True, True)]


def attrs(data):
    return [(a.label, a.value, a.is_valid, a.is_owner) for a in data.attributes]


# -- round trips -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "scope", "expected"), [
    ("alice", "BASIC_SIGNUP", ALICE),
    ("alice", "CIVIC_BASIC", ALICE),
    ("bob", "BASIC_SIGNUP", [(EMAIL, "bob@example.org", False, True), (PHONE, "+44 7700900123", True, True)]),
    ("carol", "BASIC_SIGNUP", [(EMAIL, "carol@example.net", True, True),
                               (PHONE, "+1 5550104477", True, True)]),
    ("anon", "ANONYMOUS_LOGIN", []),
    ("alice", "ANONYMOUS_LOGIN", []),
    ("carol", "ANONYMOUS_LOGIN", []),
])
def test_round_trip_basic_and_anonymous(civic_sandbox, persona, scope, expected):
    code = civic_sandbox.mint_code(persona, scope)
    data = civic_sandbox.sip_client().exchange_code(code["authToken"])
    assert data.user_id == code["userId"]
    assert re.fullmatch(r"[0-9a-f]{64}", data.user_id)
    assert attrs(data) == expected


def test_round_trip_proof_of_identity(civic_sandbox):
    code = civic_sandbox.mint_code("carol", "PROOF_OF_IDENTITY")
    data = civic_sandbox.sip_client().exchange_code(code["authToken"])
    assert [a.label for a in data.attributes] == POI
    assert all(a.is_valid and a.is_owner for a in data.attributes)
    values = {a.label: a.value for a in data.attributes}
    assert values["verifications.levels.CIVIC:IAL1"] == "CIVIC:IAL1"
    assert values["documents.genericId.type"] == "Passport"
    assert re.fullmatch(r"[A-Z]{3}", values["documents.genericId.country"])
    image = base64.b64decode(values["documents.genericId.image"], validate=True)
    assert image[:3] == b"\xff\xd8\xff" and image[-2:] == b"\xff\xd9"  # a JPEG
    assert hashlib.md5(image).hexdigest() == values["documents.genericId.image_md5"] == ID_IMAGE_MD5


@pytest.mark.parametrize(("persona", "scope"), [
    ("anon", "BASIC_SIGNUP"), ("alice", "PROOF_OF_IDENTITY"), ("bob", "PROOF_OF_IDENTITY"),
])
def test_a_persona_cannot_release_what_it_does_not_have(civic_sandbox, persona, scope):
    response = civic_sandbox.http.post(f"{civic_sandbox.url}control/sip/codes",
                                       json={"persona": persona, "scope": scope}, timeout=5)
    assert response.status_code == 400
    assert f"persona '{persona}' has no verified" in response.json()["message"]


def test_user_id_is_stable_per_persona_and_app(civic_sandbox):
    client = civic_sandbox.sip_client()
    first = client.exchange_code(civic_sandbox.mint_code("alice")["authToken"]).user_id
    again = client.exchange_code(civic_sandbox.mint_code("alice", "ANONYMOUS_LOGIN")["authToken"]).user_id
    bob = client.exchange_code(civic_sandbox.mint_code("bob")["authToken"]).user_id
    other_app = civic_sandbox.register_sip_app("second-app")
    other_client = civic_sandbox.sip_client(app_id="second-app", app_secret=other_app["appSecret"],
                                            private_key=other_app["privateKey"])
    elsewhere_code = civic_sandbox.mint_code("alice", app_id="second-app")["authToken"]
    elsewhere = other_client.exchange_code(elsewhere_code).user_id
    assert first == again
    assert len({first, bob, elsewhere}) == 3


def test_custom_data_and_user_ids(civic_sandbox):
    client = civic_sandbox.sip_client()
    data = [{"label": EMAIL, "value": "dora@example.com", "isValid": True, "isOwner": False},
            {"label": "custom.thing", "value": "42"}]
    as_alice = civic_sandbox.mint_code("alice", data=data)
    result = client.exchange_code(as_alice["authToken"])
    assert attrs(result) == [(EMAIL, "dora@example.com", True, False), ("custom.thing", "42", True, True)]
    assert result.user_id == civic_sandbox.mint_code("alice")["userId"]

    newcomer = civic_sandbox.mint_code(None, data=data)
    another = civic_sandbox.mint_code(None, data=data)
    assert newcomer["userId"] != another["userId"]
    assert client.exchange_code(newcomer["authToken"]).user_id == newcomer["userId"]

    chosen = civic_sandbox.mint_code(None, data=[], userId="u-123")
    assert client.exchange_code(chosen["authToken"]).user_id == "u-123"


def test_a_registered_app_with_pem_key_and_dev_stage(civic_sandbox):
    private_hex, _ = generate_key_pair()
    from cryptography.hazmat.primitives import serialization

    pem = load_private_key(private_hex).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    creds = civic_sandbox.register_sip_app("pem-app", private_key=pem, name="PEM app")
    client = civic_sandbox.sip_client(app_id="pem-app", app_secret=creds["appSecret"], private_key=pem,
                                      env="dev")
    code = civic_sandbox.mint_code("carol", "BASIC_SIGNUP", app_id="pem-app")
    assert client.exchange_code(code["authToken"]).email == "carol@example.net"


def test_a_48_hex_secret_means_aes_192_on_both_sides(civic_sandbox):
    creds = civic_sandbox.register_sip_app("aes192-app", app_secret="AB" * 24)
    client = civic_sandbox.sip_client(app_id="aes192-app", app_secret="AB" * 24,
                                      private_key=creds["privateKey"])
    code = civic_sandbox.mint_code(app_id="aes192-app")["authToken"]
    assert client.exchange_code(code).phone == "+1 5556187380"


# -- faults map to typed errors ----------------------------------------------------------------------------


EXPLICIT_DENY = '{"Message":"User is not authorized to access this resource with an explicit deny"}'


@pytest.mark.parametrize(("fault", "error", "status"), [
    ({"kind": "status", "status": 400}, SIPBadRequest, 400),
    ({"kind": "status", "status": 401, "body": "Unauthorized"}, SIPUnauthorized, 401),
    ({"kind": "status", "status": 403, "body": EXPLICIT_DENY}, SIPForbidden, 403),
    ({"kind": "status", "status": 405}, SIPMethodNotAllowed, 405),
    ({"kind": "status", "status": 429}, SIPRateLimited, 429),
    ({"kind": "status", "status": 500}, SIPUpstreamError, 500),
    ({"kind": "status", "status": 502}, SIPUpstreamError, 502),
    ({"kind": "status", "status": 504}, SIPGatewayTimeout, 504),
    ({"kind": "status", "status": 418}, SIPMalformedResponse, 418),
    ({"kind": "malformed"}, SIPMalformedResponse, None),
    ({"kind": "malformed", "body": "[" * 100_000}, SIPMalformedResponse, None),
    ({"kind": "malformed", "body": '{"userId":"x","data":""}'}, SIPMalformedResponse, None),
    ({"kind": "bad_signature"}, SIPInvalidSignature, None),
    ({"kind": "wrong_key"}, SIPInvalidSignature, None),
])
def test_exchange_faults(civic_sandbox, fault, error, status):
    civic_sandbox.inject_fault("sip.exchange", **fault)
    code = civic_sandbox.mint_code()
    with pytest.raises(error) as info:
        civic_sandbox.sip_client().exchange_code(code["authToken"])
    assert type(info.value) is error
    assert info.value.status == status
    assert code["authToken"] not in str(info.value)


def test_rate_limit_carries_retry_after(civic_sandbox):
    civic_sandbox.inject_fault("sip.exchange", "status", status=429, retry_after=7)
    with pytest.raises(SIPRateLimited) as info:
        civic_sandbox.sip_client().exchange_code(civic_sandbox.mint_code()["authToken"])
    assert info.value.retry_after == 7 and info.value.retryable


def test_a_gateway_fault_answers_before_the_code_is_used(civic_sandbox):
    code = civic_sandbox.mint_code()
    client = civic_sandbox.sip_client()
    civic_sandbox.inject_fault("sip.exchange", "status", status=503)
    with pytest.raises(SIPUpstreamError):
        client.exchange_code(code["authToken"])
    assert client.exchange_code(code["authToken"]).user_id == code["userId"]


def test_timeout_and_latency(civic_sandbox):
    client = civic_sandbox.sip_client(timeout=0.5)
    civic_sandbox.inject_fault("sip.exchange", "timeout", seconds=1.5)
    with pytest.raises(SIPTimeout):
        client.exchange_code(civic_sandbox.mint_code()["authToken"])
    civic_sandbox.inject_fault("sip.exchange", "latency", delay=0.2)
    assert client.exchange_code(civic_sandbox.mint_code()["authToken"]).email == "alice@example.com"
    assert civic_sandbox.control("GET", "faults")["pending"] == {}


def test_processed_variant_gives_the_same_data(civic_sandbox):
    civic_sandbox.inject_fault("sip.exchange", "processed")
    code = civic_sandbox.mint_code("carol", "PROOF_OF_IDENTITY")
    raw = civic_sandbox.sip_post({"authToken": code["authToken"], "allowS3UploadedPayload": True})
    body = raw.json()
    assert list(body) == ["payloadUrl", "processed", "data", "userId", "encrypted"]
    assert body["processed"] is True and body["data"] == body["payloadUrl"]
    assert body["userId"] == code["userId"]
    fetched = requests.get(body["payloadUrl"], timeout=5)
    assert fetched.status_code == 200 and fetched.text.count(".") == 2  # the raw JWT, not JSON-quoted

    civic_sandbox.inject_fault("sip.exchange", "processed")
    code = civic_sandbox.mint_code("carol", "PROOF_OF_IDENTITY")["authToken"]
    data = civic_sandbox.sip_client().exchange_code(code)
    assert [a.label for a in data.attributes] == POI


def test_large_payload_variant_is_at_least_size_bytes_and_decrypts_to_the_same_data(civic_sandbox):
    size = 2 * 1024 * 1024
    civic_sandbox.inject_fault("sip.exchange", "large_payload", size=size)
    code = civic_sandbox.mint_code("alice")
    url = civic_sandbox.sip_post({"authToken": code["authToken"]}).json()["payloadUrl"]
    length = len(requests.get(url, timeout=10).content)
    assert size <= length <= size + 64

    civic_sandbox.inject_fault("sip.exchange", "large_payload", size=size)
    data = civic_sandbox.sip_client().exchange_code(civic_sandbox.mint_code("alice")["authToken"])
    assert attrs(data) == [(EMAIL, "alice@example.com", True, True), (PHONE, "+1 5556187380", True, True)]


def test_large_payload_over_the_clients_cap(civic_sandbox):
    civic_sandbox.inject_fault("sip.exchange", "large_payload", size=300_000)
    with pytest.raises(SIPPayloadTooLarge):
        civic_sandbox.sip_client(max_payload_bytes=100_000).exchange_code(
            civic_sandbox.mint_code()["authToken"])


@pytest.mark.parametrize(("fault", "error"), [
    ({"kind": "status", "status": 500}, SIPUpstreamError),
    ({"kind": "status", "status": 403, "body": "<Error><Code>AccessDenied</Code></Error>"}, SIPUpstreamError),
    ({"kind": "malformed", "body": "not a jwt"}, SIPInvalidSignature),
    ({"kind": "bad_signature"}, SIPInvalidSignature),
    ({"kind": "wrong_key"}, SIPInvalidSignature),
])
def test_payload_download_faults(civic_sandbox, fault, error):
    civic_sandbox.inject_fault("sip.exchange", "processed")
    civic_sandbox.inject_fault("sip.payload", **fault)
    with pytest.raises(error):
        civic_sandbox.sip_client().exchange_code(civic_sandbox.mint_code()["authToken"])


def test_payload_download_timeout(civic_sandbox):
    civic_sandbox.inject_fault("sip.exchange", "processed")
    civic_sandbox.inject_fault("sip.payload", "timeout", seconds=1.5)
    with pytest.raises(SIPTimeout):
        civic_sandbox.sip_client(timeout=0.5).exchange_code(civic_sandbox.mint_code()["authToken"])


def test_unknown_or_expired_payload_url_is_refused_like_s3(civic_sandbox):
    response = requests.get(f"{civic_sandbox.sip_api_url}payload/nope", timeout=5)
    assert response.status_code == 403 and b"AccessDenied" in response.content


def test_unknown_fault_kinds_and_bad_options_are_refused_when_queued(civic_sandbox):
    for fault in ({"kind": "bad_signatur"}, {"kind": "large_payload", "size": -1},
                  {"kind": "large_payload", "size": "big"}, {"kind": "processed", "channel": "sip.payload"}):
        body = {"channel": "sip.exchange", **fault}
        response = civic_sandbox.http.post(f"{civic_sandbox.url}control/faults", json=body, timeout=5)
        assert response.status_code == 400, fault
    assert civic_sandbox.control("GET", "faults")["pending"] == {}


# -- refusals: the client's local pre-check, then the sandbox itself --------------------------------------


def _no_request_reached_the_sandbox(sandbox, call):
    """Run ``call`` with a fault queued; if the fault is still queued afterwards, nothing was sent."""
    sandbox.inject_fault("sip.exchange", "status", status=500)
    with pytest.raises(SIPInvalidAuthToken) as info:
        call()
    assert len(sandbox.control("GET", "faults")["pending"]["sip.exchange"]) == 1
    sandbox.clear_faults()
    return info.value


def _forge(header: dict, claims: dict, signature: bytes) -> str:
    return f"{b64url_encode(json.dumps(header).encode())}.{b64url_encode(json.dumps(claims).encode())}." \
           f"{b64url_encode(signature)}"


def _claims(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def test_code_for_another_app_is_refused_locally_and_by_the_sandbox(civic_sandbox):
    civic_sandbox.register_sip_app("other-app")
    code = civic_sandbox.mint_code(app_id="other-app")["authToken"]
    client = civic_sandbox.sip_client()
    error = _no_request_reached_the_sandbox(civic_sandbox, lambda: client.exchange_code(code))
    assert "another app" in str(error)
    with pytest.raises(SIPBadRequest, match="another app"):
        client.exchange_code(code, claims={})  # skip the local check: the sandbox refuses too


def test_expired_code_is_refused_locally_and_by_the_sandbox(civic_sandbox):
    code = civic_sandbox.mint_code(age=1800 + 120)["authToken"]
    client = civic_sandbox.sip_client()
    error = _no_request_reached_the_sandbox(civic_sandbox, lambda: client.exchange_code(code))
    assert "expired" in str(error)
    with pytest.raises(SIPBadRequest, match="expired"):
        client.exchange_code(code, claims={})


def test_forged_codes_are_refused_locally_and_by_the_sandbox(civic_sandbox):
    real = civic_sandbox.mint_code()["authToken"]
    head, payload, signature = real.split(".")
    claims = _claims(real)
    hs_input = b64url_encode(b'{"alg":"HS256","typ":"JWT"}') + "." + payload
    hs_key = defaults.SIP_CIVIC_PUBLIC_KEY.encode()
    hs_signature = hmac.new(hs_key, hs_input.encode(), hashlib.sha256).digest()
    forgeries = {
        "none": _forge({"alg": "none", "typ": "JWT"}, claims, b""),
        "hs256 keyed with the Civic public key": f"{hs_input}.{b64url_encode(hs_signature)}",
        "tampered": f"{head}.{b64url_encode(json.dumps({**claims, 'sub': 'x'}).encode())}.{signature}",
        "wrong key": auth_code(defaults.SIP_APP_ID, load_private_key(generate_key_pair()[0]),
                               civic_sandbox.sip_api_url),
    }
    client = civic_sandbox.sip_client()
    for name, token in forgeries.items():
        _no_request_reached_the_sandbox(civic_sandbox, lambda token=token: client.exchange_code(token))
        with pytest.raises(SIPBadRequest, match="invalid"):
            client.exchange_code(token, claims={})
        assert name  # each forgery was refused both ways


def test_replayed_code_is_refused_by_the_sandbox(civic_sandbox):
    code = civic_sandbox.mint_code()["authToken"]
    client = civic_sandbox.sip_client()
    client.exchange_code(code)
    with pytest.raises(SIPBadRequest, match="already been used"):
        client.exchange_code(code)


def test_wrong_partner_key_or_secret_gets_401(civic_sandbox):
    code = civic_sandbox.mint_code()["authToken"]
    with pytest.raises(SIPUnauthorized):
        civic_sandbox.sip_client(private_key=generate_key_pair()[0]).exchange_code(code)
    with pytest.raises(SIPUnauthorized):
        civic_sandbox.sip_client(app_secret="0" * 32).exchange_code(code)
    # Neither burned the code.
    assert civic_sandbox.sip_client().exchange_code(code).email == "alice@example.com"


def test_client_trusting_another_civic_key_refuses_the_sandboxs_tokens(civic_sandbox):
    """Verify before decrypting: the data token's signature is checked against the configured key."""
    _, stranger = generate_key_pair()
    client = civic_sandbox.sip_client(civic_public_key=stranger)
    code = civic_sandbox.mint_code()["authToken"]
    _no_request_reached_the_sandbox(civic_sandbox, lambda: client.exchange_code(code))
    with pytest.raises(SIPInvalidSignature):
        client.exchange_code(code, claims={})


def test_the_default_client_trusts_civics_real_key_not_the_sandboxs(civic_sandbox):
    client = SIPClient(defaults.SIP_APP_ID, defaults.SIP_APP_SECRET, defaults.SIP_APP_PRIVATE_KEY,
                       api_url=civic_sandbox.sip_api_url)
    with pytest.raises(SIPInvalidAuthToken):
        client.exchange_code(civic_sandbox.mint_code()["authToken"])


def test_errors_are_all_sip_errors_and_leak_no_secret(civic_sandbox):
    civic_sandbox.inject_fault("sip.exchange", "status", status=400,
                               body=json.dumps({"message": "bad " + defaults.SIP_APP_SECRET[:0] + "request"}))
    code = civic_sandbox.mint_code()["authToken"]
    with pytest.raises(SIPError) as info:
        civic_sandbox.sip_client().exchange_code(code)
    text = str(info.value) + repr(info.value)
    assert defaults.SIP_APP_SECRET not in text and code not in text and "bad request" in text


def test_debug_log_names_the_host_and_status_never_the_path(civic_sandbox, caplog):
    code = civic_sandbox.mint_code("alice", "BASIC_SIGNUP")["authToken"]
    with caplog.at_level("DEBUG", logger="django_civic.protocols.http"):
        civic_sandbox.sip_client().exchange_code(code)
    messages = [r.getMessage() for r in caplog.records if r.name == "django_civic.protocols.http"]
    assert any(re.fullmatch(r"POST 127\.0\.0\.1:\d+: 200", m) for m in messages), messages
    assert not any("scopeRequest" in m or code in m for m in messages)
