"""System checks: each id fires when it should and stays quiet otherwise."""

from __future__ import annotations

import sys

import pytest
from django.core import checks

from django_civic.core import checks as core
from django_civic.sandbox import defaults
from django_civic.sip import checks as sip_checks

SIP_BACKEND = "django_civic.backends.CivicSIPBackend"
GOOD_SIP = {"APP_ID": defaults.SIP_APP_ID, "APP_SECRET": defaults.SIP_APP_SECRET,
            "PRIVATE_KEY": defaults.SIP_APP_PRIVATE_KEY}


def ids(messages):
    return [m.id for m in messages]


@pytest.fixture
def production(settings):
    """A production-like configuration that passes every check."""
    settings.DEBUG = False
    settings.AUTHENTICATION_BACKENDS = [SIP_BACKEND, "django.contrib.auth.backends.ModelBackend"]
    settings.CIVIC = {"SIP": GOOD_SIP, "ENCRYPTION_KEYS": ["k" * 40], "DIGEST_KEY": "d" * 40}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                                   "LOCATION": "civic_cache"}}
    return settings


CORE_IDS = {f"django_civic.E00{n}" for n in range(1, 8)} | {"django_civic.W003", "django_civic.W004"}


def test_a_good_production_configuration_is_quiet(production):
    assert not set(ids(checks.run_checks())) & CORE_IDS


def test_checks_are_registered(production):
    production.DEBUG = False
    production.CIVIC = {}
    found = set(ids(checks.run_checks()))
    assert {"django_civic.E001", "django_civic.W003"} <= found


# -- E001 ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("sip, fragment", [
    ({}, "needs APP_ID"),
    ({**GOOD_SIP, "APP_SECRET": "not hex"}, "app_secret"),
    ({**GOOD_SIP, "APP_SECRET": "abcd"}, "app_secret"),
    ({**GOOD_SIP, "PRIVATE_KEY": "zz"}, "malformed"),
    ({**GOOD_SIP, "CIVIC_PUBLIC_KEY": "04abcd"}, "malformed"),
])
def test_e001_fires_for_missing_or_malformed_credentials(production, sip, fragment):
    production.CIVIC = {**production.CIVIC, "SIP": sip}
    messages = sip_checks.check_sip_credentials()
    assert ids(messages) == ["django_civic.E001"]
    assert fragment in messages[0].msg
    if sip.get("APP_SECRET"):
        assert sip["APP_SECRET"] not in messages[0].msg


def test_e001_quiet_with_good_credentials_or_in_the_sandbox(production):
    assert sip_checks.check_sip_credentials() == []
    production.CIVIC = {"SANDBOX": True}
    assert sip_checks.check_sip_credentials() == []


def test_e001_checks_explicit_credentials_in_the_sandbox_too(production):
    production.CIVIC = {"SANDBOX": True, "SIP": {"APP_ID": "mine", "APP_SECRET": "x"}}
    assert ids(sip_checks.check_sip_credentials()) == ["django_civic.E001"]


def test_e001_quiet_when_the_sip_backend_is_not_used(production):
    production.AUTHENTICATION_BACKENDS = ["django_civic.backends.CivicAuthBackend"]
    production.CIVIC = {}
    assert sip_checks.check_sip_credentials() == []


# -- E002 ----------------------------------------------------------------------------------------

def test_e002_fires_without_a_civic_backend(production):
    production.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    assert ids(core.check_backends()) == ["django_civic.E002"]


def test_e002_fires_when_sip_is_configured_without_its_backend(production):
    production.AUTHENTICATION_BACKENDS = ["django_civic.backends.CivicAuthBackend"]
    assert "CivicSIPBackend" in core.check_backends()[0].msg


class MyBackend(__import__("django_civic.backends", fromlist=["CivicSIPBackend"]).CivicSIPBackend):
    pass


def test_e002_quiet_with_the_backend_or_a_subclass(production):
    assert core.check_backends() == []
    production.AUTHENTICATION_BACKENDS = [f"{__name__}.MyBackend"]
    assert core.check_backends() == []


