"""CivicSIPBackend end to end: django.contrib.auth.authenticate() -> SIP client -> the sandbox over HTTP.

"No network" is proven with the sandbox itself: a fault queued on ``sip.exchange`` is consumed by the
first exchange request that reaches it, so a fault still pending afterwards means no request was made.
"""

from __future__ import annotations

import logging
import time

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.signals import user_login_failed
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from django_civic.conf import sandbox_url
from django_civic.exceptions import InactiveUser, ReplayCheckUnavailable, SignupClosed, TokenReplayed
from django_civic.models import CivicIdentity, VerifiedAttribute
from django_civic.sandbox import defaults
from django_civic.sip import SIPInvalidAuthToken, SIPInvalidSignature, SIPUpstreamError
from django_civic.sip.backend import CivicSIPBackend
from django_civic.sip.client import get_sip_client

from .conftest import EMAIL

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def sandbox(civic_sandbox, settings):
    caches["default"].clear()
    settings.CIVIC = civic_sandbox.civic_settings(SANDBOX_ALLOW_WITHOUT_DEBUG=True)
    return civic_sandbox


@pytest.fixture
def request_():
    return RequestFactory().post("/civic/sip/exchange/")


def exchange_pending(sandbox):
    return len(sandbox.control("GET", "faults")["pending"].get("sip.exchange", []))


def arm(sandbox):
    """Queue a 500 on the exchange: it stays pending only if nothing reached the exchange endpoint."""
    sandbox.inject_fault("sip.exchange", "status", status=500)


def test_login_creates_user_identity_and_result(sandbox, request_):
    code = sandbox.mint_code("alice", "BASIC_SIGNUP")
    user = authenticate(request_, civic_sip_token=code["authToken"], scope="BASIC_SIGNUP")
    assert user is not None and user.email == "alice@example.com"
    assert user.backend == "django_civic.backends.CivicSIPBackend"
    identity = CivicIdentity.objects.get(user=user)
    assert (identity.provider, identity.subject) == ("civic_sip", code["userId"])
    result = request_.civic_login_result
    assert result.user_created and result.identity == identity
    assert VerifiedAttribute.objects.get(identity=identity, label=EMAIL).scope == ""  # Civic proves none
    assert not hasattr(request_, "civic_auth_error")


def test_second_login_of_the_same_persona_finds_the_same_user(sandbox, request_):
    first = authenticate(request_, civic_sip_token=sandbox.mint_code("alice")["authToken"])
    second_request = RequestFactory().post("/")
    second = authenticate(second_request, civic_sip_token=sandbox.mint_code("alice")["authToken"])
    assert first.pk == second.pk and not second_request.civic_login_result.user_created


def test_proof_of_identity_stores_every_attribute(sandbox, request_):
    code = sandbox.mint_code("carol", "PROOF_OF_IDENTITY")
    user = authenticate(request_, civic_sip_token=code["authToken"], scope="PROOF_OF_IDENTITY")
    labels = set(VerifiedAttribute.objects.filter(identity__user=user).values_list("label", flat=True))
    assert {"documents.genericId.image", "documents.genericId.number", EMAIL} <= labels


def test_invalid_email_is_stored_as_invalid_and_not_synced(sandbox, request_):
    user = authenticate(request_, civic_sip_token=sandbox.mint_code("bob")["authToken"])
    assert user.email == ""
    assert VerifiedAttribute.objects.get(identity__user=user, label=EMAIL).is_valid is False


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", 42, {"x": 1}, "x" * 100_000])
def test_garbage_is_refused_without_a_network_call(sandbox, request_, token):
    arm(sandbox)
    assert authenticate(request_, civic_sip_token=token) is None
    assert isinstance(request_.civic_auth_error, SIPInvalidAuthToken)
    assert exchange_pending(sandbox) == 1
    assert not User.objects.exists()


_JWT_LIKE = r"[A-Za-z0-9_-]{0,80}\.[A-Za-z0-9_-]{0,80}\.[A-Za-z0-9_-]{0,80}"


@settings_(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.one_of(st.text(max_size=400), st.from_regex(_JWT_LIKE), st.binary(max_size=100),
                       st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=3)))
def test_any_malformed_token_is_refused_quietly(sandbox, token):
    if exchange_pending(sandbox) == 0:
        arm(sandbox)
    request = RequestFactory().post("/")
    assert CivicSIPBackend().authenticate(request, civic_sip_token=token) is None
    assert exchange_pending(sandbox) == 1  # nothing reached the exchange endpoint
    if token is not None:
        assert isinstance(request.civic_auth_error, SIPInvalidAuthToken)


