"""What the SIP client sends, built without the general encoders (benchmark row 1), is byte for byte what
they produce: the partner JWT's claims, the request body and the body the ``ext`` HMAC covers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid

from hypothesis import given
from hypothesis import strategies as st

from django_civic.protocols import jose as jws
from django_civic.protocols.sip.client import _exchange_body
from django_civic.protocols.sip.crypto import (
    BodyMac,
    b64url_decode,
    b64url_encode,
    canonical_json,
    compact_json,
    hmac_base64,
    load_private_key,
)
from django_civic.protocols.sip.tokens import PartnerTokenSigner, partner_token
from django_civic.sandbox import defaults

KEY = load_private_key(defaults.SIP_APP_PRIVATE_KEY)


def claims_text(token: str) -> str:
    return b64url_decode(token.split(".")[1]).decode()


@given(now=st.floats(min_value=0, max_value=4e9), app_id=st.text(min_size=1, max_size=30),
       audience=st.text(max_size=60))
def test_partner_token_claims_are_what_compact_json_writes(now, app_id, audience):
    token = PartnerTokenSigner(app_id, KEY, audience).token(now=now)
    text = claims_text(token)
    claims = json.loads(text)  # dicts keep the order they were written in
    assert list(claims) == ["jti", "iat", "exp", "iss", "aud", "sub", "data"]
    assert compact_json(claims) == text
    assert (claims["iss"], claims["aud"], claims["sub"]) == (app_id, audience, app_id)
    assert claims["data"] == {"method": "POST", "path": "scopeRequest/authCode"}


def test_partner_token_header_and_signature():
    token = PartnerTokenSigner("app", KEY, "https://api.civic.com/sip/").token()
    head, payload, signature = token.split(".")
    assert json.loads(b64url_decode(head)) == {"alg": "ES256", "typ": "JWT"}
    verified = jws.verify(jws.parse(token, max_length=None), KEY.public_key(), "ES256")
    assert verified == json.loads(claims_text(token))
    # partner_token() is the same signer, built for one call.
    one_call = partner_token("app", KEY, "https://api.civic.com/sip/", now=1.5)
    assert claims_text(one_call).count('"iat":1.5,') == 1


def test_each_partner_token_has_a_new_jti():
    signer = PartnerTokenSigner("app", KEY, "aud")
    jtis = {json.loads(claims_text(signer.token()))["jti"] for _ in range(50)}
    assert len(jtis) == 50


def test_jtis_are_version_4_uuids_as_str_uuid4_writes_them():
    signer = PartnerTokenSigner("app", KEY, "aud")
    for _ in range(200):
        text = json.loads(claims_text(signer.token()))["jti"]
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


@given(st.text(max_size=200))
def test_the_exchange_body_is_compact_json_and_the_signed_body_canonical_json(token):
    body = {"authToken": token, "allowS3UploadedPayload": True}
    assert _exchange_body(token) == (compact_json(body).encode(), canonical_json(body).encode())


@given(messages=st.lists(st.binary(max_size=500), min_size=1, max_size=3),
       secret=st.text(min_size=1, max_size=64))
def test_the_ext_is_standard_base64_of_hmac_sha256_keyed_with_the_secret_text(messages, secret):
    body_mac = BodyMac(secret)
    for message in messages:  # the keyed state is reused: each message's MAC is its own
        expected = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
        assert body_mac.ext(message) == hmac_base64(message, secret) == expected


@given(st.binary(max_size=300))
def test_b64url_encode_is_unpadded_urlsafe_base64(data):
    assert b64url_encode(data) == base64.urlsafe_b64encode(data).decode().rstrip("=")