# -- E003 ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("missing", ["SessionMiddleware", "AuthenticationMiddleware"])
def test_e003_fires_without_session_or_auth_middleware(settings, missing):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith(missing)]
    messages = core.check_middleware()
    assert ids(messages) == ["django_civic.E003"] and missing in messages[0].msg


def test_e003_quiet_with_both(settings):
    assert core.check_middleware() == []


# -- E004 ----------------------------------------------------------------------------------------

def test_e004_fires_for_the_sandbox_without_debug(production):
    production.CIVIC = {"SANDBOX": True}
    assert ids(core.check_sandbox()) == ["django_civic.E004"]


@pytest.mark.parametrize("debug, civic", [(True, {"SANDBOX": True}), (False, {"SANDBOX": False}),
                                          (False, {"SANDBOX": True, "SANDBOX_ALLOW_WITHOUT_DEBUG": True})])
def test_e004_quiet(production, debug, civic):
    production.DEBUG = debug
    production.CIVIC = civic
    assert core.check_sandbox() == []


# -- E005 ----------------------------------------------------------------------------------------

def test_e005_fires_for_plain_http_outside_debug(production):
    production.CIVIC = {**production.CIVIC, "SIP": {**GOOD_SIP, "API_URL": "http://api.civic.com/sip/"}}
    messages = sip_checks.check_https()
    assert ids(messages) == ["django_civic.E005"] and "API_URL" in messages[0].msg


def test_e005_quiet_for_https_debug_or_sandbox(production):
    assert sip_checks.check_https() == []
    production.CIVIC = {**production.CIVIC, "SIP": {**GOOD_SIP, "API_URL": "http://localhost:9000/sip/"}}
    production.DEBUG = True
    assert sip_checks.check_https() == []
    production.DEBUG = False
    production.CIVIC = {**production.CIVIC, "SANDBOX": True, "SANDBOX_URL": "http://127.0.0.1:9000/"}
    assert sip_checks.check_https() == []


# -- E006 / W003 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("civic", [{"ENCRYPTION_KEYS": "one-string"}, {"ENCRYPTION_KEYS": ["ok", ""]},
                                   {"ENCRYPTION_KEYS": [42]}, {"DIGEST_KEY": ""}])
def test_e006_fires_for_malformed_keys(production, civic):
    production.CIVIC = {**production.CIVIC, **civic}
    assert ids(core.check_encryption_keys()) == ["django_civic.E006"]


@pytest.mark.parametrize("civic, named", [({"ENCRYPTION_KEYS": []}, "ENCRYPTION_KEYS"),
                                          ({"DIGEST_KEY": None}, "DIGEST_KEY")])
def test_w003_fires_for_keys_derived_from_secret_key_in_production(production, civic, named):
    production.CIVIC = {**production.CIVIC, **civic}
    messages = core.check_encryption_keys()
    assert ids(messages) == ["django_civic.W003"] and named in messages[0].msg


def test_w003_quiet_with_own_keys_or_in_debug(production):
    assert core.check_encryption_keys() == []
    production.CIVIC = {}
    production.DEBUG = True
    assert core.check_encryption_keys() == []


# -- E007 / W004 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["locmem.LocMemCache", "dummy.DummyCache", "filebased.FileBasedCache"])
def test_w004_fires_for_per_process_caches(production, backend):
    path = f"django.core.cache.backends.{backend}"
    production.CACHES = {"default": {"BACKEND": path, "LOCATION": "/tmp/x"}}
    assert ids(core.check_replay_cache()) == ["django_civic.W004"]


def test_w004_quiet_for_shared_caches(production):
    assert core.check_replay_cache() == []
    production.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                     "LOCATION": "redis://127.0.0.1:6379"}}
    assert core.check_replay_cache() == []


def test_e007_fires_for_an_unknown_cache_alias(production):
    production.CIVIC = {**production.CIVIC, "CACHE_ALIAS": "replay"}
    assert ids(core.check_replay_cache()) == ["django_civic.E007"]
    production.CACHES = {**production.CACHES, "replay": production.CACHES["default"]}
    assert core.check_replay_cache() == []


# -- E008 (deploy) / E009 ------------------------------------------------------------------------

