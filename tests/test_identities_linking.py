"""Linking a new identity to an existing account by email: every takeover attempt is refused.

The rule (design.md section 4, django-anchors.md section 3): off unless ``LINK_BY_EMAIL``; then only an
email attribute that is ``isValid`` *and* ``isOwner``, with exactly one active account of the same email
by ``django_civic.core.emails.email_key`` (ASCII only, local part exact, domain case-insensitive), whatever
the database's own case folding says. Race handling never widens the match (CVE-2025-61783).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection
from django.db.models.functions import Lower

from django_civic.core import identities
from django_civic.core.adapter import DefaultCivicAdapter
from django_civic.core.emails import email_key, same_email
from django_civic.core.identities import record_identity
from django_civic.exceptions import EmailLinkRefused
from django_civic.models import CivicIdentity
from django_civic.protocols.sip.types import Attribute

from .conftest import EMAIL

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def victim():
    return User.objects.create_user(username="victim", email="victim@example.com", password="pw-victim")


@pytest.fixture
def link_on(settings):
    settings.CIVIC = {**settings.CIVIC, "LINK_BY_EMAIL": True}


def login(attributes, subject="attacker"):
    return record_identity(provider="civic_sip", subject=subject, attributes=attributes)


def email(value="victim@example.com", valid=True, owner=True):
    return [Attribute(EMAIL, value, valid, owner)]


def assert_victim_untouched(victim):
    assert not CivicIdentity.objects.filter(user=victim).exists()
    victim.refresh_from_db()
    assert victim.check_password("pw-victim")


def test_off_by_default_even_for_a_verified_owned_email(victim):
    result = login(email())
    assert result.user.pk != victim.pk and result.user_created and not result.linked_by_email
    assert_victim_untouched(victim)


def test_links_a_verified_owned_email_with_one_active_match(victim, link_on):
    result = login(email("victim@Example.COM"))  # the domain's case does not matter
    assert result.user.pk == victim.pk and result.linked_by_email and result.identity_created
    assert not result.user_created and User.objects.count() == 1
    assert CivicIdentity.objects.get().user_id == victim.pk
    # Later logins go through the identity; the link is not redone.
    again = login(email())
    assert again.user.pk == victim.pk and not again.linked_by_email


@pytest.mark.parametrize("valid, owner", [(False, True), (True, False), (False, False)])
def test_unverified_or_not_owned_email_never_links(victim, link_on, valid, owner):
    result = login(email(valid=valid, owner=owner))
    assert result.user.pk != victim.pk and result.user_created
    assert result.user.email == ""  # and the new account does not get the address either
    assert_victim_untouched(victim)


def test_several_active_matches_are_refused(victim, link_on):
    User.objects.create_user(username="twin", email="victim@EXAMPLE.com")
    with pytest.raises(EmailLinkRefused) as info:
        login(email())
    assert info.value.code == "email_link_refused" and info.value.status == 409
    assert User.objects.count() == 2 and not CivicIdentity.objects.exists()
    assert_victim_untouched(victim)


# -- what "the same email" is (django_civic/emails.py) ----------------------------------------------

@pytest.mark.parametrize("address, key", [
    ("Ann@Example.COM", "Ann@example.com"),      # the domain is case-insensitive, the local part is not
    ("  ann@example.com\t", "ann@example.com"),  # surrounding spaces only
    ("a@b@example.com", "a@b@example.com"),      # the last @ splits
    ("ceo@gma\u0131l.com", None),                # dotless i: non-ASCII never matches
    ("\u212aim@gmail.com", None),                # Kelvin sign
    ("j\u00fcrgen@example.com", None),
    ("ann@example.com\u200b", None),             # zero-width space
    ("no-at-sign", None), ("@example.com", None), ("ann@", None), ("", None), (None, None), (42, None),
])
def test_email_key(address, key):
    assert email_key(address) == key


def test_same_email_is_never_true_without_a_key():
    assert same_email("Ann@EXAMPLE.com", "Ann@example.com")
    assert not same_email("Ann@example.com", "ann@example.com")
    assert not same_email("j\u00fcrgen@example.com", "j\u00fcrgen@example.com")
    assert not same_email(None, None)


CEO = "kim@gmail.com"
# Addresses a database folds onto the victim's, and "the same email" does not.
LOOKALIKES = {
    "dotless_i_local": "k\u0131m@gmail.com",   # PostgreSQL UPPER(): ı -> I
    "dotless_i_domain": "kim@gma\u0131l.com",
    "kelvin_sign": "\u212aim@gmail.com",       # PostgreSQL LOWER(): K (U+212A) -> k
    "local_part_case": "KIM@gmail.com",        # every database's iexact
}


@pytest.fixture
def superuser_victim():
    return User.objects.create_superuser("ceo", CEO, "pw-ceo")


@pytest.mark.parametrize("name", sorted(LOOKALIKES))
def test_a_lookalike_address_never_links_or_rewrites_the_victims_email(superuser_victim, link_on, name):
    """Issue 13 item 2: on PostgreSQL ``iexact`` linked ``kım@gmail.com`` to ``kim@gmail.com``'s
    account, a superuser, and the login's sync then wrote the attacker's address over the victim's."""
    result = login(email(LOOKALIKES[name]), subject=f"attacker-{name}")
    assert result.user.pk != superuser_victim.pk and result.user_created and not result.linked_by_email
    assert not result.user.is_superuser and not result.user.is_staff
    assert not CivicIdentity.objects.filter(user=superuser_victim).exists()
    superuser_victim.refresh_from_db()
    assert superuser_victim.email == CEO and superuser_victim.check_password("pw-ceo")


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (CIVIC_TEST_DB=postgres)")
def test_postgres_folds_the_lookalikes_and_they_still_never_link(superuser_victim, link_on):
    """The database's own comparisons do match these (so the test above exercises the real folding);
    only email_key, in Python, keeps them apart."""
    users = User.objects.annotate(lowered=Lower("email"))
    assert User.objects.filter(email__iexact=LOOKALIKES["dotless_i_local"]).get() == superuser_victim
    assert User.objects.filter(email__iexact=LOOKALIKES["dotless_i_domain"]).get() == superuser_victim
    assert users.filter(lowered=LOOKALIKES["kelvin_sign"].lower()).get() == superuser_victim
    for name, address in LOOKALIKES.items():
        assert login(email(address), subject=f"pg-{name}").user.pk != superuser_victim.pk, name
    assert not CivicIdentity.objects.filter(user=superuser_victim).exists()


