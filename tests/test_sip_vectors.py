"""The literal vectors of civic-protocols.md part A, pinned against django_civic.sip's primitives.

No sandbox here: these are the bytes Civic's own libraries produced, so they anchor both our client and
the sandbox (which reuses the same primitives) to the real protocol.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from django_civic.protocols import jose as jws
from django_civic.protocols.sip.crypto import (
    KeyFormatError,
    aes_decrypt,
    aes_encrypt,
    b64url_decode,
    civic_ext,
    hmac_base64,
    js_timestamp,
    load_private_key,
    load_public_key,
    public_key_hex,
)
from django_civic.protocols.sip.tokens import TokenError, decode_es256, partner_token
from django_civic.sip import CIVIC_PUBLIC_KEY

# A4: AES vector.
AES_KEY = "44bbae32d1e02bf481074177002bbdef"
AES_IV = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
AES_PLAINTEXT = '[{"label":"x"}]'
AES_CIPHERTEXT = "000102030405060708090a0b0c0d0e0fX9T/gNP2Wkr9BaWtjQD5fA=="

# A7.6: SIP-KEYS.
KEYS_PRIVATE_HEX = "bf78facaaf537febc7625e236316738a8d12f1e43a1ce5e6fcd3138602487042"
KEYS_PUBLIC_HEX = (
    "04572ed1b68ebdab31177ca1475424b1cc5a6a777f7dca4a7d581d186a11a7124baa0fbba3db9c0bd2c02ca2e952edf4"
    "da1f6b04ad9c85fc27e4f1c54a0439f640"
)
KEYS_PKCS8_PREFIX = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgv3j6"
KEYS_SPKI_PREFIX = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVy7R"

# A7.2: the SIP-T3 live-test key pair.
T3_PRIVATE_HEX = "a3ed0dd27cbfa62e13e340fb3dbb86895b99d5fd330a80e799baffcb1d29c17a"
T3_PUBLIC_HEX = (
    "04a77e5c9c01df457ba941e28e187d3f53962f9038b5e481036cd9e7e9d1b1047c223c5b3db30fb12ff9f26eb229bb422eec"
    "f1a5df676d91099e081e4ec88ec339"
)

# A7.4: a partner Authorization header recorded with its body.
A74_APP_ID = "Hk2x5OFeZ"
A74_PUBLIC_KEY = (
    "040e5407b993d672da6727577fc7005119cbecd340366e1f452df67ac536822894fb00414ff77c75e61b9519e61397d1f4"
    "c692da449c72cee3a69b33d04858902f"
)
A74_SECRET = "E72E1D26CA40995F622E1BF4F6552B22"
A74_HEADER = (
    "Civic eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6Il9vLTN3eHoifQ.eyJhdWQiOiJodHRwczpcL1wvYXBpLmNpdmlj"
    "LmNvbVwvc2lwXC8iLCJpc3MiOiJIazJ4NU9GZVoiLCJpYXQiOjE0OTU0ODM4ODUsImV4cCI6MTQ5NTQ4Mzk1NSwiZGF0YSI6eyJt"
    "ZXRob2QiOiJQT1NUIiwicGF0aCI6InNjb3BlUmVxdWVzdFwvYXV0aENvZGUifSwic3ViIjoiSGsyeDVPRmVaIn0.PfCHiOruQZH"
    "oZnJLqCPBNA5U6UGDWi7OLCzzm1tIwmlE0mvds_frnzqePmZ32I-DxjraylOqZWFiG6YuxQY6UQ./lOwdOrqRrlnWMtl123IH4s"
    "N4mzJOE+/TvzS3RZH5jM="
)
A74_BODY = (
    '{"authToken":"eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJqdGkiOiI0NWE1OWQxMC02ZTkzLTQ3ZjYtOTE4NS1hZGFjZm'
    "UyODkwN2EiLCJpYXQiOjE0OTQyMDQ5NzEuMzYxLCJleHAiOjE0OTgwNzQ0NzgsImlzcyI6ImNpdmljLXNpcC1ob3N0ZWQtc2Vydm"
    "ljZSIsImF1ZCI6Imh0dHBzOi8vYXBpLmNpdmljLmNvbS9zaXAvIiwic3ViIjoiY2l2aWMtc2lwLWhvc3RlZC1zZXJ2aWNlIiwiZG"
    "F0YSI6eyJjb2RlVG9rZW4iOiI3Y2Y4Y2ZkZS1kN2EyLTRkYWEtOGQ0NC1jOGUyNzMyMGY2ODgifX0.QgvcBTtWkybRlbh85V5opw"
    'y7cgORRhjHKXXsrlT3BAnU-u-JzWDbMC_z9CHwQeZc1AcmVYTyUKbbO8LPh-2zEA"}'
)
A74_IAT = 1495483885

# A7.5: a Civic-signed data token (signed with Civic's real key) and what its payload decrypts to.
A75_TOKEN = (
    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJqdGkiOiI2ZGIwODNmZC03NDNkLTQ0NzgtYTZhMy05N2Q2OGYwZDBhNWUiLCJp"
    "YXQiOjE0OTYyMzg1MDYuNTQsImV4cCI6MTQ5NjI0MDMwNi41NCwiaXNzIjoiY2l2aWMtc2lwLWhvc3RlZC1zZXJ2aWNlIiwiYXVk"
    "IjoiaHR0cHM6Ly9hcGkuY2l2aWMuY29tL3NpcC8iLCJzdWIiOiJIazJ4NU9GZVoiLCJkYXRhIjoiMzNmOTE0NzZjNzk4YTZhZjM0"
    "ZmZhMmU2YzQ1ZGJkYjhDaGd3SC9EMFVZWnNZc3FkT011cjlLakwxQktZbk83SGkzYkZvdFk1cjI0Y2M1YUJZZjR2bDBMbWl5R21O"
    "M3ErbUVuSTJHYjRyRkdWMldVMXhwNDM1QUlDQ2h6VlJBa2J2T25sSFBZbUlwRG1XdG9oek9vc2xqRWNrRENXZE9TbUgrTHorVTFs"
    "MkdmWjJQN1N4eWRWUFErUjBMM3Fmb1pFNm1LRlFGdzFGNGlyUHRUeVhmTXJ4SjNPaHFIMzZBTlhKcG9sdzNHcmR1VkZBZ1BnWW5z"
    "MHVEQ3hIaDBRaTJPVlFVTmpaZW5lem5ITFhBOXBRL0t6MkgzWU15WllHeXhYIn0.lbEVq81mvRZLBmW3kOE-nFPDlBgYk008J6O4"
    "RY2ld2fADrIFz7y1aBYuPHxt1nEE2D1etoH1INMffEL1rkqKVw"
)
A75_IAT = 1496238506.54
A75_PLAINTEXT_SHA256 = "29f4ac9c75c2c7454a8403abd87193232ee11f99926533973c73e8527ea0bfd0"


def test_aes_vector_encrypts_to_the_recorded_bytes_and_back():
    assert aes_encrypt(AES_PLAINTEXT, AES_KEY, iv=AES_IV) == AES_CIPHERTEXT
    assert aes_decrypt(AES_CIPHERTEXT, AES_KEY) == AES_PLAINTEXT


def test_aes_vector_does_not_decrypt_with_another_key():
    with pytest.raises(ValueError):
        aes_decrypt(AES_CIPHERTEXT, "44bbae32d1e02bf481074177002bbdee")


def test_sip_keys_hex_pair_matches_and_pem_forms_are_the_same_key():
    private = load_private_key(KEYS_PRIVATE_HEX)
    assert public_key_hex(private) == KEYS_PUBLIC_HEX
    pkcs8 = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()).decode()
    spki = private.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    # The recorded prv.key / pub.key files start with these bytes (same key, PEM containers).
    assert pkcs8.splitlines()[1].startswith(KEYS_PKCS8_PREFIX)
    assert spki.splitlines()[1].startswith(KEYS_SPKI_PREFIX)
    assert public_key_hex(load_private_key(pkcs8)) == KEYS_PUBLIC_HEX
    assert public_key_hex(load_public_key(spki)) == KEYS_PUBLIC_HEX


def test_sip_t3_key_pair_matches():
    assert public_key_hex(load_private_key(T3_PRIVATE_HEX)) == T3_PUBLIC_HEX


def test_partner_header_vector_signature_verifies_with_the_partner_key():
    jwt_text = A74_HEADER[len("Civic "):].rsplit(".", 1)[0]
    head, payload, signature = jwt_text.split(".")
    key = load_public_key(A74_PUBLIC_KEY)
    assert jws.verify(jws.parse(jwt_text, max_length=None), key, "ES256")["iat"] == A74_IAT
    other_key = load_public_key(KEYS_PUBLIC_HEX)
    with pytest.raises(jws.JWSError) as refused:
        jws.verify(jws.parse(jwt_text, max_length=None), other_key, "ES256")
    assert refused.value.reason == "bad_signature"
    assert json.loads(b64url_decode(head)) == {"alg": "ES256", "typ": "JWT", "kid": "_o-3wxz"}
    # PHP-style escaped slashes in the signed bytes, integer times, a 70 s lifetime.
    assert b'"aud":"https:\\/\\/api.civic.com\\/sip\\/"' in b64url_decode(payload)
    claims = json.loads(b64url_decode(payload))
    assert claims["aud"] == "https://api.civic.com/sip/"
    assert (claims["iat"], claims["exp"] - claims["iat"]) == (A74_IAT, 70)


def test_partner_header_vector_ext_is_hmac_of_the_body_with_the_secret_verbatim():
    ext = A74_HEADER.rsplit(".", 1)[1]
    assert civic_ext(json.loads(A74_BODY), A74_SECRET) == ext  # sorted form: one key, same bytes
    assert hmac_base64(A74_BODY.encode(), A74_SECRET) == ext  # raw body
    # The secret is used as given (UTF-8 text), not hex-decoded and not case-folded.
    assert hmac_base64(A74_BODY.encode(), A74_SECRET.lower()) != ext
    assert base64.b64encode(hashlib.sha256(A74_BODY.encode()).digest()).decode() != ext


def test_civic_issued_data_token_verifies_with_civics_published_key_and_decrypts():
    claims = decode_es256(A75_TOKEN, load_public_key(CIVIC_PUBLIC_KEY), now=A75_IAT + 10)
    assert list(claims) == ["jti", "iat", "exp", "iss", "aud", "sub", "data"]
    assert (claims["iss"], claims["aud"], claims["sub"]) == (
        "civic-sip-hosted-service", "https://api.civic.com/sip/", "Hk2x5OFeZ")
    assert claims["exp"] - claims["iat"] == pytest.approx(1800)
    plaintext = aes_decrypt(claims["data"], A74_SECRET)
    assert len(plaintext.encode()) == 191
    assert hashlib.sha256(plaintext.encode()).hexdigest() == A75_PLAINTEXT_SHA256


def test_civic_issued_data_token_is_refused_after_its_expiry_and_with_another_key():
    with pytest.raises(TokenError, match="expired"):
        decode_es256(A75_TOKEN, load_public_key(CIVIC_PUBLIC_KEY), now=A75_IAT + 1800 + 61)
    with pytest.raises(TokenError, match="signature"):
        decode_es256(A75_TOKEN, load_public_key(KEYS_PUBLIC_HEX), now=A75_IAT + 10)


def test_partner_token_has_the_node_sdk_header_claim_order_and_times():
    token = partner_token("HyhaWO1SG", load_private_key(KEYS_PRIVATE_HEX), "https://api.civic.com/sip/",
                          now=1795286387.91)
    head, payload, _ = token.split(".")
    assert head == "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9"
    text = b64url_decode(payload).decode()
    claims = json.loads(text)
    assert list(claims) == ["jti", "iat", "exp", "iss", "aud", "sub", "data"]
    assert '"iat":1795286387.91,"exp":1795286567.91,"iss":"HyhaWO1SG",' in text
    assert '"aud":"https://api.civic.com/sip/","sub":"HyhaWO1SG"' in text
    assert claims["data"] == {"method": "POST", "path": "scopeRequest/authCode"}


@pytest.mark.parametrize(("value", "printed"), [
    (1795286387.91, "1795286387.91"), (1495483885.0, "1495483885"), (1494204971.3614, "1494204971.361"),
])
def test_timestamps_print_like_javascript(value, printed):
    assert json.dumps(js_timestamp(value)) == printed


def _pem(key, *, encrypted: bool = False) -> str:
    algorithm = (serialization.BestAvailableEncryption(b"pw") if encrypted else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, algorithm)
    return pem.decode()


@pytest.mark.parametrize("make", [
    lambda: "not a key",
    lambda: "ab" * 31,  # 62 hex digits
    lambda: "zz" * 32,
    lambda: "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----",
    lambda: _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    lambda: _pem(ec.generate_private_key(ec.SECP256K1())),
    lambda: _pem(load_private_key(KEYS_PRIVATE_HEX), encrypted=True),
], ids=["text", "short-hex", "not-hex", "bad-pem", "rsa", "secp256k1", "encrypted-pem"])
def test_unusable_private_keys_are_refused_with_a_key_error(make):
    with pytest.raises(KeyFormatError):
        load_private_key(make())


@pytest.mark.parametrize("value", ["04" + "00" * 64, "not hex", KEYS_PRIVATE_HEX,
                                   "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"])
def test_unusable_public_keys_are_refused_with_a_key_error(value):
    with pytest.raises(KeyFormatError):
        load_public_key(value)