def test_a_code_for_another_app_is_refused_locally(sandbox, request_):
    sandbox.register_sip_app("other-app")
    code = sandbox.mint_code("alice", app_id="other-app")
    arm(sandbox)
    assert authenticate(request_, civic_sip_token=code["authToken"]) is None
    assert isinstance(request_.civic_auth_error, SIPInvalidAuthToken)
    assert exchange_pending(sandbox) == 1


def test_an_expired_code_is_refused_locally(sandbox, request_):
    code = sandbox.mint_code("alice", age=2000)
    arm(sandbox)
    assert authenticate(request_, civic_sip_token=code["authToken"]) is None
    assert isinstance(request_.civic_auth_error, SIPInvalidAuthToken)
    assert exchange_pending(sandbox) == 1


def test_a_code_is_single_use_and_the_replay_never_reaches_civic(sandbox, request_):
    token = sandbox.mint_code("alice")["authToken"]
    assert authenticate(request_, civic_sip_token=token) is not None
    arm(sandbox)
    replay = RequestFactory().post("/")
    assert authenticate(replay, civic_sip_token=token) is None
    assert isinstance(replay.civic_auth_error, TokenReplayed)
    assert replay.civic_auth_error.code == "token_replayed"
    assert exchange_pending(sandbox) == 1


def test_a_code_in_its_expiry_grace_stays_spent_until_it_could_no_longer_be_accepted(sandbox, request_):
    """A code 15 s past ``exp`` is still accepted (30 s leeway). Its single-use record must last until
    ``exp + leeway`` and beyond (other servers' clocks): it once lasted 1 s, and the copy went to Civic."""
    token = sandbox.mint_code("alice", age=1800 + 15)["authToken"]
    assert authenticate(request_, civic_sip_token=token) is not None
    time.sleep(1.5)  # past the old one-second record, well within the code's grace
    arm(sandbox)
    replay = RequestFactory().post("/")
    assert authenticate(replay, civic_sip_token=token) is None
    assert isinstance(replay.civic_auth_error, TokenReplayed)
    assert exchange_pending(sandbox) == 1


def test_a_failed_exchange_still_burns_the_code(sandbox, request_):
    """Consumed before the exchange: a code that reached Civic once is never sent again."""
    token = sandbox.mint_code("alice")["authToken"]
    sandbox.inject_fault("sip.exchange", "status", status=500)
    assert authenticate(request_, civic_sip_token=token) is None
    assert isinstance(request_.civic_auth_error, SIPUpstreamError)
    again = RequestFactory().post("/")
    assert authenticate(again, civic_sip_token=token) is None
    assert isinstance(again.civic_auth_error, TokenReplayed)


def test_replay_check_fails_closed_when_the_cache_is_down(sandbox, request_, settings):
    settings.CACHES = {**settings.CACHES, "replay": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.5}}}
    settings.CIVIC = {**settings.CIVIC, "CACHE_ALIAS": "replay"}
    token = sandbox.mint_code("alice")["authToken"]
    arm(sandbox)
    assert authenticate(request_, civic_sip_token=token) is None
    error = request_.civic_auth_error
    assert isinstance(error, ReplayCheckUnavailable) and error.status == 503
    assert exchange_pending(sandbox) == 1 and not User.objects.exists()


def test_a_bad_signature_from_civic_is_refused(sandbox, request_):
    sandbox.inject_fault("sip.exchange", "bad_signature")
    assert authenticate(request_, civic_sip_token=sandbox.mint_code("alice")["authToken"]) is None
    assert isinstance(request_.civic_auth_error, SIPInvalidSignature)
    assert not User.objects.exists()


def test_inactive_users_are_refused(sandbox, request_):
    user = authenticate(request_, civic_sip_token=sandbox.mint_code("alice")["authToken"])
    User.objects.filter(pk=user.pk).update(is_active=False)
    again = RequestFactory().post("/")
    assert authenticate(again, civic_sip_token=sandbox.mint_code("alice")["authToken"]) is None
    assert isinstance(again.civic_auth_error, InactiveUser)