def test_a_link_never_rewrites_the_accounts_email(victim, link_on):
    """The account had its address before the link: the linking login's sync leaves it as it was."""
    result = login(email("victim@EXAMPLE.com"))
    assert result.user.pk == victim.pk and result.linked_by_email
    victim.refresh_from_db()
    assert victim.email == "victim@example.com"


def test_an_account_with_a_non_ascii_email_is_never_linked(link_on):
    owner = User.objects.create_user(username="jurgen", email="j\u00fcrgen@example.com", password="pw")
    result = login(email("j\u00fcrgen@example.com"))
    assert result.user.pk != owner.pk and result.user_created
    assert not CivicIdentity.objects.filter(user=owner).exists()


def test_an_inactive_match_is_never_linked(victim, link_on):
    User.objects.filter(pk=victim.pk).update(is_active=False)
    result = login(email())
    assert result.user.pk != victim.pk and result.user_created
    assert_victim_untouched(victim)


def test_the_one_active_match_is_linked_when_an_inactive_one_also_exists(victim, link_on):
    User.objects.create_user(username="old", email="victim@example.com", is_active=False)
    assert login(email()).user.pk == victim.pk


def test_email_link_ignores_other_labels(victim, link_on):
    result = login([Attribute("oidc.email", "victim@example.com", True, True)])
    assert result.user.pk != victim.pk
    assert_victim_untouched(victim)


class Veto(DefaultCivicAdapter):
    def can_link_by_email(self, request, provider, attributes, user):
        return False


def test_adapter_can_veto_a_link(victim, link_on, settings):
    settings.CIVIC = {**settings.CIVIC, "ADAPTER": f"{__name__}.Veto"}
    with pytest.raises(EmailLinkRefused):
        login(email())
    assert_victim_untouched(victim)


class WipePassword(DefaultCivicAdapter):
    linked = []

    def on_linked_by_email(self, request, user):
        WipePassword.linked.append(user.pk)
        user.set_unusable_password()
        user.save(update_fields=["password"])


def test_on_linked_by_email_runs_once_after_the_link(victim, link_on, settings):
    settings.CIVIC = {**settings.CIVIC, "ADAPTER": f"{__name__}.WipePassword"}
    WipePassword.linked.clear()
    login(email())
    login(email())
    assert WipePassword.linked == [victim.pk]
    victim.refresh_from_db()
    assert not victim.has_usable_password()


# -- race handling (the concurrent version runs on PostgreSQL in test_concurrency.py) ---------------

def _lose_the_race(monkeypatch, winner_subject="attacker"):
    """Make the first lookup miss, as if another request inserted the identity right after it."""
    real_find = identities._find
    calls = {"n": 0}

    def find(provider, subject, *, lock=False):
        calls["n"] += 1
        if calls["n"] == 1:
            return None
        return real_find(provider, subject, lock=lock)

    monkeypatch.setattr(identities, "_find", find)
    return calls


def test_losing_a_signup_race_logs_into_the_winner_and_leaves_no_user_behind(monkeypatch):
    winner = login(email("someone@example.com"))
    _lose_the_race(monkeypatch)
    loser = login(email("someone@example.com"))
    assert loser.user.pk == winner.user.pk and not loser.user_created and not loser.identity_created
    assert User.objects.count() == 1 and CivicIdentity.objects.count() == 1


def test_race_handling_never_widens_to_email(victim, monkeypatch):
    """CVE-2025-61783: the IntegrityError path re-fetches by (provider, subject) only."""
    owner = login(email())  # LINK_BY_EMAIL off: a separate account with the victim's address
    assert owner.user.pk != victim.pk
    _lose_the_race(monkeypatch)
    again = login(email())
    assert again.user.pk == owner.user.pk
    assert_victim_untouched(victim)


def test_a_conflict_without_a_matching_identity_is_not_swallowed(monkeypatch):
    def always_conflict(**kwargs):
        raise IntegrityError("simulated")

    monkeypatch.setattr(CivicIdentity.objects, "create", always_conflict)
    with pytest.raises(Exception) as info:
        login(email("x@example.com"))
    assert getattr(info.value, "code", None) == "identity_conflict"
    assert not User.objects.exists()
