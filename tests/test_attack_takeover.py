"""Account takeover through email linking, end to end: an attacker logs in with Civic presenting the
victim's email address, through the real endpoints, with ``LINK_BY_EMAIL`` on (the riskiest setting).

The policy (design.md section 4, CVE-2025-61783): link only an email that Civic says is valid *and* owned
(``isValid`` and ``isOwner``; ``email_verified is true`` for Civic Auth), matching exactly one active
account. Every other case below must leave the victim's account untouched and the attacker logged in as
someone else, or refused. The service-level tests are tests/test_identities_linking.py (with the race
that must never widen the match, on PostgreSQL in tests/test_concurrency.py); the last case here is the
control: a genuinely verified, owned email does link, so the refusals are the policy, not a broken setup.
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.test import Client

from django_civic.models import CivicIdentity

from .conftest import EMAIL

pytestmark = pytest.mark.django_db
User = get_user_model()
VICTIM = "victim@example.com"


@pytest.fixture
def civic(settings, civic_sandbox):
    caches["default"].clear()
    settings.CIVIC = civic_sandbox.civic_settings(SANDBOX_ALLOW_WITHOUT_DEBUG=True, LINK_BY_EMAIL=True,
                                                  API={"THROTTLE_RATE": None})
    return civic_sandbox


@pytest.fixture
def victim():
    return User.objects.create_user("victim", VICTIM, "the victim's password")


def sip_login(civic, email: str, valid: bool, owner: bool) -> tuple[Client, object]:
    code = civic.mint_code(None, data=[{"label": EMAIL, "value": email, "isValid": valid, "isOwner": owner}])
    client = Client()
    return client, client.post("/civic/sip/exchange/", {"token": code["authToken"]},
                               content_type="application/json")


def oidc_login(civic, claims: dict) -> tuple[Client, object]:
    client = Client()
    issued = client.post("/civic/auth/nonce/").json()
    # A fresh subject each time: each attempt is somebody new to the site, as an attacker would be.
    claims = {"sub": uuid.uuid4().hex, **claims}
    token = civic.mint_oidc_token(persona="bob", nonce=issued["nonce"], claims=claims)
    return client, client.post("/civic/auth/token/", {"id_token": token, "nonce_id": issued["nonce_id"]},
                               content_type="application/json")


def assert_victim_untouched(victim, client) -> None:
    assert client.session.get("_auth_user_id") != str(victim.pk)
    assert not CivicIdentity.objects.filter(user=victim).exists()
    victim.refresh_from_db()
    assert victim.check_password("the victim's password") and victim.email == VICTIM


ATTEMPTS = {
    # Civic SIP: the email attribute's flags
    "sip_not_valid": lambda civic: sip_login(civic, VICTIM, valid=False, owner=True),
    "sip_not_owned": lambda civic: sip_login(civic, VICTIM, valid=True, owner=False),
    "sip_neither": lambda civic: sip_login(civic, VICTIM, valid=False, owner=False),
    "sip_lookalike_address": lambda civic: sip_login(civic, "victim@ex\u0430mple.com", valid=True,
                                                     owner=True),  # a Cyrillic "a"
    # Civic Auth: email_verified must be exactly true
    "oidc_unverified": lambda civic: oidc_login(civic, {"email": VICTIM, "email_verified": False}),
    "oidc_verified_as_string": lambda civic: oidc_login(civic, {"email": VICTIM, "email_verified": "true"}),
    "oidc_verified_as_number": lambda civic: oidc_login(civic, {"email": VICTIM, "email_verified": 1}),
    "oidc_no_verified_claim": lambda civic: oidc_login(civic, {"email": VICTIM, "email_verified": None}),
    "oidc_address_in_another_claim": lambda civic: oidc_login(
        civic, {"email": "attacker@example.org", "email_verified": True, "preferred_username": VICTIM}),
}


def test_an_unverified_or_unowned_email_never_reaches_the_victim(civic, victim, record_figure):
    for name, attempt in ATTEMPTS.items():
        client, response = attempt(civic)
        assert response.status_code == 200, (name, response.content[:300])  # logged in, as a new account
        assert response.json()["user"]["id"] != victim.pk and response.json()["user_created"] is True, name
        assert_victim_untouched(victim, client)
    record_figure("takeover.unverified_or_unowned", attempts=len(ATTEMPTS), victim_taken=0,
                  outcome="a new account each time", variants=sorted(ATTEMPTS))


CEO = "kim@gmail.com"
# Addresses that a database's case folding puts onto the CEO's (PostgreSQL: UPPER('ı') = 'I'; every
# database's iexact ignores the local part's case), none of them "the same email" (emails.email_key).
LOOKALIKES = ["k\u0131m@gmail.com", "kim@gma\u0131l.com", "KIM@gmail.com", "Kim@GMAIL.com",
              "\u212aim@gmail.com"]


def test_a_case_folding_lookalike_never_takes_a_superusers_account(civic, record_figure):
    """Issue 13 item 2: a verified, owned ``kım@gmail.com`` logged into ``kim@gmail.com``'s superuser
    account on PostgreSQL, then overwrote its email. Through both providers, each address must get an
    account of its own, and the superuser's stays as it was."""
    ceo = User.objects.create_superuser("ceo", CEO, "the ceo's password")
    attempts = 0
    for address in LOOKALIKES:
        for client, response in (sip_login(civic, address, valid=True, owner=True),
                                 oidc_login(civic, {"email": address, "email_verified": True})):
            attempts += 1
            assert response.status_code == 200, (address, response.content[:300])
            # Not the CEO's (the Civic Auth login may join the account the SIP login just made).
            assert response.json()["user"]["id"] != ceo.pk, address
            assert client.session.get("_auth_user_id") != str(ceo.pk)
    assert not CivicIdentity.objects.filter(user=ceo).exists()
    assert not User.objects.exclude(pk=ceo.pk).filter(is_superuser=True).exists()
    ceo.refresh_from_db()
    assert ceo.email == CEO and ceo.check_password("the ceo's password")
    record_figure("takeover.case_folding", attempts=attempts, victim_taken=0, email_rewritten=0,
                  outcome="an account of their own", addresses=len(LOOKALIKES))


