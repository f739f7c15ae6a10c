"""An unmodified, standards-compliant OIDC client library (Authlib) against the sandbox provider:
discovery, authorization code with PKCE S256, client_secret_basic, ID-token validation with the
provider's JWKS, userinfo and refresh, with no knowledge of django_civic."""

from __future__ import annotations

import warnings

import pytest
import requests

authlib = pytest.importorskip("authlib", reason="pip install authlib (in the test extra)")

REDIRECT = "http://127.0.0.1:9000/cb"


def test_authlib_code_flow_with_pkce(civic_sandbox):
    from authlib.common.security import generate_token
    from authlib.integrations.requests_client import OAuth2Session

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # authlib.jose moves to joserfc; still standard
        from authlib.jose import JsonWebKey, jwt
        from authlib.oidc.core import CodeIDToken

    metadata = requests.get(civic_sandbox.oidc_issuer + ".well-known/openid-configuration", timeout=5).json()
    session = OAuth2Session(civic_sandbox.oidc_client_id, civic_sandbox.oidc_client_secret,
                            scope="openid email profile", redirect_uri=REDIRECT, code_challenge_method="S256",
                            token_endpoint_auth_method="client_secret_basic")
    verifier, nonce = generate_token(64), generate_token(24)
    url, state = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier,
                                                  nonce=nonce)
    callback = civic_sandbox.oidc_approve(url, "carol")["redirect"]
    token = session.fetch_token(metadata["token_endpoint"], authorization_response=callback, state=state,
                                code_verifier=verifier)

    keys = JsonWebKey.import_key_set(requests.get(metadata["jwks_uri"], timeout=5).json())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        claims = jwt.decode(token["id_token"], keys, claims_cls=CodeIDToken,
                            claims_options={"iss": {"essential": True, "value": metadata["issuer"]}},
                            claims_params={"nonce": nonce, "client_id": civic_sandbox.oidc_client_id,
                                           "access_token": token["access_token"]})
        claims.validate()
    assert claims["sub"] == civic_sandbox.oidc_subject("carol")

    userinfo = session.get(metadata["userinfo_endpoint"], timeout=5).json()
    assert userinfo["sub"] == claims["sub"] and userinfo["email"] == "carol@example.net"

    refreshed = session.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != token["refresh_token"]


def test_authlib_public_client(civic_sandbox):
    from authlib.common.security import generate_token
    from authlib.integrations.requests_client import OAuth2Session

    registered = civic_sandbox.register_oidc_client(redirect_uris=[REDIRECT], public=True)
    metadata = requests.get(civic_sandbox.oidc_issuer + ".well-known/openid-configuration", timeout=5).json()
    session = OAuth2Session(registered["client_id"], scope="openid", redirect_uri=REDIRECT,
                            code_challenge_method="S256", token_endpoint_auth_method="none")
    verifier = generate_token(64)
    url, state = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier,
                                                  nonce=generate_token(16))
    callback = civic_sandbox.oidc_approve(url, "alice")["redirect"]
    token = session.fetch_token(metadata["token_endpoint"], authorization_response=callback, state=state,
                                code_verifier=verifier)
    assert token["id_token"] and token["token_type"] == "Bearer"
