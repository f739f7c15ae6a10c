"""``django_civic.protocols.jose``: the one strict JWS verifier behind SIP and Civic Auth tokens.

Tokens are signed by PyJWT (an independent implementation) with keys made here: every algorithm we
verify round-trips, and every way of bending the compact form, the header, the key or the signature is
refused with a reason, before any claim is read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import warnings

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from django_civic.protocols import jose as jws
from django_civic.protocols.civic_auth.jwks import ASYMMETRIC_ALGORITHMS

CLAIMS = {"iss": "https://issuer.example/", "sub": "someone", "exp": 2_000_000_000}
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

_PRIVATE_KEYS = {
    "RSA": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "P-256": ec.generate_private_key(ec.SECP256R1()),
    "P-384": ec.generate_private_key(ec.SECP384R1()),
    "P-521": ec.generate_private_key(ec.SECP521R1()),
    "Ed25519": ed25519.Ed25519PrivateKey.generate(),
    "Ed448": ed448.Ed448PrivateKey.generate(),
}
_KEY_FOR = {"RS256": "RSA", "RS384": "RSA", "RS512": "RSA", "PS256": "RSA", "PS384": "RSA", "PS512": "RSA",
            "ES256": "P-256", "ES384": "P-384", "ES512": "P-521", "EdDSA": "Ed25519"}


def b64url(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def sign(alg: str = "ES256", claims: dict | None = None, *, key_name: str | None = None,
         headers: dict | None = None) -> tuple[str, object]:
    """A token signed by PyJWT, and the public key that verifies it."""
    private = _PRIVATE_KEYS[key_name or _KEY_FOR[alg]]
    token = jwt.encode(CLAIMS if claims is None else claims, private, algorithm=alg, headers=headers)
    return token, private.public_key()


def resign(header_segment: str, payload_segment: str, key_name: str = "P-256") -> str:
    """Any header and payload text, properly ES256-signed: what a trusted issuer with odd output sends."""
    signing_input = f"{header_segment}.{payload_segment}"
    der = _PRIVATE_KEYS[key_name].sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def refused(token, key=None, alg="ES256", *, max_length: int | None = 16 * 1024) -> jws.JWSError:
    with pytest.raises(jws.JWSError) as info:
        jws.verify(jws.parse(token, max_length=max_length), key or _PRIVATE_KEYS["P-256"].public_key(), alg)
    return info.value


# -- what is accepted ------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", sorted(_KEY_FOR))
def test_every_rsa_and_ecdsa_algorithm_round_trips_with_pyjwt(alg):
    token, public = sign(alg)
    parsed = jws.parse(token, max_length=None)
    assert parsed.alg == alg
    assert jws.verify(parsed, public, alg) == CLAIMS


@pytest.mark.parametrize("curve", ["Ed25519", "Ed448"])
def test_eddsa_round_trips_with_pyjwt(curve):
    token, public = sign("EdDSA", key_name=curve)
    assert jws.verify(jws.parse(token, max_length=None), public, "EdDSA") == CLAIMS


def test_the_oidc_allow_list_is_exactly_what_can_be_verified():
    assert ASYMMETRIC_ALGORITHMS == jws.ALGORITHMS
    assert not {"none", "HS256", "HS384", "HS512"} & jws.ALGORITHMS


def test_a_payload_larger_than_a_chunk_round_trips():
    claims = {**CLAIMS, "data": "é" * (3 << 20)}  # ~6 MB of UTF-8, several decode and hash chunks
    token, public = sign("ES256", claims)
    assert len(token) > 3 * (1 << 20)
    assert jws.verify(jws.parse(token, max_length=None), public, "ES256") == claims


def test_header_members_that_name_keys_are_never_used():
    """jku/jwk/x5u/x5c (CVE-2018-0114 style): the key always comes from the caller."""
    attacker = ec.generate_private_key(ec.SECP256R1())
    embedded = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(attacker.public_key()))
    for name, value in (("jwk", embedded), ("jku", "http://127.0.0.1:9/jwks"),
                        ("x5u", "http://127.0.0.1:9/cert.pem"), ("x5c", ["AAAA"])):
        token = jwt.encode(CLAIMS, attacker, algorithm="ES256", headers={name: value})
        assert refused(token).reason == "bad_signature"


def test_a_parsed_token_never_shows_itself():
    token, _public = sign()
    assert token not in repr(jws.parse(token, max_length=None))
    assert jws.parse(token, max_length=None).signing_input == token.rsplit(".", 1)[0]


# -- the compact form and base64url ------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, 42, b"a.b.c", "", "abc", "a.b", "a.b.c.d", "..", "a..", "..."])
def test_not_a_compact_jws(token):
    with pytest.raises(jws.JWSError) as info:
        jws.parse(token, max_length=1000)
    assert info.value.reason == "malformed"


def test_max_length_is_enforced_and_none_means_no_limit():
    token, _public = sign()
    with pytest.raises(jws.JWSError):
        jws.parse(token, max_length=len(token) - 1)
    assert jws.parse(token, max_length=len(token)).alg == "ES256"


def _respell(token: str, index: int, change) -> str:
    parts = token.split(".")
    parts[index] = change(parts[index])
    return ".".join(parts)


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize("change", [
    pytest.param(lambda s: s + "=" * (-len(s) % 4 or 4), id="padding"),
    pytest.param(lambda s: s + "==", id="two-equals"),
    pytest.param(lambda s: s.replace("-", "+").replace("_", "/") + "+/", id="standard-alphabet"),
    pytest.param(lambda s: s[:4] + " " + s[4:], id="space"),
    pytest.param(lambda s: s[:4] + "\n" + s[4:], id="newline"),
    pytest.param(lambda s: s + "\u00e9", id="non-ascii"),
    pytest.param(lambda s: s + "A" * (1 if len(s) % 4 == 0 else 5 - len(s) % 4), id="length-mod-4-is-1"),
    pytest.param(lambda s: s[:2] + "!" + s[3:], id="punctuation"),
])
def test_segments_must_be_unpadded_base64url(index, change):
    token, public = sign()
    bent = _respell(token, index, change)
    assert bent != token
    with pytest.raises(jws.JWSError) as info:
        jws.verify(jws.parse(bent, max_length=None), public, "ES256")
    assert info.value.reason == "malformed"


def _non_canonical(segment: str) -> str:
    """The same bytes with a non-zero unused bit in the last character (decoders that ignore it agree)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    assert len(segment) % 4 in (2, 3)
    value = alphabet.index(segment[-1]) | 1
    bent = segment[:-1] + alphabet[value]
    assert unb64url(bent) == unb64url(segment) and bent != segment
    return bent


