"""System checks of Civic Auth: each one firing, and quiet when the configuration is right."""

from __future__ import annotations

import pytest

from django_civic.civic_auth.checks import check_civic_auth

PRODUCTION = {"AUTH": {"CLIENT_ID": "my-client", "REDIRECT_URI": "https://example.com/civic/auth/callback/"}}


def ids(messages):
    return sorted(message.id for message in messages)


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.CIVIC = PRODUCTION
    return settings


def test_quiet_when_configured(production):
    assert check_civic_auth() == []


def test_quiet_in_sandbox_mode(settings):
    settings.CIVIC = {"SANDBOX": True, "SANDBOX_ALLOW_WITHOUT_DEBUG": True}
    assert check_civic_auth() == []


def test_quiet_without_the_backend(production):
    production.AUTHENTICATION_BACKENDS = ["django_civic.backends.CivicSIPBackend"]
    production.CIVIC = {}
    assert check_civic_auth() == []


def test_e101_missing_client_id(production):
    production.CIVIC = {}
    assert ids(check_civic_auth()) == ["django_civic.E101"]


@pytest.mark.parametrize("algorithms", [["HS256"], ["RS256", "none"], [], "RS256"])
def test_e102_symmetric_or_empty_algorithms(production, algorithms):
    production.CIVIC = {"AUTH": {**PRODUCTION["AUTH"], "ALGORITHMS": algorithms}}
    assert ids(check_civic_auth()) == ["django_civic.E102"]


@pytest.mark.parametrize("issuer", ["http://auth.civic.com/oauth/", "auth.civic.com", ""])
def test_e103_issuer_not_https(production, issuer):
    production.CIVIC = {"AUTH": {**PRODUCTION["AUTH"], "ISSUER": issuer}}
    assert ids(check_civic_auth()) == ["django_civic.E103"]


def test_http_issuer_is_fine_in_debug(production):
    production.DEBUG = True
    production.CIVIC = {"AUTH": {**PRODUCTION["AUTH"], "ISSUER": "http://localhost:8080/oauth/"}}
    assert check_civic_auth() == []


def test_e104_dummy_cache(production):
    production.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    assert ids(check_civic_auth()) == ["django_civic.E104"]


@pytest.mark.parametrize("name", ["REDIRECT_URI", "POST_LOGOUT_REDIRECT_URI"])
def test_w101_http_redirects_outside_debug(production, name):
    production.CIVIC = {"AUTH": {**PRODUCTION["AUTH"], name: "http://example.com/x/"}}
    assert ids(check_civic_auth()) == ["django_civic.W101"]
    production.DEBUG = True
    assert check_civic_auth() == []


def test_w102_tokens_in_cookie_sessions(production):
    production.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    production.CIVIC = {"AUTH": {**PRODUCTION["AUTH"], "STORE_TOKENS": True}}
    assert ids(check_civic_auth()) == ["django_civic.W102"]
