"""System checks of IDEMIA proofing: each id fires when it should and stays quiet otherwise."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_civic.idemia import checks as proofing

CONFIGURED = {
    "TOKEN_URL": "https://prod.auth.us-east-2.amazoncognito.com/oauth2/token", "CLIENT_ID": "client",
    "CLIENT_SECRET": "s3cret-value", "RP_HANDLER_URL": "https://rp-handler.did.idemia.io/",
    "GIPS_URL": "https://proofing.idemia.io/gips/", "API_KEY": "api-key-value",
    "CALLBACK_BASE_URL": "https://www.example.com",
}


def ids(messages):
    return [m.id for m in messages]


def run_all():
    return ids(proofing.check_credentials() + proofing.check_https() + proofing.check_values()
               + proofing.check_proof_storage() + proofing.check_callback_base_url())


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.CIVIC = {"IDEMIA": dict(CONFIGURED)}
    return settings


def configure(settings, **idemia):
    settings.CIVIC = {"IDEMIA": {**CONFIGURED, **idemia}}


def test_good_configuration_and_proofing_off_are_quiet(production):
    assert run_all() == []
    production.CIVIC = {}
    assert run_all() == []


def test_e201_partial_credentials(production):
    configure(production, API_KEY="", CLIENT_SECRET="")
    messages = proofing.check_credentials()
    assert ids(messages) == ["django_civic.E201"]
    assert "API_KEY" in messages[0].msg and "s3cret-value" not in messages[0].msg


def test_e202_plain_http_outside_debug(production):
    configure(production, GIPS_URL="http://proofing.idemia.io/gips/", CALLBACK_BASE_URL="http://www.example.com")
    messages = proofing.check_https()
    assert ids(messages) == ["django_civic.E202"] and "GIPS_URL" in messages[0].msg
    production.DEBUG = True
    assert proofing.check_https() == []


@pytest.mark.parametrize("level", ["2", "LOA", "loa2", None])
def test_e203_level_format(production, level):
    configure(production, MIN_LEVEL_OF_ASSURANCE=level)
    assert ids(proofing.check_values()) == ["django_civic.E203"]


def test_w202_level_without_face_match(production):
    configure(production, MIN_LEVEL_OF_ASSURANCE="LOA1")
    assert ids(proofing.check_values()) == ["django_civic.W202"]


@pytest.mark.parametrize("change", [{"SESSION_TIMEOUT": 0}, {"MAX_SESSIONS_PER_DAY": "10"},
                                    {"RETENTION_DAYS": -1}, {"RETENTION_DAYS": True}])
def test_e204_positive_integers(production, change):
    configure(production, **change)
    assert ids(proofing.check_values()) == ["django_civic.E204"]


def test_retention_none_is_allowed(production):
    configure(production, RETENTION_DAYS=None)
    assert proofing.check_values() == []


def test_the_removed_task_runner_setting_says_what_replaced_it(production):
    configure(production, TASK_RUNNER="myapp.tasks.fetch.delay")
    with pytest.raises(ImproperlyConfigured, match="TASK_RUNNER'.* was removed: .*TASKS setting"):
        proofing.check_proof_storage()


def test_e206_and_w203_proof_storage(production):
    configure(production, STORE_PROOF=True, PROOF_STORAGE="private")
    assert ids(proofing.check_proof_storage()) == ["django_civic.E206"]
    configure(production, STORE_PROOF=True, PROOF_STORAGE="default")
    assert ids(proofing.check_proof_storage()) == ["django_civic.W203"]
    production.STORAGES = {**production.STORAGES, "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage"}}
    configure(production, STORE_PROOF=True, PROOF_STORAGE="private")
    assert proofing.check_proof_storage() == []


def test_w201_callback_base_url(production):
    configure(production, CALLBACK_BASE_URL=None)
    assert ids(proofing.check_callback_base_url()) == ["django_civic.W201"]
    production.CIVIC = {"SANDBOX": True}
    assert proofing.check_callback_base_url() == []


def test_checks_are_registered(production):
    from django.core import checks

    configure(production, API_KEY="")
    assert "django_civic.E201" in ids(checks.run_checks())