@pytest.mark.parametrize("remainder", [2, 3])
def test_trailing_bits_must_be_zero_in_every_segment(remainder):
    # Find claims whose payload segment ends with a group of ``remainder`` characters.
    candidates = ({**CLAIMS, "pad": "x" * n} for n in range(8))
    claims = next(c for c in candidates if len(b64url(json.dumps(c, separators=(",", ":")))) % 4 == remainder)
    token, public = sign("ES256", claims)
    header, payload, signature = token.split(".")
    assert len(signature) % 4 == 2  # 64 bytes: 86 characters
    for bent in (f"{header}.{_non_canonical(payload)}.{signature}",
                 f"{header}.{payload}.{_non_canonical(signature)}"):
        assert refused(bent, public).reason == "malformed"
    if len(header) % 4 in (2, 3):
        assert refused(f"{_non_canonical(header)}.{payload}.{signature}", public).reason == "malformed"


@settings(max_examples=300, deadline=None)
@given(segment=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ ",
                       max_size=12))
def test_a_segment_is_accepted_exactly_when_it_is_the_canonical_spelling_of_its_bytes(segment):
    header = b64url('{"alg":"ES256"}')
    try:
        canonical = b64url(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except ValueError:
        canonical = None
    expected = canonical == segment and "=" not in segment
    try:
        jws.parse(f"{header}.{segment}.{segment}", max_length=None)
        accepted = True
    except jws.JWSError:
        accepted = False
    assert accepted == expected, segment


# -- the header --------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [
    pytest.param(b'["ES256"]', id="array"),
    pytest.param(b'"ES256"', id="string"),
    pytest.param(b"null", id="null"),
    pytest.param(b"{not json", id="not-json"),
    pytest.param(b'{"alg":"ES256"} x', id="trailing-text"),
    pytest.param(b'{"alg":"ES256","alg":"none"}', id="duplicate-alg"),
    pytest.param(b'{"alg":"ES256","kid":"a","kid":"b"}', id="duplicate-kid"),
    pytest.param('{"alg":"ES256"}'.encode("utf-16"), id="utf-16"),
    pytest.param(b'\xef\xbb\xbf{"alg":"ES256"}', id="utf-8-bom"),
    pytest.param(b'{"alg":"ES256","x":"\xff"}', id="not-utf-8"),
    pytest.param(b'{"alg":"ES256","crit":["exp"]}', id="crit"),
    pytest.param(b'{"alg":"ES256","crit":[]}', id="empty-crit"),
    pytest.param(b'{"alg":"ES256","b64":false}', id="b64-false"),
    pytest.param(b'{"alg":"ES256","b64":true}', id="b64-true"),
    pytest.param(b'{"a":' * 50_000 + b"1" + b"}" * 50_000, id="deeply-nested"),
])
def test_malformed_headers_are_refused_before_any_key_is_used(header):
    token = resign(b64url(header), b64url(json.dumps(CLAIMS)))
    with pytest.raises(jws.JWSError) as info:
        jws.parse(token, max_length=None)
    assert info.value.reason == "malformed"


