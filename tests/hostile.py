"""Shared tools of the "under attack" tests (tests/test_attack_*.py): what was written, what came back,
and how to forge a token from a genuine one.

Every hostile request must end in a 4xx JSON error ``{"error", "detail"}`` (or, for the two views that
answer HTML or an empty body by design, the status they document), never a 500, and must write nothing:
:func:`db_rows` counts every table a login, a proofing session or a token could touch, before and after.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck
from hypothesis import strategies as st

#: Settings of every hypothesis test here: requests take milliseconds, fixtures are per test.
EXAMPLES: dict[str, Any] = {
    "deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}

# -- what was written --------------------------------------------------------------------------------


def db_rows() -> dict[str, int]:
    """Row counts of every table a request of the app could write to."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session
    from rest_framework.authtoken.models import Token

    from django_civic.models import CivicIdentity, ProofingSession, VerifiedAttribute

    return {
        "users": get_user_model().objects.count(),
        "identities": CivicIdentity.objects.count(),
        "attributes": VerifiedAttribute.objects.count(),
        "proofing_sessions": ProofingSession.objects.count(),
        "sessions": Session.objects.count(),
        "tokens": Token.objects.count(),
    }


def logged_in_user_ids() -> set[str]:
    """The user ids that any stored session is logged in as."""
    from django.contrib.sessions.models import Session

    return {str(uid) for uid in (s.get_decoded().get("_auth_user_id") for s in Session.objects.all()) if uid}


# -- what came back ----------------------------------------------------------------------------------


