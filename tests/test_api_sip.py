"""``POST civic/sip/exchange/`` end to end: Django test client -> our API -> the sandbox over real HTTP.

Each test mints an approved auth code in the sandbox (as if a persona had approved the scope request in
the wallet) and posts it the way civic.js or a native app does.
"""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model
from django.core.cache.backends.base import BaseCache
from django.test import Client

from django_civic.models import CivicIdentity, VerifiedAttribute

URL = "/civic/sip/exchange/"
pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def sandbox(civic):
    return civic


def mode(settings, login_mode):
    settings.CIVIC = {**settings.CIVIC, "API": {**settings.CIVIC.get("API", {}), "LOGIN_MODE": login_mode}}


def exchange(client, token, **body):
    return client.post(URL, {"token": token, **body}, content_type="application/json")


def csrf_client(settings):
    """A browser: CSRF enforced, with the CSRF cookie a page of the site would have set."""
    browser = Client(enforce_csrf_checks=True)
    browser.get("/")  # the home page renders {% civic_button %}, which sets the CSRF cookie
    return browser, browser.cookies[settings.CSRF_COOKIE_NAME].value


# --- session mode (the default) -------------------------------------------------------------------------


def test_session_login_creates_the_user_and_logs_in(client, sandbox, settings):
    code = sandbox.mint_code("alice", "BASIC_SIGNUP")
    response = exchange(client, code["authToken"], scope="BASIC_SIGNUP")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["login_mode"] == "session"
    assert body["user_created"] is True
    assert body["civic_user_id"] == code["userId"]
    assert body["user"]["email"] == "alice@example.com"
    assert body["next"] == settings.LOGIN_REDIRECT_URL
    email = next(a for a in body["attributes"] if a["label"] == "contact.personal.email")
    assert email == {"label": "contact.personal.email", "value": "alice@example.com", "is_valid": True,
                     "is_owner": True}
    labels = {a["label"] for a in body["attributes"]}
    assert labels == {"contact.personal.email", "contact.personal.phoneNumber"}
    assert "token" not in body and "access" not in body

    user = User.objects.get(pk=body["user"]["id"])
    assert int(client.session["_auth_user_id"]) == user.pk
    assert client.session["_auth_user_backend"] == "django_civic.backends.CivicSIPBackend"
    identity = CivicIdentity.objects.get(user=user)
    assert (identity.provider, identity.subject) == ("civic_sip", code["userId"])

    # The session works for the rest of the API.
    me = client.get("/civic/me/").json()
    assert me["user"]["id"] == user.pk
    assert [i["subject"] for i in me["identities"]] == [code["userId"]]


def test_a_second_login_finds_the_same_user(client, sandbox):
    first = exchange(client, sandbox.mint_code("alice")["authToken"]).json()
    client.logout()
    second = exchange(client, sandbox.mint_code("alice")["authToken"]).json()
    assert second["user_created"] is False
    assert second["user"]["id"] == first["user"]["id"]
    assert User.objects.count() == 1 and CivicIdentity.objects.count() == 1


def test_anonymous_login_has_no_attributes(client, sandbox):
    code = sandbox.mint_code("anon", "ANONYMOUS_LOGIN")
    body = exchange(client, code["authToken"], scope="ANONYMOUS_LOGIN").json()
    assert body["civic_user_id"] == code["userId"]
    assert body["attributes"] == []
    assert body["user"]["email"] == ""


def test_the_scope_the_browser_claims_is_not_stored(client, sandbox):
    """Civic's answer (userId and attributes) says nothing of the scope request, so the ``scope`` the
    page sends proves nothing either: an attacker's page could label a basic login PROOF_OF_IDENTITY."""
    code = sandbox.mint_code("alice", "BASIC_SIGNUP")
    body = exchange(client, code["authToken"], scope="PROOF_OF_IDENTITY").json()
    stored = set(VerifiedAttribute.objects.filter(identity__user_id=body["user"]["id"])
                 .values_list("scope", flat=True))
    assert stored == {""}


@pytest.mark.parametrize("header", ["{token}", "Bearer {token}", "bearer  {token}"])
def test_the_token_may_come_in_the_authorization_header(client, sandbox, header):
    code = sandbox.mint_code("alice")
    response = client.post(URL, b"", content_type="application/json",
                           HTTP_AUTHORIZATION=header.format(token=code["authToken"]))
    assert response.status_code == 200, response.content
    assert response.json()["civic_user_id"] == code["userId"]


@pytest.mark.parametrize(("next_url", "expected"), [
    ("/profile/?tab=1", "/profile/?tab=1"),
    ("/", "/"),
    ("//evil.example/", "/profile/"),
    ("/\\evil.example", "/profile/"),
    ("https:evil.example", "/profile/"),
    ("https://evil.example/", "/profile/"),
    ("/\t/evil.example", "/profile/"),
    ("%2F%2Fevil.example", "/profile/"),
    ("/%5Cevil.example", "/profile/"),
    ("javascript:alert(1)", "/profile/"),
    ("", "/profile/"),
])
def test_next_is_made_safe(client, sandbox, settings, next_url, expected):
    settings.LOGIN_REDIRECT_URL = "/profile/"
    response = exchange(client, sandbox.mint_code("alice")["authToken"], next=next_url)
    assert response.status_code == 200
    assert response.json()["next"] == expected