# -- algorithms and keys -------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "HS256", "HS384", "HS512", "ES256K", "RSA-OAEP", "", None, 1,
                                 ["ES256"]])
def test_only_asymmetric_algorithms_exist(alg):
    token = resign(b64url(json.dumps({"alg": alg})), b64url(json.dumps(CLAIMS)))
    parsed = jws.parse(token, max_length=None)
    for asked in (alg, "ES256"):
        with pytest.raises(jws.JWSError) as info:
            jws.verify(parsed, _PRIVATE_KEYS["P-256"].public_key(), asked)  # type: ignore[arg-type]
        assert info.value.reason == "alg_not_allowed"


def test_hs256_keyed_with_the_public_key_has_nothing_to_run_on():
    public = _PRIVATE_KEYS["RSA"].public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{b64url(json.dumps({'alg': 'HS256'}))}.{b64url(json.dumps(CLAIMS))}"
    token = f"{signing_input}.{b64url(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())}"
    for key in (public, pem):
        assert refused(token, key, "HS256").reason == "alg_not_allowed"
        assert refused(token, key, "RS256").reason == "alg_not_allowed"  # the header says HS256


def test_the_header_must_name_the_algorithm_the_caller_verifies_with():
    token, public = sign("RS256")
    for other in ("RS512", "PS256"):
        assert refused(token, public, other).reason == "alg_not_allowed"


@pytest.mark.parametrize(("alg", "key_name"), [
    ("ES256", "RSA"), ("ES256", "P-384"), ("ES384", "P-256"), ("ES512", "P-256"), ("ES256", "Ed25519"),
    ("RS256", "P-256"), ("PS256", "Ed25519"), ("EdDSA", "P-256"), ("EdDSA", "RSA"),
])
def test_the_key_must_fit_the_algorithm(alg, key_name):
    token, _public = sign(alg)
    assert refused(token, _PRIVATE_KEYS[key_name].public_key(), alg).reason == "bad_key"


@pytest.mark.parametrize("key", [b"secret", "secret", None, {"kty": "EC"}])
def test_a_key_that_is_not_a_public_key_object_is_refused(key):
    token, _public = sign("ES256")
    with pytest.raises(jws.JWSError) as info:
        jws.verify(jws.parse(token, max_length=None), key, "ES256")
    assert info.value.reason == "bad_key"