def test_e008_names_a_mounted_sandbox_in_a_deploy_check(production):
    # The tests' URLconf is the example project's, which mounts the sandbox at civic-sandbox/.
    messages = core.check_sandbox_mounted()
    assert ids(messages) == ["django_civic.E008"] and "'civic-sandbox/'" in messages[0].msg
    assert "django_civic.E008" in ids(checks.run_checks(include_deployment_checks=True))
    assert "django_civic.E008" not in ids(checks.run_checks())  # a deploy check only: development stays quiet


def test_e008_finds_the_sandbox_under_a_nested_include(production, settings):
    settings.ROOT_URLCONF = "tests.urls"  # "" -> example_project.urls -> civic-sandbox/
    assert "'civic-sandbox/'" in core.check_sandbox_mounted()[0].msg


def test_e008_quiet_without_the_mount(production, settings):
    settings.ROOT_URLCONF = "tests.urls_without_sandbox"
    assert core.check_sandbox_mounted() == []


@pytest.mark.parametrize("url", [None, "", "127.0.0.1:8000/civic-sandbox/", "/civic-sandbox/", 8000])
def test_e009_fires_for_a_sandbox_url_that_is_not_absolute(production, url):
    production.DEBUG = True
    production.CIVIC = {"SANDBOX": True, "SANDBOX_URL": url}
    assert ids(core.check_sandbox_url()) == ["django_civic.E009"]


def test_e009_quiet_for_an_absolute_url_or_without_the_sandbox(production):
    production.CIVIC = {"SANDBOX": True}  # the default, http://127.0.0.1:8000/civic-sandbox/
    assert core.check_sandbox_url() == []
    production.CIVIC = {"SANDBOX": False, "SANDBOX_URL": None}
    assert core.check_sandbox_url() == []


# -- E010 / W005: a cache that cannot be used (every login would answer 503) -----------------------

REDIS = "django.core.cache.backends.redis.RedisCache"
NOWHERE = "redis://127.0.0.1:1/11"  # nothing listens on port 1: a connection is refused at once


def test_e010_fires_when_the_redis_client_is_not_installed(production, monkeypatch):
    # The README's settings use Django's RedisCache, which imports redis-py only when it builds its client:
    # without the check, `check` was quiet and every login answered 503.
    production.CACHES = {"default": {"BACKEND": REDIS, "LOCATION": NOWHERE}}
    monkeypatch.setitem(sys.modules, "redis", None)  # what a site without `pip install redis` has
    messages = core.check_cache_usable()
    assert ids(messages) == ["django_civic.E010"]
    assert "redis" in messages[0].msg and "django-civic[redis]" in messages[0].hint
    assert "django_civic.E010" in ids(checks.run_checks())


def test_e010_fires_for_a_backend_that_cannot_be_imported(production):
    production.CIVIC = {**production.CIVIC, "CACHE_ALIAS": "replay"}
    production.CACHES = {**production.CACHES, "replay": {"BACKEND": "django.core.cache.backends.nope.Cache"}}
    assert ids(core.check_cache_usable()) == ["django_civic.E010"]


def test_e010_never_connects(production):
    # No server behind the address: E010 only imports, so it stays quiet (and fast) on every command.
    production.CACHES = {"default": {"BACKEND": REDIS, "LOCATION": NOWHERE}}
    assert core.check_cache_usable() == []
    assert "django_civic.W005" not in ids(checks.run_checks())  # the round trip is a deploy check only


def test_w005_fires_in_a_deploy_check_when_the_cache_server_is_down(production):
    production.CACHES = {"default": {"BACKEND": REDIS, "LOCATION": NOWHERE}}
    messages = core.check_cache_answers()
    assert ids(messages) == ["django_civic.W005"] and "ConnectionError" in messages[0].msg
    assert "django_civic.W005" in ids(checks.run_checks(include_deployment_checks=True))


def test_w005_fires_for_a_cache_that_keeps_nothing(production):
    production.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    assert "did not keep a value" in core.check_cache_answers()[0].msg


def test_w005_quiet_when_the_round_trip_works(production):
    production.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert core.check_cache_answers() == []