def assert_json_error(response: Any, *, codes: set[str] | None = None) -> dict[str, Any]:
    """A 4xx with the API's error shape: JSON ``{"error": <code>, "detail": <non-empty text>}``."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response["Content-Type"].split(";")[0] == "application/json", response["Content-Type"]
    body = json.loads(response.content)
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    if codes is not None:
        assert body["error"] in codes, body
    return body


# -- JWS pieces --------------------------------------------------------------------------------------


def b64url(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")))


def unb64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def split_jws(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return json.loads(unb64url(header)), json.loads(unb64url(payload)), signature


def es256_raw(header: dict[str, Any], claims: dict[str, Any], key: Any) -> str:
    """A token ES256-signed under ``key`` with any header at all (hostile ones included), written by hand:
    PyJWT, rightly, refuses to encode some of the headers an attacker can send."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    r, s = decode_dss_signature(key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def hs256(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    """A token "signed" with HMAC-SHA256 under ``key``: the classic attack keys it with the public key."""
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    mac = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


# Header values an attacker controls: key ids meant for path traversal, SQL, URLs, shell, and headers that
# point a naive library at a key of the attacker's choosing (jku/x5u/jwk, CVE-2018-0114).
KID_INJECTIONS = (
    "../../../../dev/null", "/etc/passwd", "' OR '1'='1", "\" or 1=1 --", "http://127.0.0.1:9/jwks",
    "$(touch /tmp/pwned)", "\u0000", "\ud7ff" * 3, "a" * 5000, "", " ", "kid\r\nX-Injected: 1",
)
KID_TYPES = st.one_of(
    st.sampled_from(KID_INJECTIONS), st.text(max_size=40), st.integers(), st.none(), st.booleans(),
    st.lists(st.text(max_size=4), max_size=2),
    st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
)


def forgeries(genuine: Callable[[], str], other: Callable[[], str], public_keys: list[bytes],
              attacker_url: str) -> st.SearchStrategy[tuple[str, str]]:
    """``(kind, token)`` pairs, each a genuine token broken the way attackers break them.

    ``genuine()`` returns a token that would be accepted as it is; ``other()`` another valid token of the
    same issuer (its signature is swapped in); ``public_keys`` are the verification key in every form an
    attacker would try as an HMAC secret (hex, PEM, DER, JWK JSON); ``attacker_url`` serves no key at all
    and must never be asked for one.
    """

    def build(kind: str, data: st.DataObject) -> tuple[str, str]:
        token = genuine()
        header, claims, signature = split_jws(token)
        head, body = token.split(".")[:2]
        if kind == "alg_none":
            alg = data.draw(st.sampled_from(["none", "None", "NONE", "nOnE"]))
            sig = data.draw(st.sampled_from(["", signature, "AAAA"]))
            return kind, f"{b64url_json({**header, 'alg': alg})}.{body}.{sig}"
        if kind == "hs256_public_key":
            alg = data.draw(st.sampled_from(["HS256", "HS384", "HS512"]))
            key = data.draw(st.sampled_from(public_keys))
            forged = hs256({**header, "alg": "HS256"}, claims, key)
            return kind, forged if alg == "HS256" else forged.replace(
                forged.split(".")[0], b64url_json({**header, "alg": alg}), 1)
        if kind == "kid_injection":
            kid = data.draw(KID_TYPES)
            return kind, f"{b64url_json({**header, 'kid': kid})}.{body}.{signature}"
        if kind == "key_in_header":
            name = data.draw(st.sampled_from(["jku", "x5u", "jwk", "x5c"]))
            value: Any = {"jku": f"{attacker_url}jwks", "x5u": f"{attacker_url}cert.pem",
                          "jwk": {"kty": "oct", "k": b64url(b"attacker")},
                          "x5c": [b64url(b"not a certificate")]}[name]
            return kind, f"{b64url_json({**header, name: value})}.{body}.{signature}"
        if kind == "swapped_signature":
            return kind, f"{head}.{body}.{other().split('.')[2]}"
        if kind == "claims_edited":
            name = data.draw(st.sampled_from(sorted(claims) or ["sub"]))
            new_value = data.draw(st.one_of(st.text(max_size=20), st.integers(), st.none()))
            return kind, f"{head}.{b64url_json({**claims, name: new_value})}.{signature}"
        if kind == "signature_mangled":
            raw = bytearray(unb64url(signature) or b"\0")
            index = data.draw(st.integers(0, len(raw) - 1))
            raw[index] ^= data.draw(st.integers(1, 255))
            mangled = b64url(bytes(raw))
            cut = data.draw(st.sampled_from([None, 0, 10]))
            return kind, f"{head}.{body}.{mangled if cut is None else mangled[:cut]}"
        if kind == "segments":
            shape = data.draw(st.sampled_from(["padding", "std_alphabet", "extra_segment", "whitespace",
                                               "unicode", "header_not_object", "payload_not_json"]))
            if shape == "padding":
                return kind, f"{head}==.{body}.{signature}"
            if shape == "std_alphabet":
                return kind, f"{head}.{body}.{signature.replace('-', '+').replace('_', '/')}+/"
            if shape == "extra_segment":
                return kind, f"{token}.{signature}"
            if shape == "whitespace":
                return kind, f"{head}. {body}.{signature}"
            if shape == "unicode":
                return kind, f"{head}.{body}.{signature}\u00e9"
            if shape == "header_not_object":
                return kind, f"{b64url_json(['ES256'])}.{body}.{signature}"
            return kind, f"{head}.{b64url(b'{not json')}.{signature}"
        raise AssertionError(kind)

    kinds = st.sampled_from(["alg_none", "hs256_public_key", "kid_injection", "key_in_header",
                             "swapped_signature", "claims_edited", "signature_mangled", "segments"])
    return st.tuples(kinds, st.data()).map(lambda pair: build(*pair))


# -- hostile bodies and headers ----------------------------------------------------------------------

JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)


def json_values(keys: list[str]) -> st.SearchStrategy[Any]:
    """Any JSON value, with objects mostly keyed by the endpoint's own field names."""
    key = st.sampled_from(keys) | st.text(max_size=8)
    return st.recursive(JSON_LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(key, inner,
                                                                                               max_size=4),
                        max_leaves=10)


def raw_bodies(keys: list[str]) -> st.SearchStrategy[bytes]:
    """Bodies as bytes: JSON of any shape, broken JSON, non-UTF-8, deep nesting, oversize, NaN."""
    return st.one_of(
        json_values(keys).map(lambda value: json.dumps(value).encode()),
        st.binary(max_size=200),
        st.sampled_from([
            b"", b"{", b"[" * 50_000 + b"]" * 50_000, b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
            b"\xff\xfe\xfd", b"\xc3\x28", b'{"token": "\xff"}', b'{"x": NaN}', b'{"x": Infinity}',
            b'{"x": 1e999999}', b"\x00" * 100, "{\"k\": \"\ud800\"}".encode("utf-8", "surrogatepass"),
            b"\xef\xbb\xbf{}", b'{"a": 1, "a": 2}', b" " * 70_000, json.dumps({"pad": "x" * 70_000}).encode(),
        ]),
    )


