"""``CivicAccessTokenAuthentication``: Civic access tokens verified locally, no network on the hot path."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.cache import caches
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from django_civic.civic_auth.authentication import CivicAccessToken, CivicAccessTokenAuthentication
from django_civic.models import CivicIdentity

pytestmark = pytest.mark.django_db


class WhoAmI(APIView):
    authentication_classes = [CivicAccessTokenAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"username": request.user.get_username(), "sub": request.auth.subject,
                         "scopes": request.auth.scopes})


@pytest.fixture
def civic(settings, civic_sandbox):
    caches["default"].clear()
    settings.CIVIC = civic_sandbox.civic_settings(SANDBOX_ALLOW_WITHOUT_DEBUG=True)
    return civic_sandbox


@pytest.fixture
def alice(civic):
    user = get_user_model().objects.create_user("alice")
    CivicIdentity.objects.create(user=user, provider=civic.oidc_issuer, subject=civic.oidc_subject("alice"))
    return user


def call(token, scheme="Bearer"):
    request = APIRequestFactory().get("/api/whoami/", HTTP_AUTHORIZATION=f"{scheme} {token}")
    response = WhoAmI.as_view()(request)
    response.render()
    return response


def b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_civic_access_token_authenticates_its_user(civic, alice):
    response = call(civic.mint_oidc_token(type="access"))
    assert response.status_code == 200
    assert response.data == {"username": "alice", "sub": civic.oidc_subject("alice"),
                             "scopes": ["openid", "email", "profile"]}


def test_zero_network_calls_once_keys_are_cached(civic, alice):
    token = civic.mint_oidc_token(type="access")
    assert call(token).status_code == 200  # warms discovery and JWKS
    civic.clear_oidc_stats()
    # Break the provider completely: any request reaching it would fail (and be counted).
    for channel in ("oidc.discovery", "oidc.jwks", "oidc.userinfo", "oidc.token"):
        civic.inject_fault(channel, "status", status=503, count=100)
    for _ in range(25):
        assert call(token).status_code == 200
    assert civic.oidc_stats() == {}


def test_the_token_of_the_redirect_flow_works_as_bearer(civic, settings):
    """End to end: log in through the redirect flow, then call the API with the session's access token."""
    from urllib.parse import urlsplit

    from django.test import Client

    settings.CIVIC = {**settings.CIVIC, "AUTH": {"STORE_TOKENS": True}}
    web = Client(SERVER_NAME="localhost")
    location = web.post("/civic/auth/login/")["Location"]
    params = civic.oidc_approve(location, "carol")
    parts = urlsplit(params["redirect"])
    assert web.get(f"{parts.path}?{parts.query}").status_code == 302
    token = web.session["django_civic.oidc.tokens"]["access_token"]
    response = call(token)
    assert response.status_code == 200 and response.data["sub"] == civic.oidc_subject("carol")


@pytest.mark.parametrize("mint", [
    {"type": "id", "nonce": "n"},                                  # an ID token is not an access token
    {"type": "id"},                                                # not even without nonce and at_hash
    {"type": "id", "remove": ["jti", "auth_time"]},                # nor stripped to the bare claims
    {"type": "access", "claims": {"nonce": "n"}},                  # nor an access token with ID claims
    {"type": "access", "client_id": "another-client"},             # issued to another application
    {"type": "access", "claims": {"exp": 1000, "iat": 900}},       # expired
    {"type": "access", "claims": {"iss": "https://auth.civic.com/oauth/"}, "fault": "bad_signature"},
    {"type": "access", "fault": "bad_signature"},
    {"type": "access", "fault": "unknown_kid"},
    {"type": "access", "fault": "alg_none"},
])
def test_invalid_access_tokens_are_401(civic, alice, mint):
    response = call(civic.mint_oidc_token(**mint))
    # Another issuer's token is not ours to judge (no authentication); every other one is refused.
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_hs256_with_the_public_key_is_401(civic, alice):
    import jwt
    from cryptography.hazmat.primitives import serialization

    jwk = requests.get(civic.oidc_issuer + "jwks", timeout=5).json()["keys"][0]
    pem = jwt.PyJWK(jwk).key.public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    claims = json.loads(base64.urlsafe_b64decode(civic.mint_oidc_token(type="access").split(".")[1] + "=="))
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': jwk['kid']})}.{b64(claims)}"
    signature = b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())
    assert call(f"{signing_input}.{signature}").status_code == 401


