"""The sandbox's SIP exchange endpoint over real HTTP, without our SIPClient.

Requests are built here by hand with ``cryptography`` only (not django_civic.sip), the way Civic's Node
SDK and the PHP port build them, so the sandbox is checked against the published clients' behaviour and
not merely against our own client. Then every A6 check: what the sandbox enforces, and what it tolerates.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid

import pytest
import requests
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from django_civic.sandbox import defaults

APP_ID = defaults.SIP_APP_ID
SECRET = defaults.SIP_APP_SECRET
PARTNER_KEY = ec.derive_private_key(int(defaults.SIP_APP_PRIVATE_KEY, 16), ec.SECP256R1())
CIVIC_KEY = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                         bytes.fromhex(defaults.SIP_CIVIC_PUBLIC_KEY))
CIVIC_PRIVATE_KEY = ec.derive_private_key(int(defaults.SIP_CIVIC_PRIVATE_KEY, 16), ec.SECP256R1())
EXCHANGE_DATA = {"method": "POST", "path": "scopeRequest/authCode"}


def stranger() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# -- an independent implementation of the wire format ----------------------------------------------------


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jws(header: str, payload: str, key: ec.EllipticCurvePrivateKey = PARTNER_KEY) -> str:
    """Compact ES256 JWS over the exact header and payload texts given (raw R||S signature)."""
    signing_input = f"{b64u(header.encode())}.{b64u(payload.encode())}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64u(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def hmac_b64(message: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def stable_stringify(obj) -> str:
    """json-stable-stringify: sorted keys at every level, no whitespace."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def js_number(value: float) -> str:
    text = repr(round(value, 3))
    return text[:-2] if text.endswith(".0") else text


def node_claims(aud: str, *, now: float | None = None, app_id: str = APP_ID, lifetime: float = 180,
                method: str = "POST", path: str = "scopeRequest/authCode") -> str:
    """The Node SDK's payload text: claim order jti, iat, exp, iss, aud, sub, data; ms-precision times."""
    iat = round(time.time() if now is None else now, 3)
    return (f'{{"jti":"{uuid.uuid4()}","iat":{js_number(iat)},"exp":{js_number(iat + lifetime)},'
            f'"iss":"{app_id}","aud":{json.dumps(aud)},"sub":"{app_id}",'
            f'"data":{{"method":"{method}","path":"{path}"}}}}')


NODE_HEADER = '{"alg":"ES256","typ":"JWT"}'


def civic(token: str, ext: str) -> str:
    return f"Civic {token}.{ext}"


def post(sandbox, body: bytes, authorization: str | None, *, env: str = "prod", accept: str = "*/*",
         method: str = "POST") -> requests.Response:
    headers = {"Content-Type": "application/json", "Accept": accept, "Content-Length": str(len(body))}
    if authorization is not None:
        headers["Authorization"] = authorization
    return requests.request(method, sandbox.sip_exchange_url(env), data=body, headers=headers, timeout=10)


def node_request(sandbox, auth_token: str, **claims) -> requests.Response:
    """Exactly what civic-sip-api 1.2.1 sends (A1-A3)."""
    body = {"authToken": auth_token, "allowS3UploadedPayload": True}
    wire = json.dumps(body, separators=(",", ":")).encode()  # insertion order on the wire
    token = jws(NODE_HEADER, node_claims(sandbox.sip_api_url, **claims))
    return post(sandbox, wire, civic(token, hmac_b64(stable_stringify(body).encode())))