def test_inactive_users_are_refused_by_user_can_authenticate_too(sandbox, request_, monkeypatch):
    """Belt and braces: a backend subclass with a stricter rule refuses after the identity is recorded."""
    monkeypatch.setattr(CivicSIPBackend, "user_can_authenticate", lambda self, user: False)
    assert authenticate(request_, civic_sip_token=sandbox.mint_code("alice")["authToken"]) is None
    assert isinstance(request_.civic_auth_error, InactiveUser)


def test_signup_closed(sandbox, request_, settings):
    settings.CIVIC = {**settings.CIVIC, "SIGNUP_OPEN": False}
    assert authenticate(request_, civic_sip_token=sandbox.mint_code("alice")["authToken"]) is None
    assert isinstance(request_.civic_auth_error, SignupClosed)
    assert not User.objects.exists()


def test_user_login_failed_is_sent_with_the_token_masked(sandbox, request_):
    sent = []

    def receiver(sender, credentials, **kwargs):
        sent.append(credentials)

    user_login_failed.connect(receiver)
    try:
        assert authenticate(request_, civic_sip_token="garbage-token-value") is None
    finally:
        user_login_failed.disconnect(receiver)
    assert len(sent) == 1 and "garbage-token-value" not in repr(sent[0])


def test_password_logins_do_not_reach_this_backend(sandbox, request_):
    User.objects.create_user("pat", password="pw")
    arm(sandbox)
    assert authenticate(request_, username="pat", password="pw").backend.endswith("ModelBackend")
    assert CivicSIPBackend().authenticate(request_) is None
    assert exchange_pending(sandbox) == 1


def test_no_token_or_personal_data_in_logs(sandbox, request_, caplog):
    caplog.set_level(logging.DEBUG)
    code = sandbox.mint_code("alice")
    authenticate(request_, civic_sip_token=code["authToken"])
    authenticate(RequestFactory().post("/"), civic_sip_token=code["authToken"])  # replay, logged
    text = caplog.text
    assert code["authToken"] not in text and code["authToken"][:40] not in text
    assert "alice@example.com" not in text and "5556187380" not in text


def test_scope_that_is_not_a_scope_name_is_not_stored(sandbox, request_):
    authenticate(request_, civic_sip_token=sandbox.mint_code("alice")["authToken"], scope="<script>" * 40)
    assert set(VerifiedAttribute.objects.values_list("scope", flat=True)) == {""}


# -- the client factory ---------------------------------------------------------------------------------

def test_client_is_sandbox_aware_and_cached_per_configuration(sandbox, settings):
    client = get_sip_client()
    assert client.app_id == defaults.SIP_APP_ID and client.api_url == sandbox.url + "sip/"
    assert get_sip_client() is client
    settings.CIVIC = {**settings.CIVIC, "HTTP_TIMEOUT": 3.0}
    assert get_sip_client() is not client and get_sip_client().timeout == 3.0


def test_sandbox_url_is_the_setting_never_the_request(settings):
    # Before issue 13 it defaulted to this site's mount made absolute from the request's Host.
    settings.CIVIC = {"SANDBOX": True}
    assert sandbox_url() == "http://127.0.0.1:8000/civic-sandbox/"  # the documented default (runserver)
    settings.CIVIC = {"SANDBOX": True, "SANDBOX_URL": "http://127.0.0.1:9000"}
    assert sandbox_url() == "http://127.0.0.1:9000/"
    for bad in (None, "", "127.0.0.1:9000", "/civic-sandbox/"):
        settings.CIVIC = {"SANDBOX": True, "SANDBOX_URL": bad}
        with pytest.raises(ImproperlyConfigured, match="SANDBOX_URL"):
            sandbox_url()


def test_production_client_uses_configured_credentials_and_civics_key(settings):
    settings.CIVIC = {"SIP": {"APP_ID": "prod-app", "APP_SECRET": defaults.SIP_APP_SECRET,
                              "PRIVATE_KEY": defaults.SIP_APP_PRIVATE_KEY}}
    client = get_sip_client()
    assert client.app_id == "prod-app"
    assert client.exchange_url == "https://api.civic.com/sip/prod/scopeRequest/authCode"
    # A sandbox-signed code is not accepted by a production client.
    from django_civic.protocols.sip.crypto import load_private_key
    from django_civic.protocols.sip.tokens import auth_code

    sandbox_key = load_private_key(defaults.SIP_CIVIC_PRIVATE_KEY)
    forged = auth_code("prod-app", sandbox_key, "https://api.civic.com/sip/")
    with pytest.raises(SIPInvalidAuthToken):
        client.check_auth_code(forged)