def test_a_token_for_an_unknown_identity_is_401(civic, alice):
    response = call(civic.mint_oidc_token(type="access", persona="bob"))
    assert response.status_code == 401 and response.data["detail"].code == "no_active_account"


def test_an_inactive_user_is_401(civic, alice):
    alice.is_active = False
    alice.save()
    assert call(civic.mint_oidc_token(type="access")).status_code == 401


def test_the_identity_is_matched_exactly(civic, alice):
    CivicIdentity.objects.filter(user=alice).update(subject=civic.oidc_subject("alice").upper())
    assert call(civic.mint_oidc_token(type="access")).status_code == 401


def test_a_configured_audience_is_required(civic, alice, settings):
    settings.CIVIC = {**settings.CIVIC, "AUTH": {"ACCESS_TOKEN_AUDIENCE": "https://api.example.com"}}
    assert call(civic.mint_oidc_token(type="access")).status_code == 401
    token = civic.mint_oidc_token(type="access", claims={"aud": ["https://api.example.com", "x"]})
    assert call(token).status_code == 200


def test_other_bearer_tokens_are_left_to_other_classes(civic, alice):
    from rest_framework_simplejwt.tokens import AccessToken

    simplejwt = str(AccessToken.for_user(alice))
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {simplejwt}")
    assert CivicAccessTokenAuthentication().authenticate(request) is None
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION="Bearer opaque-token")
    assert CivicAccessTokenAuthentication().authenticate(request) is None
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION="Token abc")
    assert CivicAccessTokenAuthentication().authenticate(request) is None


def test_cold_cache_with_the_provider_down_is_503(civic, alice):
    token = civic.mint_oidc_token(type="access")
    civic.inject_fault("oidc.jwks", "status", status=500)
    response = call(token)
    assert response.status_code == 503


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer \xff.a.b"])
def test_malformed_headers(civic, header):
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=header)
    response = WhoAmI.as_view()(request)
    assert response.status_code == 401


def test_request_auth_never_shows_the_token(civic, alice):
    token = civic.mint_oidc_token(type="access")
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {token}")
    _user, auth = CivicAccessTokenAuthentication().authenticate(request)
    assert isinstance(auth, CivicAccessToken) and token not in repr(auth)


@pytest.mark.parametrize("bend", [
    pytest.param(lambda token: token + "=" * (-len(token) % 4 or 2), id="padded-signature"),
    pytest.param(lambda token: token.replace("-", "+").replace("_", "/") + "+/", id="standard-alphabet"),
    pytest.param(
        lambda token: token[:-1] + {"A": "B", "Q": "R", "g": "h", "w": "x"}.get(token[-1], token[-1]),
        id="non-canonical-last-character"),
])
def test_a_civic_token_that_is_not_strict_base64url_authenticates_nobody(civic, alice, bend):
    """Not a well-formed JWS, so not a Civic token: left to other classes, and this view refuses it."""
    token = civic.mint_oidc_token(type="access")
    bent = bend(token)
    assert bent != token
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {bent}")
    assert CivicAccessTokenAuthentication().authenticate(request) is None
    assert call(bent).status_code == 401


@pytest.mark.parametrize("claims", [
    {"exp": 10 ** 400}, {"iat": 10 ** 400}, {"nbf": 10 ** 400}, {"exp": 1e300}, {"exp": -(10 ** 400)},
    {"sub": "\ud800"}, {"sub": "ok\udfffok"}, {"client_id": "\ud800"}, {"scope": "openid \ud800"},
    {"aud": ["\ud800"]},
])
def test_provider_signed_ill_formed_claims_are_401_never_500(civic, alice, claims):
    """Issue 13 item 8: signed by the provider's own key, out-of-range times and lone surrogates were a
    500 (OverflowError, UnicodeEncodeError). Whoever signed it, a token of any shape is a 401."""
    response = call(civic.mint_oidc_token(type="access", claims=claims))
    # invalid_token, or not_authenticated where the claims cannot even be read as text (not ours to judge).
    assert response.status_code == 401, response.content
