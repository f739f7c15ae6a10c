"""The sandbox's Civic Auth provider, spoken to as any standards-compliant OIDC client would: raw HTTP."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests

REDIRECT = "http://127.0.0.1:9000/cb"


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(sandbox, **params):
    base = {"response_type": "code", "client_id": sandbox.oidc_client_id, "redirect_uri": REDIRECT,
            "scope": "openid email profile", "state": "st", "nonce": "no"}
    return requests.get(sandbox.oidc_issuer + "auth", params={**base, **params}, allow_redirects=False,
                        timeout=5)


def redirected(response) -> dict:
    assert response.status_code == 302, response.text[:300]
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def token(sandbox, form, auth=None):
    return requests.post(sandbox.oidc_issuer + "token", data=form, auth=auth, timeout=5)


def default_auth(sandbox):
    return (sandbox.oidc_client_id, sandbox.oidc_client_secret)


def code_for(sandbox, persona="alice", **params):
    verifier, challenge = pkce()
    result = redirected(authorize(sandbox, login_hint=persona, code_challenge=challenge,
                                  code_challenge_method="S256", **params))
    return result["code"], verifier


def test_discovery_document(civic_sandbox):
    doc = requests.get(civic_sandbox.oidc_issuer + ".well-known/openid-configuration", timeout=5).json()
    issuer = civic_sandbox.oidc_issuer
    assert doc["issuer"] == issuer and issuer.endswith("/oauth/")
    assert doc["authorization_endpoint"] == issuer + "auth" and doc["token_endpoint"] == issuer + "token"
    assert doc["jwks_uri"] == issuer + "jwks" and doc["userinfo_endpoint"] == issuer + "userinfo"
    assert doc["end_session_endpoint"] == issuer + "session/end"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "urn:ietf:params:oauth:grant-type:token-exchange" in doc["grant_types_supported"]


def test_jwks_has_rs256_keys_with_kid(civic_sandbox):
    keys = requests.get(civic_sandbox.oidc_issuer + "jwks", timeout=5).json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["kid"]
    assert "d" not in keys[0]
    civic_sandbox.rotate_oidc_keys()
    assert len(requests.get(civic_sandbox.oidc_issuer + "jwks", timeout=5).json()["keys"]) == 2


def test_persona_chooser(civic_sandbox):
    verifier, challenge = pkce()
    page = authorize(civic_sandbox, code_challenge=challenge, code_challenge_method="S256")
    assert page.status_code == 200 and 'data-testid="oidc-persona-alice"' in page.text
    assert 'data-testid="oidc-persona-bob"' in page.text and 'data-testid="oidc-deny"' in page.text
    assert f'name="code_challenge" value="{challenge}"' in page.text


def test_login_hint_approves_at_once_and_the_code_is_exchanged(civic_sandbox):
    code, verifier = code_for(civic_sandbox, "carol")
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier}
    response = token(civic_sandbox, form, auth=default_auth(civic_sandbox))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["refresh_token"]
    claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert claims["nonce"] == "no" and claims["aud"] == civic_sandbox.oidc_client_id
    assert claims["sub"] == civic_sandbox.oidc_subject("carol") and claims["email"] == "carol@example.net"
    assert jwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"


def test_the_authorization_response_names_the_issuer(civic_sandbox):
    result = redirected(authorize(civic_sandbox, login_hint="alice", code_challenge=pkce()[1],
                                  code_challenge_method="S256"))
    assert result["iss"] == civic_sandbox.oidc_issuer and result["state"] == "st"


def test_unknown_client_and_unregistered_redirects_are_never_redirected_to(civic_sandbox):
    response = authorize(civic_sandbox, client_id="nope")
    assert response.status_code == 400 and "0x0003" in response.text
    response = authorize(civic_sandbox, redirect_uri="https://evil.example/cb")
    assert response.status_code == 400 and "0x0004" in response.text


@pytest.mark.parametrize("params,error", [
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "email"}, "invalid_scope"),
    ({"scope": "openid admin"}, "invalid_scope"),
    ({"code_challenge": "a" * 43, "code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
    ({"prompt": "none"}, "login_required"),
])
def test_authorization_errors_go_back_to_the_client(civic_sandbox, params, error):
    base = {"code_challenge": pkce()[1], "code_challenge_method": "S256"}
    result = redirected(authorize(civic_sandbox, **{**base, **params}))
    assert result["error"] == error and result["state"] == "st"


def test_public_clients_must_use_pkce(civic_sandbox):
    public = civic_sandbox.register_oidc_client(redirect_uris=[REDIRECT], public=True)
    result = redirected(authorize(civic_sandbox, client_id=public["client_id"], login_hint="alice"))
    assert result["error"] == "invalid_request"


def test_deny(civic_sandbox):
    response = requests.post(civic_sandbox.oidc_issuer + "auth", data={
        "response_type": "code", "client_id": civic_sandbox.oidc_client_id, "redirect_uri": REDIRECT,
        "scope": "openid", "state": "s", "code_challenge": pkce()[1], "code_challenge_method": "S256",
        "action": "deny"}, allow_redirects=False, timeout=5)
    assert redirected(response)["error"] == "access_denied"


@pytest.mark.parametrize("change,error", [
    ({"code_verifier": "w" * 50}, "invalid_grant"),
    ({"code_verifier": None}, "invalid_grant"),
    ({"redirect_uri": "http://127.0.0.1:9000/other"}, "invalid_grant"),
    ({"code": "unknown"}, "invalid_grant"),
    ({"grant_type": "password"}, "unsupported_grant_type"),
])
def test_code_exchange_checks(civic_sandbox, change, error):
    code, verifier = code_for(civic_sandbox)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier}
    form.update(change)
    form = {k: v for k, v in form.items() if v is not None}
    response = token(civic_sandbox, form, auth=default_auth(civic_sandbox))
    assert response.status_code == 400 and response.json()["error"] == error


def test_a_code_reused_or_stolen_by_another_client(civic_sandbox):
    other = civic_sandbox.register_oidc_client(redirect_uris=[REDIRECT])
    code, verifier = code_for(civic_sandbox)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier}
    stolen = token(civic_sandbox, form, auth=(other["client_id"], other["client_secret"]))
    assert stolen.json()["error"] == "invalid_grant"
    assert token(civic_sandbox, form, auth=default_auth(civic_sandbox)).json()["error"] == "invalid_grant"


@pytest.mark.parametrize("auth,extra,status", [
    (("sandbox-client", "wrong"), {}, 401),
    (None, {"client_id": "sandbox-client"}, 401),  # a confidential client without secret
    (None, {"client_id": "sandbox-client", "client_secret": "wrong"}, 401),
])
def test_client_authentication(civic_sandbox, auth, extra, status):
    response = token(civic_sandbox, {"grant_type": "client_credentials", **extra}, auth=auth)
    assert response.status_code == status and response.json()["error"] == "invalid_client"
    assert "Basic" in response.headers["WWW-Authenticate"]


def test_the_default_client_also_works_like_a_pkce_only_sdk(civic_sandbox):
    """civic-auth-py sends client_id and code_verifier, no secret: accepted when the login used PKCE."""
    code, verifier = code_for(civic_sandbox)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier, "client_id": civic_sandbox.oidc_client_id}
    body = token(civic_sandbox, form).json()
    assert body["id_token"]
    refreshed = token(civic_sandbox, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
                                      "client_id": civic_sandbox.oidc_client_id})
    assert refreshed.status_code == 200
    # Without PKCE the secret is required.
    result = redirected(authorize(civic_sandbox, login_hint="alice"))
    response = token(civic_sandbox, {"grant_type": "authorization_code", "code": result["code"],
                                     "redirect_uri": REDIRECT, "client_id": civic_sandbox.oidc_client_id})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_client_secret_post_works_too(civic_sandbox):
    response = token(civic_sandbox, {"grant_type": "client_credentials",
                                     "client_id": civic_sandbox.oidc_client_id,
                                     "client_secret": civic_sandbox.oidc_client_secret})
    assert response.status_code == 200


def test_refresh_rotation_and_reuse_detection(civic_sandbox):
    code, verifier = code_for(civic_sandbox)
    first = token(civic_sandbox, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                  "code_verifier": verifier}, auth=default_auth(civic_sandbox)).json()
    second = token(civic_sandbox, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                   auth=default_auth(civic_sandbox)).json()
    assert second["refresh_token"] != first["refresh_token"]
    claims = jwt.decode(second["id_token"], options={"verify_signature": False})
    assert claims["sub"] == civic_sandbox.oidc_subject("alice") and "nonce" not in claims
    reused = token(civic_sandbox, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                   auth=default_auth(civic_sandbox))
    assert reused.json()["error"] == "invalid_grant"
    # Reuse revoked the whole family: the newest refresh token is dead too.
    revoked = token(civic_sandbox, {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
                    auth=default_auth(civic_sandbox))
    assert revoked.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("form,error,status", [
    ({"subject_token_type": "urn:x"}, "invalid_request", 400),
    ({"expires_in": "5"}, "invalid_request", 400),
    ({"expires_in": "100000"}, "invalid_request", 400),
    ({"subject_token": "garbage"}, "invalid_grant", 400),
])
def test_token_exchange_checks(civic_sandbox, form, error, status):
    base = {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": civic_sandbox.mint_oidc_token(type="access"),
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token"}
    response = token(civic_sandbox, {**base, **form}, auth=default_auth(civic_sandbox))
    assert response.status_code == status and response.json()["error"] == error


def test_token_exchange_needs_a_confidential_client(civic_sandbox):
    public = civic_sandbox.register_oidc_client(public=True)
    response = token(civic_sandbox, {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                                     "client_id": public["client_id"],
                                     "subject_token": civic_sandbox.mint_oidc_token(type="access"),
                                     "subject_token_type": "urn:ietf:params:oauth:token-type:access_token"})
    assert response.status_code == 401


def test_token_endpoint_wants_a_form(civic_sandbox):
    response = requests.post(civic_sandbox.oidc_issuer + "token", json={"grant_type": "client_credentials"},
                             auth=default_auth(civic_sandbox), timeout=5)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_userinfo(civic_sandbox):
    access = civic_sandbox.mint_oidc_token(type="access", persona="bob")
    response = requests.get(civic_sandbox.oidc_issuer + "userinfo",
                            headers={"Authorization": f"Bearer {access}"}, timeout=5)
    assert response.json()["email_verified"] is False
    assert response.json()["sub"] == civic_sandbox.oidc_subject("bob")
    for bad in ("garbage", civic_sandbox.mint_oidc_token(type="access", fault="bad_signature")):
        response = requests.get(civic_sandbox.oidc_issuer + "userinfo",
                                headers={"Authorization": f"Bearer {bad}"}, timeout=5)
        assert response.status_code == 401 and "invalid_token" in response.headers["WWW-Authenticate"]


def test_end_session(civic_sandbox):
    id_token = civic_sandbox.mint_oidc_token(nonce="n")
    end = civic_sandbox.oidc_issuer + "session/end?"
    def get(**params):
        return requests.get(end + urlencode(params), allow_redirects=False, timeout=5)

    back = get(id_token_hint=id_token, post_logout_redirect_uri="http://localhost:1/", state="x")
    assert back.status_code == 302 and back.headers["Location"] == "http://localhost:1/?state=x"
    evil = get(id_token_hint=id_token, post_logout_redirect_uri="https://evil.example/")
    assert evil.status_code == 400
    plain = requests.get(end, timeout=5)
    assert plain.status_code == 200 and "Signed out" in plain.text
    forged = get(id_token_hint="a.b.c", post_logout_redirect_uri="http://localhost:1/")
    assert forged.status_code == 400


@pytest.mark.parametrize("channel,url", [("oidc.discovery", ".well-known/openid-configuration"),
                                         ("oidc.jwks", "jwks"), ("oidc.userinfo", "userinfo")])
def test_faults_on_every_channel(civic_sandbox, channel, url):
    civic_sandbox.inject_fault(channel, "status", status=503)
    assert requests.get(civic_sandbox.oidc_issuer + url, timeout=5).status_code == 503


def test_fault_kinds_are_checked_per_channel(civic_sandbox):
    bad = requests.post(civic_sandbox.url + "control/faults",
                        json={"channel": "oidc.jwks", "kind": "wrong_issuer"}, timeout=5)
    assert bad.status_code == 400
    civic_sandbox.inject_fault("oidc.jwks", "empty")
    assert requests.get(civic_sandbox.oidc_issuer + "jwks", timeout=5).json() == {"keys": []}


def test_control_api_validates_input(civic_sandbox):
    base = civic_sandbox.url + "control/oidc/"
    assert requests.post(base + "clients", data="{", timeout=5).status_code == 400
    assert requests.post(base + "clients", json={"redirect_uris": "x"}, timeout=5).status_code == 400
    assert requests.post(base + "clients", json={"public": "yes"}, timeout=5).status_code == 400
    assert requests.post(base + "keys/rotate", json={"retire_previous": 1}, timeout=5).status_code == 400
    assert requests.post(base + "tokens", json={"persona": "mallory"}, timeout=5).status_code == 400
    assert requests.post(base + "tokens", json={"fault": "nope"}, timeout=5).status_code == 400
    assert requests.post(base + "tokens", json={"type": "refresh"}, timeout=5).status_code == 400


def test_reset_forgets_clients_and_restores_the_start_key(civic_sandbox):
    start_kids = civic_sandbox.oidc_kids()
    client = civic_sandbox.register_oidc_client(redirect_uris=[REDIRECT])
    civic_sandbox.rotate_oidc_keys(retire_previous=True)
    civic_sandbox.reset()
    assert civic_sandbox.oidc_kids() == start_kids
    ids = [c["client_id"] for c in civic_sandbox.control("GET", "oidc/clients")["clients"]]
    assert ids == [civic_sandbox.oidc_client_id] and client["client_id"] not in ids


def test_the_index_lists_the_oidc_defaults(civic_sandbox):
    info = requests.get(civic_sandbox.url, timeout=5).json()["oidc"]
    assert info == {"issuer": civic_sandbox.oidc_issuer, "client_id": civic_sandbox.oidc_client_id,
                    "client_secret": civic_sandbox.oidc_client_secret}
