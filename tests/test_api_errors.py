"""Bad input of any shape gets a 4xx JSON ``{"error", "detail"}`` and changes nothing (design.md section 4).

These requests never reach the sandbox: they are refused before any exchange, so no fixture is needed.
"""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from django_civic.models import CivicIdentity

URL = "/civic/sip/exchange/"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle(settings):
    caches["default"].clear()
    settings.CIVIC = {**settings.CIVIC, "API": {"THROTTLE_RATE": None}}


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def assert_nothing_changed():
    assert get_user_model().objects.count() == 0
    assert CivicIdentity.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{", "application/json", 400, "parse_error"),
        (b"\xff\xfe\x00", "application/json", 400, "parse_error"),
        (b'{"token": NaN}', "application/json", 400, "parse_error"),
        (b"[" * 20000 + b"]" * 20000, "application/json", 400, "parse_error"),
        (b"[1, 2]", "application/json", 400, "invalid"),
        (b'"a string"', "application/json", 400, "invalid"),
        (b"null", "application/json", 400, "invalid"),
        (b"{}", "application/json", 400, "token_required"),
        (b'{"token": ""}', "application/json", 400, "invalid"),
        (b'{"token": "   "}', "application/json", 400, "invalid"),
        (b'{"token": 12}', "application/json", 400, "invalid_token"),
        (b'{"token": ["a.b.c"]}', "application/json", 400, "invalid"),
        (b'{"token": {"x": 1}}', "application/json", 400, "invalid"),
        (b'{"token": "not-a-jwt"}', "application/json", 400, "invalid_token"),
        (b'{"token": "a.b"}', "application/json", 400, "invalid_token"),
        (b'{"token": "a.b.c<script>"}', "application/json", 400, "invalid_token"),
        (b'{"token": "a.b.c", "scope": "EVERYTHING"}', "application/json", 400, "invalid"),
        (b'{"token": "a.b.c", "next": ["/"]}', "application/json", 400, "invalid"),
        (json.dumps({"token": "a." * 3000 + "b"}).encode(), "application/json", 400, "invalid"),
        (b"token=a.b.c", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"a.b.c", "text/plain", 415, "unsupported_media_type"),
        (b"--x\r\n", "multipart/form-data; boundary=x", 415, "unsupported_media_type"),
        (b'{"token": "a.b.c"}', "application/json; charset=UTF-8", 400, "invalid_token"),
        (b'{"token": "a.b.c"}', "application/json; charset=utf8", 400, "invalid_token"),
        # JSON is UTF-8 (RFC 8259): any other charset, known to Python or not, is refused before decoding.
        (b'{"token": "a.b.c"}', "application/json; charset=bogus-charset", 415, "unsupported_charset"),
        (b'{"token": "a.b.c"}', "application/json; charset=utf-16", 415, "unsupported_charset"),
        (b'\xef\xbb\xbf{"token": "a.b.c"}', "application/json; charset=utf-8-sig", 415,
         "unsupported_charset"),
        ('{"token": "a.b.c"}'.encode("utf-16"), "application/json", 400, "parse_error"),
    ],
)
def test_garbage_bodies_are_4xx_json(client, body, content_type, status, code):
    # generic() sends the bytes as they are (post() would re-encode them to the declared charset).
    response = client.generic("POST", URL, body, content_type=content_type)
    assert_error(response, status, code)
    assert_nothing_changed()


# Codecs that are not text encodings: Python's codecs would inflate or decode the body with them.
_CODEC_CHARSETS = ("zlib_codec", "zlib", "bz2_codec", "bz2", "base64_codec", "hex_codec", "uu_codec",
                   "quopri_codec", "rot13", "utf-16", "utf-32", "latin-1", "cp500", "punycode")


@pytest.mark.parametrize("url", [URL, "/civic/auth/token/"])
def test_a_request_charset_never_decodes_the_body(client, url, record_figure):
    """Issue 13 item 1: ``charset=zlib_codec`` made a 50 KB body inflate to 50 MB past the 64 KB cap
    (a 389-byte bz2 body to 1.2 GB). Whatever the charset, nothing near that is allocated, and the
    answer is a 415 that changes nothing."""
    import tracemalloc
    import zlib

    inflated = (b'{"token": "a.b.c", "nonce_id": "n", "id_token": "a.b.c", "pad": "'
                + b"x" * 50_000_000 + b'"}')
    bomb = zlib.compress(inflated, 9)
    assert len(bomb) < 64 * 1024
    tracemalloc.start()
    try:
        response = client.generic("POST", url, bomb, content_type="application/json; charset=zlib_codec")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_error(response, 415, "unsupported_charset")
    assert peak < 5_000_000, f"{peak} bytes allocated for a {len(bomb)}-byte body"
    for charset in _CODEC_CHARSETS:
        response = client.generic("POST", url, b'{"token": "a.b.c"}',
                                  content_type=f"application/json; charset={charset}")
        assert_error(response, 415, "unsupported_charset")
    assert_nothing_changed()
    record_figure(f"hostile_input.charset.{url.strip('/').replace('/', '_')}", cases=1 + len(_CODEC_CHARSETS),
                  refused_415=1 + len(_CODEC_CHARSETS), peak_bytes_limit=5_000_000, bomb_bytes=len(bomb),
                  inflated_bytes=len(inflated), rows_written=0)