CONTENT_TYPES = st.sampled_from([
    "application/json", "application/json; charset=utf-8", "application/json; charset=latin-1",
    "application/json; charset=utf-16", "application/json; charset=nope", "APPLICATION/JSON",
    "text/plain", "text/html", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "multipart/form-data", "application/xml", "", "application/json\r\nX-Injected: 1", "*/*",
])

# Extra WSGI environ entries (request headers and the like) an attacker can set.
HOSTILE_META = st.fixed_dictionaries({}, optional={
    "HTTP_AUTHORIZATION": st.one_of(st.text(max_size=60), st.sampled_from([
        "Bearer", "Bearer ", "Bearer a.b.c", "Basic Zm9vOmJhcg==", "Token " + "x" * 40, "Civic a.b.c.d",
        "Bearer " + "A" * 20_000])),
    "HTTP_X_FORWARDED_FOR": st.one_of(st.text(max_size=40), st.just("1.2.3.4, " * 500)),
    "HTTP_COOKIE": st.one_of(st.text(max_size=60), st.just("csrftoken=" + "x" * 5000)),
    "HTTP_X_CSRFTOKEN": st.text(max_size=70),
    "HTTP_ACCEPT": st.sampled_from(["text/html", "application/xml", "*/*", "", "application/json;q=0"]),
    "HTTP_ORIGIN": st.sampled_from(["https://evil.example", "null", ""]),
    "HTTP_REFERER": st.sampled_from(["https://evil.example/", "not a url", ""]),
    # Lengths that lie low or make no sense. (A length above the real body cannot be sent through Django's
    # test client, which refuses to read past the body; the views cap what they read whatever it says.)
    "CONTENT_LENGTH": st.sampled_from(["-1", "abc", "0", "1e3", ""]),
})


def latin1(meta: dict[str, str]) -> dict[str, str]:
    """WSGI carries headers as latin-1 strings; an attacker's non-latin-1 text arrives as mojibake."""
    return {name: value.encode("utf-8", "surrogatepass").decode("latin-1") for name, value in meta.items()}


# -- open redirects --------------------------------------------------------------------------------------

#: ``next`` values that lead a browser off the site, or that some layer could decode into one that does.
HOSTILE_NEXT = (
    # other origins, plain and scheme-relative
    "https://evil.example/", "http://evil.example", "//evil.example", "///evil.example", "////evil.example/x",
    # backslashes, which browsers read as slashes
    "/\\evil.example", "\\\\evil.example", "\\/evil.example", "/\\/evil.example",
    # a scheme without a host, and schemes that run code
    "https:evil.example", "http:/evil.example", "https:///evil.example", "javascript:alert(1)",
    "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
    # control and invisible characters that browsers drop
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "\x00//evil.example", "/\x7f/evil.example",
    "/\u200b/evil.example", "/\u202e/evil.example", "/\u2028/evil.example", " //evil.example",
    "\u00a0//evil.example", "\ufeff//evil.example",
    # encoded forms, once, twice and three times
    "%2F%2Fevil.example", "/%2F/evil.example", "/%5Cevil.example", "%5C%5Cevil.example", "/%09/evil.example",
    "https%3A%2F%2Fevil.example", "/%252F%252Fevil.example", "/%255Cevil.example",
    "/%25252F%25252Fevil.example", "%2f%2fevil.example", "/%2F%5Cevil.example",
    # credentials and look-alikes that make a foreign URL read like ours
    "http://localhost@evil.example/", "http://localhost:80@evil.example/", "http://evil.example#@localhost/",
    "http://localhost.evil.example/", "http://evil.example\\@localhost/",
    # not rooted, and absurdly long
    "evil.example", "profile/", "/" + "a" * 3000,
)


def browser_destination(url: str, base: str) -> tuple[str, str | None]:
    """Where a browser at ``base`` goes for ``Location: url`` (scheme, host), following the WHATWG URL
    parser's repairs: tabs and newlines removed, C0 controls and spaces stripped, ``\\`` read as ``/``."""
    from urllib.parse import urljoin, urlsplit

    c0_and_space = "".join(map(chr, range(0x21)))
    cleaned = "".join(char for char in url if char not in "\t\n\r").strip(c0_and_space)
    scheme = urlsplit(cleaned).scheme.lower()
    if scheme in ("", "http", "https"):
        cleaned = cleaned.replace("\\", "/")
    target = urlsplit(urljoin(base, cleaned))
    return target.scheme, target.hostname