def test_rsa_keys_below_2048_bits_are_refused():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns about signing with it, rightly
        token = jwt.encode(CLAIMS, small, algorithm="RS256")
    assert refused(token, small.public_key(), "RS256").reason == "bad_key"


# -- signatures ---------------------------------------------------------------------------------------


def test_an_ecdsa_signature_in_der_form_is_refused():
    token, public = sign("ES256")
    signing_input = token.rsplit(".", 1)[0]
    der = _PRIVATE_KEYS["P-256"].sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    assert refused(f"{signing_input}.{b64url(der)}", public).reason == "bad_signature"


@pytest.mark.parametrize("change", [
    pytest.param(lambda raw: raw[:-1], id="one-byte-short"),
    pytest.param(lambda raw: raw + b"\0", id="one-byte-long"),
    pytest.param(lambda raw: b"\0" + raw, id="leading-zero"),
    pytest.param(lambda raw: b"", id="empty"),
    pytest.param(lambda raw: raw[: len(raw) // 2], id="half"),
    pytest.param(lambda raw: bytes(len(raw)), id="zeros"),
])
@pytest.mark.parametrize("alg", ["ES256", "ES512", "RS256", "PS384"])
def test_signatures_of_the_wrong_length_or_value_are_refused(alg, change):
    token, public = sign(alg)
    signing_input, signature = token.rsplit(".", 1)
    bent = f"{signing_input}.{b64url(change(unb64url(signature)))}"
    assert refused(bent, public, alg).reason == "bad_signature"


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512"])
def test_raw_ecdsa_signatures_are_exactly_two_coordinates_long(alg):
    """R || 0x00 || S reads as the same two numbers if S is taken as "the rest": refused by its length."""
    token, public = sign(alg)
    signing_input, signature = token.rsplit(".", 1)
    raw = unb64url(signature)
    half = len(raw) // 2
    for bent in (raw[:half] + b"\0" + raw[half:], b"\0" + raw[:half] + b"\0" + raw[half:]):
        assert refused(f"{signing_input}.{b64url(bent)}", public, alg).reason == "bad_signature"


@pytest.mark.parametrize("curve", ["Ed25519", "Ed448"])
def test_eddsa_signatures_of_the_wrong_length_are_refused(curve):
    token, public = sign("EdDSA", key_name=curve)
    signing_input, signature = token.rsplit(".", 1)
    for raw in (unb64url(signature)[:-1], unb64url(signature) + b"\0"):
        assert refused(f"{signing_input}.{b64url(raw)}", public, "EdDSA").reason == "bad_signature"


def test_ecdsa_signatures_are_malleable_so_callers_identify_tokens_by_their_signing_input():
    """(r, n - s) verifies too: a replay check keyed on the signature would see a new token."""
    token, public = sign("ES256")
    signing_input, signature = token.rsplit(".", 1)
    raw = unb64url(signature)
    s = int.from_bytes(raw[32:], "big")
    twin = f"{signing_input}.{b64url(raw[:32] + (P256_ORDER - s).to_bytes(32, 'big'))}"
    assert jws.verify(jws.parse(twin, max_length=None), public, "ES256") == CLAIMS
    assert jws.parse(twin, max_length=None).signing_input == jws.parse(token, max_length=None).signing_input


def test_the_signature_is_checked_before_the_payload_is_read():
    """A forged token with a broken payload is a bad signature, not a JSON error: its claims are never
    parsed."""
    token, public = sign("ES256")
    header, _payload, signature = token.split(".")
    for payload in (b"{not json", b"[1,2]", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, b"\xff\xfe"):
        forged = f"{header}.{b64url(payload)}.{signature}"
        assert refused(forged, public, max_length=None).reason == "bad_signature"


# -- the claims ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [
    pytest.param(b"[1,2]", id="array"),
    pytest.param(b'"claims"', id="string"),
    pytest.param(b"{not json", id="not-json"),
    pytest.param(b'{"sub":"a","sub":"b"}', id="duplicate-sub"),
    pytest.param(b'{"nested":{"x":1,"x":2}}', id="nested-duplicate"),
    pytest.param(b'{"sub":"\xff"}', id="not-utf-8"),
    pytest.param('{"sub":"a"}'.encode("utf-32"), id="utf-32"),
    pytest.param(b"", id="empty"),
    pytest.param(b'{"a":' * 50_000 + b"1" + b"}" * 50_000, id="deeply-nested"),
])
def test_signed_claims_that_are_not_one_json_object_are_refused(payload):
    token = resign(b64url('{"alg":"ES256"}'), b64url(payload))
    assert refused(token).reason == "malformed"