def test_several_accounts_with_the_address_are_refused(civic, victim, record_figure):
    User.objects.create_user("twin", "victim@EXAMPLE.COM", "pw")  # the same email: domains ignore case
    users = User.objects.count()
    for client, response in (sip_login(civic, VICTIM, valid=True, owner=True),
                             oidc_login(civic, {"email": VICTIM, "email_verified": True})):
        assert response.status_code == 409 and response.json()["error"] == "email_link_refused"
        assert_victim_untouched(victim, client)
    assert User.objects.count() == users and not CivicIdentity.objects.exists()
    record_figure("takeover.several_matches", attempts=2, victim_taken=0, outcome="409 email_link_refused")


def test_an_inactive_account_is_never_linked_or_logged_into(civic, victim, record_figure):
    User.objects.filter(pk=victim.pk).update(is_active=False)
    for client, response in (sip_login(civic, VICTIM, valid=True, owner=True),
                             oidc_login(civic, {"email": VICTIM, "email_verified": True})):
        assert response.status_code == 200 and response.json()["user"]["id"] != victim.pk
        assert_victim_untouched(victim, client)
    record_figure("takeover.inactive_match", attempts=2, victim_taken=0, outcome="new account")


def test_off_by_default(civic, victim, settings):
    settings.CIVIC = {**settings.CIVIC, "LINK_BY_EMAIL": False}
    client, response = sip_login(civic, VICTIM, valid=True, owner=True)
    assert response.status_code == 200 and response.json()["user"]["id"] != victim.pk
    assert_victim_untouched(victim, client)


def test_control_a_verified_owned_email_does_link(civic, victim):
    client, response = sip_login(civic, VICTIM, valid=True, owner=True)
    assert response.status_code == 200 and response.json()["user"]["id"] == victim.pk
    assert CivicIdentity.objects.get().user == victim