def test_a_well_formed_but_forged_token_is_invalid_token(client):
    # Three base64url parts, so it gets past the shape check: the backend's local pre-check refuses it
    # (signature) before any network call, which is why no sandbox is running here.
    forged = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzYW5kYm94LWFwcCJ9.c2lnbmF0dXJl"
    body = assert_error(client.post(URL, {"token": forged}, content_type="application/json"),
                        400, "invalid_token")
    assert body["retryable"] is False
    assert forged not in json.dumps(body)
    assert_nothing_changed()


def test_validation_errors_name_the_field(client):
    body = assert_error(
        client.post(URL, {"token": "a.b.c", "scope": "NOPE"}, content_type="application/json"),
        400, "invalid")
    assert list(body["fields"]) == ["scope"]


def test_oversized_body_is_413_before_parsing(client):
    huge = json.dumps({"token": "a.b.c", "padding": "x" * 100_000})
    assert_error(client.post(URL, huge, content_type="application/json"), 413, "payload_too_large")
    assert_nothing_changed()


def test_the_parser_caps_the_body_whatever_the_headers_say():
    # Under ASGI or a server that streams, Content-Length may be missing: the parser's own cap must hold.
    from django_civic.api.base import MAX_BODY_BYTES, BoundedJSONParser
    from django_civic.api.errors import PayloadTooLarge

    parser = BoundedJSONParser()
    with pytest.raises(PayloadTooLarge):
        parser.parse(io.BytesIO(b'{"a": "' + b"x" * MAX_BODY_BYTES + b'"}'))
    assert parser.parse(io.BytesIO(b'{"token": "a.b.c"}')) == {"token": "a.b.c"}


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_other_methods_are_405_json(client, method):
    response = getattr(client, method)(URL)
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"]


def test_a_browser_accept_header_still_gets_json(client):
    response = client.post(URL, b"{", content_type="application/json", HTTP_ACCEPT="text/html")
    assert_error(response, 400, "parse_error")


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Bearer", "invalid_token"),  # the bare scheme word is taken as a (bad) raw token
        ("Bearer not-a-jwt", "invalid_token"),
        ("Token a.b.c", "invalid_token"),
        ("Basic YWxhZGRpbjpvcGVuc2VzYW1l", "invalid_token"),
        ("Bearer a.b.c.d", "invalid_token"),
    ],
)
def test_bad_authorization_headers_are_invalid_token(client, header, code):
    response = client.post(URL, b"", content_type="application/json", HTTP_AUTHORIZATION=header)
    assert_error(response, 400, code)


def test_me_requires_authentication(client):
    response = client.get("/civic/me/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"
    assert_error(client.get("/civic/me/", HTTP_AUTHORIZATION="Token nope"), 401, "authentication_failed")
    assert_error(client.delete("/civic/me/identities/1/"), 401, "not_authenticated")


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.binary(max_size=300),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    ).map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries({"token": st.text(max_size=200)}, optional={
        "scope": st.text(max_size=20), "next": st.text(max_size=40),
    }).map(lambda value: json.dumps(value).encode()),
))
def test_any_body_gets_a_4xx_json_error(client, body):
    response = client.post(URL, body, content_type="application/json")
    assert 400 <= response.status_code < 500, response.content
    assert set(response.json()) >= {"error", "detail"}
    assert_nothing_changed()


def _b64url_json(value):
    import base64

    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_headers = st.fixed_dictionaries(
    {"alg": st.sampled_from(["ES256", "none", "HS256", "RS256", "", "ES256K"])},
    optional={"typ": st.sampled_from(["JWT", "jwt"]), "kid": st.text(max_size=8)},
)
_claims = st.fixed_dictionaries({}, optional={
    "iss": st.sampled_from(["civic-sip-hosted-service", "evil"]),
    "sub": st.sampled_from(["sandbox-app", "other"]),
    "aud": st.text(max_size=30), "exp": _json_values, "iat": _json_values,
    "data": st.one_of(_json_values, st.fixed_dictionaries({"codeToken": _json_values})),
})


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_headers, _claims, st.sampled_from(["", "AAAA", "c2lnbmF0dXJl", "A" * 86]))
def test_forged_jwts_of_any_shape_are_invalid_token(client, header, claims, signature):
    # Tokens that get past the shape check: alg none/HS256, wrong issuer or app, absurd times, no code.
    # The backend's local pre-check refuses every one before any network call (no sandbox runs here).
    token = f"{_b64url_json(header)}.{_b64url_json(claims)}.{signature}"
    response = client.post(URL, {"token": token}, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_token"
    assert_nothing_changed()