def decrypt(data: str, secret: str = SECRET) -> str:
    """Civic's payload format, decrypted the way CryptoJS does: hex IV, Base64 AES-CBC, PKCS#7."""
    iv, ciphertext = bytes.fromhex(data[:32]), base64.b64decode(data[32:])
    decryptor = Cipher(algorithms.AES(bytes.fromhex(secret)), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    return (unpadder.update(padded) + unpadder.finalize()).decode()


def verify_civic_token(token: str) -> dict:
    """jsrsasign verifyJWT(token, civicKey, {alg: ["ES256"], gracePeriod: 60}), the Node SDK's check."""
    head, payload, signature = token.split(".")
    assert json.loads(unb64u(head))["alg"] == "ES256"
    raw = unb64u(signature)
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    CIVIC_KEY.verify(der, f"{head}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if invalid
    claims = json.loads(unb64u(payload))
    now = int(time.time())
    assert claims["exp"] + 60 >= now and claims["iat"] - 60 <= now
    return claims


# -- clients written from Civic's published behaviour ----------------------------------------------------


def test_node_sdk_request_is_accepted_and_its_answer_is_what_the_sdk_expects(civic_sandbox):
    code = civic_sandbox.mint_code("alice", "BASIC_SIGNUP")
    response = node_request(civic_sandbox, code["authToken"])
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["data", "userId", "encrypted", "alg"]
    assert body["userId"] == code["userId"] and re.fullmatch(r"[0-9a-f]{64}", body["userId"])
    assert (body["encrypted"], body["alg"]) == (True, "aes")

    head, payload, _ = body["data"].split(".")
    assert head == "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9"  # {"alg":"ES256","typ":"JWT"}, byte for byte
    claims = verify_civic_token(body["data"])
    assert list(claims) == ["jti", "iat", "exp", "iss", "aud", "sub", "data"]
    assert claims["iss"] == "civic-sip-hosted-service" and claims["sub"] == APP_ID
    assert claims["exp"] - claims["iat"] == pytest.approx(1800, abs=0.002)
    assert re.fullmatch(r"[0-9a-f]{32}[A-Za-z0-9+/]+=*", claims["data"])
    plaintext = decrypt(claims["data"])
    assert plaintext == (
        '[{"label":"contact.personal.email","value":"alice@example.com","isValid":true,"isOwner":true},'
        '{"label":"contact.personal.phoneNumber","value":"+1 5556187380","isValid":true,"isOwner":true}]'
    )


def test_php_port_request_is_accepted(civic_sandbox):
    """blockvis/civic-sip-php: aud without slash, integer iat, nbf = now + 60, no typ, ext over the raw body,
    escaped slashes (json_encode), body with authToken only, Accept: application/json."""
    code = civic_sandbox.mint_code("bob", "BASIC_SIGNUP")
    body = json.dumps({"authToken": code["authToken"]}, separators=(",", ":")).encode()
    now = int(time.time())
    # %-formatting: the payload is raw JSON, whose braces would all double in an f-string.
    payload = ('{"iat":%d,"nbf":%d,"exp":%d,"iss":"%s","aud":"https:\\/\\/api.civic.com\\/sip","sub":"%s",'  # noqa: UP031
               '"data":{"method":"POST","path":"scopeRequest\\/authCode"},"jti":"%s"}'
               % (now, now + 60, now + 180, APP_ID, APP_ID, uuid.uuid4()))
    token = jws('{"alg":"ES256"}', payload)
    response = post(civic_sandbox, body, civic(token, hmac_b64(body)), accept="application/json")
    assert response.status_code == 200, response.text
    items = json.loads(decrypt(verify_civic_token(response.json()["data"])["data"]))
    assert [(i["label"], i["isValid"]) for i in items] == [
        ("contact.personal.email", False), ("contact.personal.phoneNumber", True)]


def test_recorded_rejection_is_reproduced_byte_for_byte(civic_sandbox):
    response = post(civic_sandbox, b'{"authToken":"x"}', None)
    assert response.status_code == 401
    assert response.content == b"Unauthorized"
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Length"] == "12"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_get_405(civic_sandbox, method):
    response = post(civic_sandbox, b"{}", None, method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.json() == {"message": "Method Not Allowed"}


def test_oversized_body_gets_413_before_anything_is_read(civic_sandbox):
    response = post(civic_sandbox, b"x" * (1024 * 1024 + 1), "Civic a.b.c.d")
    assert response.status_code == 413


def test_stage_segment_is_free_like_the_sdk_env(civic_sandbox):
    code = civic_sandbox.mint_code()
    assert civic_sandbox.sip_post({"authToken": code["authToken"]}, env="dev").status_code == 200


# -- what the sandbox tolerates (all published clients did these, and all worked) -------------------------


def _send(sandbox, *, payload: str | None = None, header: str = NODE_HEADER, body_obj=None,
          wire: bytes | None = None, ext: str = "sorted", key=PARTNER_KEY,
          secret: str = SECRET) -> requests.Response:
    if body_obj is None:
        body_obj = {"authToken": sandbox.mint_code()["authToken"], "allowS3UploadedPayload": True}
    if wire is None:
        wire = json.dumps(body_obj, separators=(",", ":")).encode()
    if ext == "sorted":
        ext = hmac_b64(stable_stringify(body_obj).encode(), secret)
    elif ext == "raw":
        ext = hmac_b64(wire, secret)
    token = jws(header, payload if payload is not None else node_claims(sandbox.sip_api_url), key)
    return post(sandbox, wire, civic(token, ext))


@pytest.mark.parametrize("aud", [
    "https://api.civic.com/sip/", "https://api.civic.com/sip", "{sandbox}sip/", "{sandbox}sip",
])
def test_audience_with_or_without_slash_civics_or_the_sandboxs(civic_sandbox, aud):
    aud = aud.format(sandbox=civic_sandbox.url)
    response = _send(civic_sandbox, payload=node_claims(aud))
    assert response.status_code == 200, response.headers.get("X-Sandbox-Reason")


def test_integer_times_kid_header_and_escaped_slashes(civic_sandbox):
    now = int(time.time())
    payload = ('{"aud":"https:\\/\\/api.civic.com\\/sip\\/","iss":"%s","iat":%d,"exp":%d,'  # noqa: UP031
               '"data":{"method":"POST","path":"scopeRequest\\/authCode"},"sub":"%s"}'
               % (APP_ID, now, now + 70, APP_ID))
    response = _send(civic_sandbox, payload=payload, header='{"alg":"ES256","typ":"JWT","kid":"_o-3wxz"}')
    assert response.status_code == 200, response.headers.get("X-Sandbox-Reason")


def test_long_lived_partner_token_is_tolerated(civic_sandbox):
    # A Java client used exp = now + 3 months; no maximum lifetime is enforced.
    response = _send(civic_sandbox, payload=node_claims(civic_sandbox.sip_api_url, lifetime=90 * 86400))
    assert response.status_code == 200


def test_nbf_a_little_ahead_is_tolerated(civic_sandbox):
    now = int(time.time())
    payload = json.dumps({"iat": now, "nbf": now + 45, "exp": now + 180, "iss": APP_ID,
                          "aud": civic_sandbox.sip_api_url, "sub": APP_ID, "data": EXCHANGE_DATA})
    assert _send(civic_sandbox, payload=payload).status_code == 200


@pytest.mark.parametrize("ext", ["sorted", "raw"])
def test_ext_over_sorted_json_or_over_the_raw_body(civic_sandbox, ext):
    # Wire order differs from sorted order, so the two forms give different MACs; both are accepted.
    body_obj = {"authToken": civic_sandbox.mint_code()["authToken"], "allowS3UploadedPayload": True}
    assert stable_stringify(body_obj) != json.dumps(body_obj, separators=(",", ":"))
    assert _send(civic_sandbox, body_obj=body_obj, ext=ext).status_code == 200


def test_django_port_body_with_process_payload_is_accepted(civic_sandbox):
    body_obj = {"authToken": civic_sandbox.mint_code()["authToken"], "processPayload": True}
    assert _send(civic_sandbox, body_obj=body_obj, ext="raw").status_code == 200


# -- what the sandbox enforces: the partner's credentials (401) ------------------------------------------


def _reason(response: requests.Response) -> str:
    assert response.status_code == 401, (response.status_code, response.text)
    assert response.content == b"Unauthorized"
    return response.headers["X-Sandbox-Reason"]


@pytest.mark.parametrize(("authorization", "reason"), [
    ("Bearer a.b.c.d", "scheme"),
    ("civic a.b.c.d", "scheme"),
    ("Civic a.b.c", "credential"),
    ("Civic a.b.c.d.e", "credential"),
    ("Civic a..c.d", "credential"),
    ("Civic !!!.b.c.d", "header"),
])
def test_malformed_authorization_headers(civic_sandbox, authorization, reason):
    response = post(civic_sandbox, b'{"authToken":"x"}', authorization)
    assert reason in _reason(response)


def test_alg_none_partner_token_is_refused(civic_sandbox):
    body = b'{"authToken":"x"}'
    header = b64u(b'{"alg":"none","typ":"JWT"}')
    token = f"{header}.{b64u(node_claims(civic_sandbox.sip_api_url).encode())}.AAAA"
    assert "not ES256" in _reason(post(civic_sandbox, body, civic(token, hmac_b64(body))))


def test_hs256_partner_token_keyed_with_the_public_key_is_refused(civic_sandbox):
    body = b'{"authToken":"x"}'
    public_pem = PARTNER_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    for secret in (public_pem, defaults.SIP_APP_PUBLIC_KEY.encode()):
        header = b64u(b'{"alg":"HS256","typ":"JWT"}')
        signing_input = f"{header}.{b64u(node_claims(civic_sandbox.sip_api_url).encode())}"
        signature = b64u(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())
        response = post(civic_sandbox, body, civic(f"{signing_input}.{signature}", hmac_b64(body)))
        assert "not ES256" in _reason(response)


def test_partner_token_signed_with_another_key_is_refused(civic_sandbox):
    response = _send(civic_sandbox, key=stranger())
    assert "signature" in _reason(response)


def test_es256_header_with_es256k_style_garbage_signature_is_refused(civic_sandbox):
    body = b'{"authToken":"x"}'
    token = jws(NODE_HEADER, node_claims(civic_sandbox.sip_api_url))
    truncated = token[:-10]
    assert "partner token failed" in _reason(post(civic_sandbox, body, civic(truncated, hmac_b64(body))))


@pytest.mark.parametrize(("claims", "reason"), [
    ({"sub": "someone-else"}, "iss must equal sub"),
    ({"iss": "unknown-app", "sub": "unknown-app"}, "no app"),
    ({"iss": 12, "sub": 12}, "iss must equal sub"),
    ({"aud": "https://evil.example/sip/"}, "aud"),
    ({"aud": "https://api.civic.com/sip/prod/"}, "aud"),
    ({"data": {"method": "GET", "path": "scopeRequest/authCode"}}, "POST scopeRequest/authCode"),
    ({"data": {"method": "POST", "path": "/scopeRequest/authCode"}}, "POST scopeRequest/authCode"),
    ({"data": None}, "POST scopeRequest/authCode"),
    ({"exp": None}, "exp is missing"),
    ({"exp": "9999999999"}, "not a number"),
    ({"iat": -1, "exp": 1}, "expired"),
    ({"iat": "now+300"}, "issued in the future"),
    ({"nbf": "now+200"}, "not valid yet"),
    ({"exp": "now-61.5"}, "expired"),
])
def test_partner_token_claims_are_enforced(civic_sandbox, claims, reason):
    now = time.time()
    payload = {"jti": str(uuid.uuid4()), "iat": round(now, 3), "exp": round(now + 180, 3), "iss": APP_ID,
               "aud": civic_sandbox.sip_api_url, "sub": APP_ID, "data": EXCHANGE_DATA}
    for name, value in claims.items():
        if isinstance(value, str) and value.startswith("now"):
            value = now + float(value[3:])
        if value is None:
            payload.pop(name)
        else:
            payload[name] = value
    assert reason in _reason(_send(civic_sandbox, payload=json.dumps(payload)))


def test_partner_token_with_nan_expiry_is_refused(civic_sandbox):
    payload = node_claims(civic_sandbox.sip_api_url).replace('"exp":', '"exp":NaN,"x":')
    assert "finite" in _reason(_send(civic_sandbox, payload=payload))


@pytest.mark.parametrize("ext", [
    "tampered", "lowercase-secret", "other-body", "empty-hmac", "sha256-only",
])
def test_ext_must_be_the_hmac_of_this_body_with_this_secret(civic_sandbox, ext):
    body_obj = {"authToken": civic_sandbox.mint_code()["authToken"], "allowS3UploadedPayload": True}
    good = hmac_b64(stable_stringify(body_obj).encode())
    plain_hash = base64.b64encode(hashlib.sha256(stable_stringify(body_obj).encode()).digest()).decode()
    value = {
        "tampered": good[:5] + ("A" if good[5] != "A" else "B") + good[6:],
        "lowercase-secret": hmac_b64(stable_stringify(body_obj).encode(), SECRET.lower()),
        "other-body": hmac_b64(b'{"authToken":"something else"}'),
        "empty-hmac": hmac_b64(b""),
        "sha256-only": plain_hash,
    }[ext]
    assert "ext" in _reason(_send(civic_sandbox, body_obj=body_obj, ext=value))


def test_body_changed_after_signing_is_refused(civic_sandbox):
    signed = {"authToken": civic_sandbox.mint_code("alice")["authToken"]}
    swapped = json.dumps({"authToken": civic_sandbox.mint_code("bob")["authToken"]}).encode()
    token = jws(NODE_HEADER, node_claims(civic_sandbox.sip_api_url))
    response = post(civic_sandbox, swapped, civic(token, hmac_b64(stable_stringify(signed).encode())))
    assert "ext" in _reason(response)


# -- what the sandbox enforces: the auth code (400 {"message"}) -------------------------------------------


def _message(response: requests.Response) -> str:
    assert response.status_code == 400, (response.status_code, response.text)
    assert response.headers["Content-Type"] == "application/json"
    return response.json()["message"]


def test_an_auth_code_is_single_use(civic_sandbox):
    code = civic_sandbox.mint_code()
    assert node_request(civic_sandbox, code["authToken"]).status_code == 200
    assert "already been used" in _message(node_request(civic_sandbox, code["authToken"]))


def test_a_code_minted_for_another_app_is_refused(civic_sandbox):
    civic_sandbox.register_sip_app("other-app")
    code = civic_sandbox.mint_code(app_id="other-app")
    assert "another app" in _message(node_request(civic_sandbox, code["authToken"]))


def test_an_expired_code_is_refused(civic_sandbox):
    code = civic_sandbox.mint_code(age=1800 + 61 + 5)
    assert "expired" in _message(node_request(civic_sandbox, code["authToken"]))
    # Within the grace period it still works (the real service's clock is not ours either).
    fresh = civic_sandbox.mint_code(age=1800 + 30)
    assert node_request(civic_sandbox, fresh["authToken"]).status_code == 200


def _forge(header: dict, claims: dict, *, key=None, hs_secret: bytes | None = None) -> str:
    signing_input = f"{b64u(json.dumps(header).encode())}.{b64u(json.dumps(claims).encode())}"
    if hs_secret is not None:
        return f"{signing_input}.{b64u(hmac.new(hs_secret, signing_input.encode(), hashlib.sha256).digest())}"
    if key is None:
        return f"{signing_input}."
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64u(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _code_claims(sandbox) -> dict:
    """The claims of a real, unused code, to forge variants of it."""
    token = sandbox.mint_code()["authToken"]
    return json.loads(unb64u(token.split(".")[1]))


def test_forged_auth_codes_are_refused(civic_sandbox):
    claims = _code_claims(civic_sandbox)
    civic_pem = CIVIC_KEY.public_bytes(serialization.Encoding.PEM,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    hs256, es256 = {"alg": "HS256", "typ": "JWT"}, {"alg": "ES256", "typ": "JWT"}
    forgeries = {
        "alg none": _forge({"alg": "none", "typ": "JWT"}, claims),
        "HS256 with the Civic public key (PEM)": _forge(hs256, claims, hs_secret=civic_pem),
        "HS256 with the Civic public key (hex)": _forge(hs256, claims,
                                                        hs_secret=defaults.SIP_CIVIC_PUBLIC_KEY.encode()),
        "signed by another key": _forge(es256, claims, key=stranger()),
        "signed by the partner's key": _forge(es256, claims, key=PARTNER_KEY),
    }
    for name, token in forgeries.items():
        assert _message(node_request(civic_sandbox, token)) == "Auth token is invalid", name


def test_a_tampered_code_is_refused(civic_sandbox):
    head, payload, signature = civic_sandbox.mint_code("alice")["authToken"].split(".")
    claims = json.loads(unb64u(payload))
    claims["exp"] += 3600
    tampered = f"{head}.{b64u(json.dumps(claims).encode())}.{signature}"
    assert _message(node_request(civic_sandbox, tampered)) == "Auth token is invalid"


def test_a_civic_signed_code_the_sandbox_never_issued_is_refused(civic_sandbox):
    claims = _code_claims(civic_sandbox)
    claims["data"] = {"codeToken": str(uuid.uuid4())}
    token = _forge({"alg": "ES256", "typ": "JWT"}, claims, key=CIVIC_PRIVATE_KEY)
    assert _message(node_request(civic_sandbox, token)) == "Auth token is unknown"


def test_a_civic_signed_code_with_another_issuer_is_refused(civic_sandbox):
    claims = _code_claims(civic_sandbox)  # a real, unused code...
    claims["iss"] = "someone-else"  # ...re-signed by the Civic key, but not as Civic's SIP service
    token = _forge({"alg": "ES256", "typ": "JWT"}, claims, key=CIVIC_PRIVATE_KEY)
    assert _message(node_request(civic_sandbox, token)) == "Auth token is invalid"


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "not valid JSON"),
    (b"[1,2]", "not a JSON object"),
    (b"{}", "authToken is required"),
    (b'{"authToken":42}', "authToken is required"),
    (b'{"authToken":"garbage"}', "Auth token is invalid"),
    (b"[" * 5000, "not valid JSON"),
])
def test_bad_bodies_with_valid_credentials_get_400(civic_sandbox, body, message):
    assert message in _message(civic_sandbox.sip_post(body))


def test_a_refused_request_does_not_burn_the_code(civic_sandbox):
    code = civic_sandbox.mint_code()
    body_obj = {"authToken": code["authToken"]}
    assert _send(civic_sandbox, body_obj=body_obj, ext="raw", key=stranger()).status_code == 401
    assert _send(civic_sandbox, body_obj=body_obj, ext="raw").status_code == 200