def test_unverified_claims_are_a_new_object_each_time_and_do_not_leak_into_the_verified_ones():
    token, public = sign("ES256")
    parsed = jws.parse(token, max_length=None)
    stated = parsed.unverified_claims()
    assert stated == CLAIMS and parsed.unverified_claims() is not stated
    stated["sub"] = "someone-else"
    assert jws.verify(parsed, public, "ES256")["sub"] == "someone"


def test_nothing_done_to_the_unverified_claims_reaches_the_verified_ones_however_deep():
    claims = {**CLAIMS, "aud": ["api"], "cnf": {"jkt": "thumbprint"}}
    token, public = sign("ES256", claims)
    parsed = jws.parse(token, max_length=None)
    stated = parsed.unverified_claims()
    stated["aud"].append("attacker")
    stated["cnf"]["jkt"] = "attacker"
    parsed.unverified_claim("aud").append("attacker")
    assert jws.verify(parsed, public, "ES256") == claims
    assert parsed.unverified_claims() == claims and parsed.unverified_claim("sub") == "someone"


def test_claims_read_before_verifying_are_still_refused_with_a_forged_signature():
    """verify() reuses the parse of unverified_claims(), and only once the signature checks."""
    stranger = ec.generate_private_key(ec.SECP256R1())
    forged = jws.parse(jwt.encode(CLAIMS, stranger, algorithm="ES256"), max_length=None)
    assert forged.unverified_claims() == CLAIMS
    with pytest.raises(jws.JWSError) as info:
        jws.verify(forged, _PRIVATE_KEYS["P-256"].public_key(), "ES256")
    assert info.value.reason == "bad_signature"


def test_a_parsed_header_is_the_token_s_own_whatever_another_parse_did_with_its_copy():
    """Headers are parsed once and remembered (jose._known_header): each parse gets its own copy."""
    token, public = sign("ES256")
    first = jws.parse(token, max_length=None)
    first.header["alg"] = "none"
    first.header["kid"] = "attacker"
    again = jws.parse(token, max_length=None)
    assert again.header == {"alg": "ES256", "typ": "JWT"}
    assert jws.verify(again, public, "ES256") == CLAIMS
    nested, public = sign("ES256", headers={"x5c": ["AAAA"]})
    jws.parse(nested, max_length=None).header["x5c"].append("attacker")
    assert jws.parse(nested, max_length=None).header["x5c"] == ["AAAA"]


def test_a_long_header_is_parsed_and_checked_like_any_other():
    header = b64url(json.dumps({"alg": "ES256", "pad": "x" * 2000}))
    token = resign(header, b64url(json.dumps(CLAIMS)))
    assert len(header) > 512
    parsed = jws.parse(token, max_length=None)
    assert parsed.header["pad"] == "x" * 2000
    refused_header = b64url(json.dumps({"alg": "ES256", "crit": ["x"], "pad": "x" * 2000}))
    assert refused(resign(refused_header, b64url(json.dumps(CLAIMS)))).reason == "malformed"


def test_unverified_claims_of_a_token_whose_payload_is_not_an_object_are_none():
    token = resign(b64url('{"alg":"ES256"}'), b64url(b"[1]"))
    assert jws.parse(token, max_length=None).unverified_claims() is None
