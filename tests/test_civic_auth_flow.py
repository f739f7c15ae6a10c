"""The Civic Auth redirect flow in Django, against the sandbox provider over real HTTP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.test import Client

from django_civic.models import CivicIdentity, VerifiedAttribute
from django_civic.protocols.civic_auth.session import SESSION_KEY as TOKENS_KEY
from django_civic.protocols.civic_auth.state import SESSION_KEY as STATE_KEY

pytestmark = pytest.mark.django_db

LOGIN = "/civic/auth/login/"
CALLBACK = "/civic/auth/callback/"
LOGOUT = "/civic/auth/logout/"


@pytest.fixture
def civic(settings, civic_sandbox):
    caches["default"].clear()
    settings.CIVIC = civic_sandbox.civic_settings(SANDBOX_ALLOW_WITHOUT_DEBUG=True)
    return civic_sandbox


@pytest.fixture
def web():
    # "localhost": the sandbox's default client accepts any redirect URI on localhost.
    return Client(SERVER_NAME="localhost")


def start(web, next_url="/profile/", **extra):
    response = web.post(LOGIN, {"next": next_url, **extra})
    assert response.status_code == 302, response.content[:300]
    return response["Location"]


def callback(web, params):
    parts = urlsplit(params["redirect"])
    assert parts.path == CALLBACK
    return web.get(f"{parts.path}?{parts.query}")


def log_in(web, civic, persona="alice", next_url="/profile/"):
    return callback(web, civic.oidc_approve(start(web, next_url), persona))


def session_user_id(web):
    return web.session.get("_auth_user_id")


# -- the happy path ------------------------------------------------------------------------------------------

def test_login_page_on_get_does_not_start_a_login(civic, web):
    response = web.get(LOGIN + "?next=/profile/")
    assert response.status_code == 200
    assert b'method="post"' in response.content and b"csrfmiddlewaretoken" in response.content
    assert b'value="/profile/"' in response.content
    assert STATE_KEY not in web.session


def test_login_redirects_to_civic_with_pkce_state_and_nonce(civic, web):
    url = start(web)
    assert url.startswith(civic.oidc_issuer + "auth?")
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://localhost/civic/auth/callback/"]
    assert query["client_id"] == [civic.oidc_client_id] and query["scope"] == ["openid email profile"]
    pending = web.session[STATE_KEY]
    assert [p["state"] for p in pending] == query["state"] and [p["nonce"] for p in pending] == query["nonce"]


def test_full_login_creates_the_user_and_the_identity(civic, web):
    response = log_in(web, civic, "alice")
    assert response.status_code == 302 and response["Location"] == "/profile/"
    identity = CivicIdentity.objects.get()
    assert identity.provider == civic.oidc_issuer  # the issuer URL exactly as in the ID token
    assert identity.subject == civic.oidc_subject("alice")
    assert str(identity.user.pk) == session_user_id(web)
    attributes = {a.label: a for a in VerifiedAttribute.objects.filter(identity=identity)}
    assert attributes["oidc.email"].value == "alice@example.com" and attributes["oidc.email"].verified
    assert attributes["contact.personal.email"].value == "alice@example.com"
    assert attributes["oidc.name"].value == "Alice Walker"
    assert attributes["oidc.preferred_username"].value == "alice"  # from userinfo
    assert identity.user.email == "alice@example.com"  # USER_FIELD_MAP sync, as for SIP
    assert web.get("/profile/").status_code == 200
    assert STATE_KEY not in web.session  # single use: consumed


def test_second_login_reuses_the_identity(civic, web):
    log_in(web, civic, "carol")
    other = Client(SERVER_NAME="localhost")
    log_in(other, civic, "carol")
    assert CivicIdentity.objects.count() == 1 and get_user_model().objects.count() == 1
    assert session_user_id(other) == session_user_id(web)


def test_unverified_email_is_recorded_but_never_as_the_shared_email(civic, web):
    log_in(web, civic, "bob")
    labels = {a.label: a for a in VerifiedAttribute.objects.all()}
    assert "contact.personal.email" not in labels
    assert labels["oidc.email"].value == "bob@example.org" and not labels["oidc.email"].is_valid


def test_no_tokens_are_kept_by_default(civic, web):
    log_in(web, civic)
    assert TOKENS_KEY not in web.session


# -- state: missing, reused, from another session, stale -----------------------------------------------------

def test_missing_state_gets_a_retry_page_not_a_bare_400(civic, web):
    response = web.get(CALLBACK + "?code=abc")
    assert response.status_code == 200
    assert b'data-error-code="state_mismatch"' in response.content
    assert b'action="/civic/auth/login/"' in response.content  # the retry button
    assert session_user_id(web) is None


def test_reused_state_is_refused(civic, web):
    params = civic.oidc_approve(start(web))
    assert callback(web, params).status_code == 302
    response = callback(web, params)  # the same callback again, in the same browser
    assert b'data-error-code="state_mismatch"' in response.content
    web.post(LOGOUT)
    assert b'data-error-code="state_mismatch"' in callback(web, params).content
    assert session_user_id(web) is None


def test_state_from_another_session_is_refused(civic, web):
    params = civic.oidc_approve(start(web))
    attacker_browser = Client(SERVER_NAME="localhost")
    attacker_browser.get(LOGIN)
    response = callback(attacker_browser, params)
    assert b'data-error-code="state_mismatch"' in response.content
    assert session_user_id(attacker_browser) is None and CivicIdentity.objects.count() == 0
    # The victim's own pending login is untouched and still completes.
    assert callback(web, params).status_code == 302


def test_stale_state_is_refused(civic, web, settings):
    settings.CIVIC = {**settings.CIVIC, "AUTH": {"STATE_TTL": -1}}
    params = civic.oidc_approve(start(web))
    response = callback(web, params)
    assert b'data-error-code="state_mismatch"' in response.content and session_user_id(web) is None


def test_pending_logins_are_bounded(civic, web):
    for _ in range(15):
        start(web)
    assert len(web.session[STATE_KEY]) == 10


# -- the login starts with a POST, protected against CSRF ----------------------------------------------------

def test_login_post_needs_the_csrf_token(civic):
    strict = Client(SERVER_NAME="localhost", enforce_csrf_checks=True)
    assert strict.post(LOGIN).status_code == 403
    page = strict.get(LOGIN)
    token = page.cookies["csrftoken"].value
    assert strict.post(LOGIN, {"csrfmiddlewaretoken": token}).status_code == 302


# -- what Civic may answer -----------------------------------------------------------------------------------

def test_cancelled_login_is_a_cancel_page(civic, web):
    params = civic.oidc_approve(start(web), deny=True)
    assert params["error"] == "access_denied"
    response = callback(web, params)
    assert response.status_code == 200 and b'data-error-code="access_denied"' in response.content
    assert session_user_id(web) is None


@pytest.mark.parametrize("fault", ["wrong_audience", "wrong_issuer", "expired", "future_iat", "bad_signature",
                                   "unknown_kid", "wrong_nonce", "bad_at_hash", "alg_none", "wrong_azp"])
def test_invalid_id_tokens_log_nobody_in(civic, web, fault):
    civic.inject_fault("oidc.token", fault)
    response = log_in(web, civic)
    assert response.status_code == 400
    assert b'data-error-code="invalid_token"' in response.content
    assert session_user_id(web) is None and CivicIdentity.objects.count() == 0


def test_userinfo_about_someone_else_logs_nobody_in(civic, web):
    civic.inject_fault("oidc.userinfo", "identity_change")
    response = log_in(web, civic)
    assert b'data-error-code="identity_changed"' in response.content
    assert session_user_id(web) is None and CivicIdentity.objects.count() == 0


def test_an_authorization_response_from_another_issuer_is_refused(civic, web):
    params = civic.oidc_approve(start(web))
    parts = urlsplit(params["redirect"])
    query = f"code={params['code']}&state={params['state']}&iss=https://evil.example/"
    response = web.get(f"{parts.path}?{query}")
    assert response.status_code == 400 and session_user_id(web) is None


@pytest.mark.parametrize("status,expected", [(500, 503), (400, 400)])
def test_token_endpoint_failures(civic, web, status, expected):
    civic.inject_fault("oidc.token", "status", status=status, body='{"error": "invalid_grant"}')
    response = log_in(web, civic)
    assert response.status_code == expected and session_user_id(web) is None


def test_provider_down_when_starting(civic, web):
    civic.inject_fault("oidc.discovery", "status", status=503)
    response = web.post(LOGIN)
    assert response.status_code == 503 and b"civic-auth-error" in response.content


def test_the_callback_without_a_code(civic, web):
    params = civic.oidc_approve(start(web))
    response = web.get(f"{CALLBACK}?state={params['state']}")
    assert response.status_code == 400 and session_user_id(web) is None


# -- the site's policy, shared with SIP ----------------------------------------------------------------------

def test_signup_closed(civic, web, settings):
    settings.CIVIC = {**settings.CIVIC, "SIGNUP_OPEN": False}
    response = log_in(web, civic)
    assert response.status_code == 403 and b'data-error-code="signup_closed"' in response.content


def test_inactive_user_cannot_log_in(civic, web):
    log_in(web, civic)
    get_user_model().objects.update(is_active=False)
    again = Client(SERVER_NAME="localhost")
    response = log_in(again, civic)
    assert response.status_code == 403 and session_user_id(again) is None


def test_link_by_verified_email_only(civic, web, settings):
    settings.CIVIC = {**settings.CIVIC, "LINK_BY_EMAIL": True}
    User = get_user_model()
    alice = User.objects.create_user("alice-local", "alice@example.com", "pw")
    bob = User.objects.create_user("bob-local", "bob@example.org", "pw")
    log_in(web, civic, "alice")
    assert CivicIdentity.objects.get(subject=civic.oidc_subject("alice")).user == alice
    other = Client(SERVER_NAME="localhost")
    log_in(other, civic, "bob")  # email_verified is false: never linked to the existing bob
    assert CivicIdentity.objects.get(subject=civic.oidc_subject("bob")).user != bob


def test_unsafe_next_is_dropped(civic, web):
    response = log_in(web, civic, next_url="https://evil.example/")
    assert response["Location"] == "/profile/"  # LOGIN_REDIRECT_URL


# -- tokens in the session, refresh, logout ------------------------------------------------------------------

def test_stored_tokens_and_refresh_keep_the_identity(civic, web, settings):
    from django_civic.civic_auth.client import get_oidc_client
    from django_civic.protocols.civic_auth import IdentityChanged
    from django_civic.protocols.civic_auth.session import TokenStore

    settings.CIVIC = {**settings.CIVIC, "AUTH": {"STORE_TOKENS": True}}
    log_in(web, civic)
    session = web.session
    stored = session[TOKENS_KEY]
    assert stored["access_token"] and stored["refresh_token"]
    assert stored["identity"]["sub"] == civic.oidc_subject("alice")
    client = get_oidc_client()
    store = TokenStore(session)
    assert store.access_token(client) == stored["access_token"]
    session[TOKENS_KEY] = {**stored, "expires_at": 0}  # expired: the next use refreshes
    refreshed = store.access_token(client)
    assert refreshed and refreshed != stored["access_token"]
    assert session[TOKENS_KEY]["refresh_token"] != stored["refresh_token"]  # rotated
    session[TOKENS_KEY] = {**session[TOKENS_KEY], "expires_at": 0}
    civic.inject_fault("oidc.token", "identity_change")
    with pytest.raises(IdentityChanged):
        store.access_token(client)
    assert TOKENS_KEY not in session  # dropped


def test_logout_is_post_only(civic, web):
    log_in(web, civic)
    assert web.get(LOGOUT).status_code == 405
    assert session_user_id(web) is not None
    response = web.post(LOGOUT, {"next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert session_user_id(web) is None


def test_logout_at_civic_too(civic, web, settings):
    settings.CIVIC = {**settings.CIVIC, "AUTH": {"PROVIDER_LOGOUT": True}}
    log_in(web, civic)
    response = web.post(LOGOUT, {"next": "/"})
    url = response["Location"]
    assert url.startswith(civic.oidc_issuer + "session/end?")
    query = parse_qs(urlsplit(url).query)
    assert query["post_logout_redirect_uri"] == ["http://localhost/"] and query["id_token_hint"]
    assert session_user_id(web) is None and TOKENS_KEY not in web.session
    import requests

    back = requests.get(url, allow_redirects=False, timeout=5)
    assert back.status_code == 302 and back.headers["Location"].startswith("http://localhost/")


def test_no_token_code_or_state_reaches_the_logs(civic, web, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    civic.inject_fault("oidc.token", "wrong_audience")
    params = civic.oidc_approve(start(web))
    assert callback(web, params).status_code == 400
    ok = civic.oidc_approve(start(web))
    assert callback(web, ok).status_code == 302
    text = caplog.text
    assert "invalid_token (wrong_audience)" in text  # the rule that failed is logged...
    for secret in (params["code"], params["state"], ok["code"], ok["state"], civic.oidc_client_secret):
        assert secret not in text  # ...never the values
    assert "eyJ" not in text  # no JWT either