# --- login CSRF -------------------------------------------------------------------------------------


def test_session_mode_refuses_a_cross_site_post(sandbox, settings):
    """Login CSRF: a hostile page posting its own code must not log the victim's browser in."""
    browser = Client(enforce_csrf_checks=True)
    code = sandbox.mint_code("alice")
    response = exchange(browser, code["authToken"])
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"
    assert "_auth_user_id" not in browser.session
    assert User.objects.count() == 0

    # With a cookie but a wrong header, too.
    browser, _token = csrf_client(settings)
    response = browser.post(URL, {"token": code["authToken"]}, content_type="application/json",
                            HTTP_X_CSRFTOKEN="x" * 64)
    assert response.status_code == 403 and response.json()["error"] == "csrf_failed"

    # The check runs before the exchange, so the refused code was not spent: the real page can use it.
    browser, token = csrf_client(settings)
    response = browser.post(URL, {"token": code["authToken"]}, content_type="application/json",
                            HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200, response.content
    assert "_auth_user_id" in browser.session


def test_csrf_token_from_the_page_works(sandbox, settings):
    browser, token = csrf_client(settings)
    response = browser.post(URL, {"token": sandbox.mint_code("alice")["authToken"]},
                            content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200


# --- token and JWT modes ------------------------------------------------------------------------------


def test_token_mode_returns_a_drf_token_and_sets_no_cookie(sandbox, settings):
    mode(settings, "token")
    app = Client(enforce_csrf_checks=True)  # a native app: no CSRF cookie, none needed
    response = exchange(app, sandbox.mint_code("alice")["authToken"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["login_mode"] == "token"
    assert len(body["token"]) == 40
    assert response.cookies == {}
    assert not app.session.keys()

    from rest_framework.authtoken.models import Token

    assert Token.objects.get(key=body["token"]).user_id == body["user"]["id"]
    me = Client().get("/civic/me/", HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert me.status_code == 200 and me.json()["user"]["id"] == body["user"]["id"]
    # last_login is updated in every mode (Django's user_logged_in signal).
    assert User.objects.get(pk=body["user"]["id"]).last_login is not None

    # The same token on the next login.
    again = exchange(app, sandbox.mint_code("alice")["authToken"]).json()
    assert again["token"] == body["token"]


def test_jwt_mode_returns_a_simplejwt_pair_and_sets_no_cookie(sandbox, settings):
    mode(settings, "jwt")
    app = Client(enforce_csrf_checks=True)
    response = exchange(app, sandbox.mint_code("alice")["authToken"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["login_mode"] == "jwt"
    assert body["access"].count(".") == 2 and body["refresh"].count(".") == 2
    assert response.cookies == {}
    assert not app.session.keys()

    from rest_framework_simplejwt.tokens import AccessToken

    assert str(AccessToken(body["access"])["user_id"]) == str(body["user"]["id"])
    me = Client().get("/civic/me/", HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.status_code == 200 and me.json()["user"]["id"] == body["user"]["id"]


def test_an_unknown_login_mode_is_a_configuration_error(client, sandbox, settings):
    from django.core.exceptions import ImproperlyConfigured

    mode(settings, "cookie-jar")
    with pytest.raises(ImproperlyConfigured):
        exchange(client, sandbox.mint_code("alice")["authToken"])


# --- refusals -----------------------------------------------------------------------------------------


def test_a_replayed_code_is_refused(client, sandbox):
    token = sandbox.mint_code("alice")["authToken"]
    assert exchange(client, token).status_code == 200
    client.logout()
    response = exchange(client, token)
    assert response.status_code == 400
    assert response.json()["error"] == "token_replayed"
    assert "_auth_user_id" not in client.session
    assert User.objects.count() == 1


def test_an_inactive_user_is_refused(client, sandbox):
    first = exchange(client, sandbox.mint_code("alice")["authToken"]).json()
    client.logout()
    User.objects.filter(pk=first["user"]["id"]).update(is_active=False)
    response = exchange(client, sandbox.mint_code("alice")["authToken"])
    assert response.status_code == 403
    assert response.json()["error"] == "inactive_user"
    assert "_auth_user_id" not in client.session


def test_inactive_users_are_refused_in_token_mode_too(sandbox, settings):
    mode(settings, "token")
    app = Client()
    first = exchange(app, sandbox.mint_code("alice")["authToken"]).json()
    User.objects.filter(pk=first["user"]["id"]).update(is_active=False)
    response = exchange(app, sandbox.mint_code("alice")["authToken"])
    assert response.status_code == 403 and "token" not in response.json()


def test_a_code_for_another_app_is_invalid(client, sandbox):
    sandbox.register_sip_app("someone-else")
    token = sandbox.mint_code("alice", app_id="someone-else")["authToken"]
    response = exchange(client, token)
    assert response.status_code == 400 and response.json()["error"] == "invalid_token"
    assert User.objects.count() == 0


def test_an_expired_code_is_invalid(client, sandbox):
    token = sandbox.mint_code("alice", age=1900)["authToken"]
    response = exchange(client, token)
    assert response.status_code == 400 and response.json()["error"] == "invalid_token"


def test_signup_closed_is_403(client, sandbox, settings):
    settings.CIVIC = {**settings.CIVIC, "SIGNUP_OPEN": False}
    response = exchange(client, sandbox.mint_code("alice")["authToken"])
    assert response.status_code == 403 and response.json()["error"] == "signup_closed"
    assert User.objects.count() == 0


# --- Civic failing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("fault", "status", "code", "retryable"), [
    ({"kind": "status", "status": 504}, 504, "sip_gateway_timeout", True),
    ({"kind": "status", "status": 500}, 502, "sip_upstream_error", True),
    ({"kind": "status", "status": 503}, 502, "sip_upstream_error", True),
    ({"kind": "status", "status": 429, "retry_after": 7}, 503, "sip_rate_limited", True),
    ({"kind": "status", "status": 400}, 400, "sip_bad_request", False),
    ({"kind": "status", "status": 401}, 502, "sip_unauthorized", False),
    ({"kind": "malformed"}, 502, "sip_malformed_response", False),
    ({"kind": "bad_signature"}, 502, "sip_bad_signature", False),
])
def test_civic_failures_are_mapped_never_500(client, sandbox, fault, status, code, retryable):
    sandbox.inject_fault("sip.exchange", **fault)
    response = exchange(client, sandbox.mint_code("alice")["authToken"])
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"] == code
    assert body["retryable"] is retryable
    assert body["detail"]
    if code == "sip_rate_limited":
        assert response["Retry-After"] == "7"
    assert User.objects.count() == 0 and "_auth_user_id" not in client.session


def test_civic_timeout_is_504(client, sandbox, settings):
    settings.CIVIC = {**settings.CIVIC, "HTTP_TIMEOUT": 0.5}
    sandbox.inject_fault("sip.exchange", "timeout", seconds=2)
    response = exchange(client, sandbox.mint_code("alice")["authToken"])
    assert response.status_code == 504
    assert response.json() | {"detail": ""} == {"error": "sip_timeout", "detail": "", "retryable": True}


class BrokenCache(BaseCache):
    """A cache whose server is down: every call fails, as Redis does when it is unreachable."""

    def __init__(self, location, params):
        super().__init__(params)

    def _fail(self, *args, **kwargs):
        raise ConnectionError("cache down")

    add = get = set = delete = incr = get_many = set_many = touch = has_key = clear = _fail


def test_cache_down_fails_closed_with_503(client, sandbox, settings):
    settings.CACHES = {**settings.CACHES, "broken": {"BACKEND": "tests.test_api_sip.BrokenCache"}}
    settings.CIVIC = {**settings.CIVIC, "CACHE_ALIAS": "broken", "API": {}}  # throttling on, same cache
    response = exchange(client, sandbox.mint_code("alice")["authToken"])
    assert response.status_code == 503
    assert response.json()["error"] == "replay_check_unavailable"
    assert response.json()["retryable"] is True
    assert User.objects.count() == 0


def test_the_token_never_reaches_the_logs(client, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    sandbox.inject_fault("sip.exchange", "status", status=500)
    token = sandbox.mint_code("alice")["authToken"]
    exchange(client, token)
    exchange(client, token)  # replayed
    exchange(client, token[:-4] + "AAAA")  # forged signature
    assert caplog.records, "the refusals are logged"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for part in token.split("."):
        assert part not in logged


# -- the request body, validated by hand (api.serializers.sip_exchange_input) ----------------------------

@pytest.mark.parametrize(("body", "field"), [
    ({"token": ["a.b.c"]}, "token"),
    ({"token": True}, "token"),
    ({"token": "   "}, "token"),
    ({"token": "a" * 5000}, "token"),
    ({"token": "a.b.c", "scope": "EVERYTHING"}, "scope"),
    ({"token": "a.b.c", "scope": 3}, "scope"),
    ({"token": "a.b.c", "next": {"url": "/"}}, "next"),
    ({"token": "a.b.c", "next": "/" * 5000}, "next"),
])
def test_a_bad_field_is_a_400_naming_it(client, body, field):
    response = client.post("/civic/sip/exchange/", body, content_type="application/json")
    assert response.status_code == 400
    payload = response.json()
    assert payload["error"] == "invalid" and list(payload["fields"]) == [field] and payload["detail"]


def test_a_body_that_is_not_an_object_is_a_400(client):
    response = client.post("/civic/sip/exchange/", ["a.b.c"], content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "invalid"


def test_input_is_cleaned_as_a_serializer_would():
    from django_civic.api.serializers import sip_exchange_input

    assert sip_exchange_input({"token": "  a.b.c \n", "scope": "BASIC_SIGNUP", "next": " /p "}) == {
        "token": "a.b.c", "scope": "BASIC_SIGNUP", "next": " /p "}
    assert sip_exchange_input({"token": 12}) == {"token": "12"}
    assert sip_exchange_input({"other": 1}) == {}
