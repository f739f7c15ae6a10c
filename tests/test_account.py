"""The account pages (``civic/account/``: login, logout, connections, profile) and connecting logins,
end to end: the Django test client -> our views -> the sandbox over real HTTP.

The security rules here each have a negative test: a login that belongs to another account is refused
and changes nothing (SIP exchange, Civic Auth token API and redirect flow); the last way in is never
disconnected; logout and disconnect are POST-only and CSRF-protected even on a site without
``CsrfViewMiddleware``; the login page's ``next`` goes through the one safe-redirect helper.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.test import Client

from django_civic.models import CivicIdentity, VerifiedAttribute

pytestmark = pytest.mark.django_db
User = get_user_model()
HOST = "localhost"  # the sandbox's default OIDC client accepts localhost redirect URIs
LOGIN, LOGOUT = "/civic/account/login/", "/civic/account/logout/"
CONNECTIONS, PROFILE = "/civic/account/connections/", "/civic/account/profile/"
EXCHANGE = "/civic/sip/exchange/"


def browser(**options) -> Client:
    return Client(SERVER_NAME=HOST, **options)


def sip_login(civic, client, persona):
    return client.post(EXCHANGE, {"token": civic.mint_code(persona)["authToken"]},
                       content_type="application/json")


def civic_auth_login(civic, client, persona, *, next_url=""):
    start = client.post("/civic/auth/login/", {"next": next_url} if next_url else {})
    assert start.status_code == 302, start.content[:300]
    back = urlsplit(civic.oidc_approve(start["Location"], persona)["redirect"])
    return client.get(f"{back.path}?{back.query}")


def snapshot():
    """Everything connecting could change: who owns which identity, and every stored attribute."""
    return (sorted(CivicIdentity.objects.values_list("provider", "subject", "user_id")),
            sorted(VerifiedAttribute.objects.values_list("identity_id", "label", "value_digest",
                                                         "last_verified_at")),
            sorted(User.objects.values_list("pk", "username", "email", "first_name", "last_name")))


def signed_in_as(client):
    return client.session.get("_auth_user_id")


def notices(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- connecting ---------------------------------------------------------------------------------------


def test_a_civic_login_while_signed_in_connects_to_the_same_account(civic):
    alice = browser()
    first = sip_login(civic, alice, "alice").json()
    response = sip_login(civic, alice, "carol")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["connected"] is True and body["login_mode"] is None and body["user_created"] is False
    assert body["user"]["id"] == first["user"]["id"] and body["next"] == CONNECTIONS
    assert User.objects.count() == 1
    subjects = CivicIdentity.objects.filter(user_id=first["user"]["id"]).values_list("subject", flat=True)
    assert sorted(subjects) == sorted([first["civic_user_id"], body["civic_user_id"]])
    assert signed_in_as(alice) == str(first["user"]["id"])
    assert "Your Civic SIP login is now connected to this account." in notices(response)

    # Civic Auth too, through the redirect flow: back on the connections page, still the same person.
    done = civic_auth_login(civic, alice, "alice")
    assert done.status_code == 302 and done["Location"] == CONNECTIONS
    assert User.objects.count() == 1
    assert CivicIdentity.objects.filter(user_id=first["user"]["id"]).count() == 3
    page = alice.get(CONNECTIONS)
    assert "Your Civic Auth login is now connected to this account." in notices(page)
    assert b"Civic SIP" in page.content and b"Civic Auth" in page.content and b"/oauth/" not in page.content


def test_a_login_of_another_account_is_refused_and_changes_nothing(civic):
    sip_login(civic, browser(), "bob")  # bob's account, with his Civic SIP identity
    alice = browser()
    alice_id = sip_login(civic, alice, "alice").json()["user"]["id"]
    before = snapshot()

    response = sip_login(civic, alice, "bob")
    assert response.status_code == 409 and response.json()["error"] == "already_linked", response.content
    assert snapshot() == before
    assert signed_in_as(alice) == str(alice_id)  # never switched to bob's account


def test_a_civic_auth_login_of_another_account_is_refused_and_changes_nothing(civic):
    civic_auth_login(civic, browser(), "carol")  # carol's account, with her Civic Auth identity
    alice = browser()
    alice_id = sip_login(civic, alice, "alice").json()["user"]["id"]
    before = snapshot()

    # The redirect flow: back on the connections page with the reason, still signed in as alice.
    done = civic_auth_login(civic, alice, "carol")
    assert done.status_code == 302 and done["Location"] == CONNECTIONS
    assert snapshot() == before and signed_in_as(alice) == str(alice_id)
    assert any("belongs to another account" in text for text in notices(alice.get(CONNECTIONS)))

    # The token API for apps: the same refusal.
    issued = alice.post("/civic/auth/nonce/").json()
    token = civic.mint_oidc_token(persona="carol", nonce=issued["nonce"])
    response = alice.post("/civic/auth/token/", {"id_token": token, "nonce_id": issued["nonce_id"]},
                          content_type="application/json")
    assert response.status_code == 409 and response.json()["error"] == "already_linked", response.content
    assert snapshot() == before and signed_in_as(alice) == str(alice_id)


def test_a_cross_site_post_never_connects_a_login_to_the_signed_in_account(civic, settings):
    # Token mode skips the login CSRF check (no cookie is set), but a signed-in session is read, so
    # DRF checks CSRF for it: a hostile page cannot connect its own Civic login to the victim's account.
    settings.CIVIC = {**settings.CIVIC, "API": {**settings.CIVIC["API"], "LOGIN_MODE": "token"}}
    victim = browser(enforce_csrf_checks=True)
    victim.force_login(User.objects.create_user("victim", password="pw"))
    before = snapshot()
    response = sip_login(civic, victim, "alice")
    assert response.status_code == 403 and response.json()["error"] == "permission_denied", response.content
    assert snapshot() == before


# --- disconnecting ------------------------------------------------------------------------------------


def test_disconnect_removes_one_login_and_keeps_the_other(civic):
    alice = browser()
    sip_login(civic, alice, "alice")
    civic_auth_login(civic, alice, "alice")
    sip_identity = CivicIdentity.objects.get(provider="civic_sip")
    response = alice.post(CONNECTIONS, {"identity": sip_identity.pk})
    assert response.status_code == 302 and response["Location"] == CONNECTIONS
    assert not CivicIdentity.objects.filter(pk=sip_identity.pk).exists()
    assert CivicIdentity.objects.count() == 1
    assert "Your Civic SIP login was disconnected." in notices(alice.get(CONNECTIONS))


def test_the_last_way_in_is_never_disconnected(civic):
    alice = browser()
    sip_login(civic, alice, "alice")
    identity = CivicIdentity.objects.get()
    page = alice.get(CONNECTIONS)
    assert f'id="civic-disconnect-{identity.pk}"'.encode() not in page.content  # not even offered
    before = snapshot()
    response = alice.post(CONNECTIONS, {"identity": identity.pk})
    assert response.status_code == 409
    assert b'data-testid="civic-connections-error"' in response.content
    assert snapshot() == before


def test_bad_disconnect_input_is_a_4xx_and_changes_nothing(civic):
    alice, bob = browser(), browser()
    sip_login(civic, alice, "alice")
    sip_login(civic, bob, "bob")
    civic_auth_login(civic, alice, "alice")  # so alice could disconnect one
    bobs = CivicIdentity.objects.exclude(user__username="alice").get()
    before = snapshot()
    for value, status in [("", 400), ("x", 400), ("1e3", 400), ("9" * 40, 404), (str(bobs.pk), 404),
                          ("-1", 404)]:
        response = alice.post(CONNECTIONS, {"identity": value})
        assert response.status_code == status, (value, response.status_code)
    assert alice.post(CONNECTIONS, {}).status_code == 400
    assert snapshot() == before


@pytest.fixture
def cross_site(civic, settings):
    """A browser signed in with two logins, posting from another site (no CSRF token), on a site that left
    CsrfViewMiddleware out: the views must protect themselves."""
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "django.middleware.csrf.CsrfViewMiddleware"]
    setup = browser()
    sip_login(civic, setup, "alice")
    civic_auth_login(civic, setup, "alice")  # two logins, so one could be disconnected
    identity = CivicIdentity.objects.get(provider="civic_sip")
    ann = browser(enforce_csrf_checks=True)
    ann.cookies = setup.cookies
    return ann, identity


def test_logout_is_post_only_and_csrf_protected(cross_site):
    ann, _identity = cross_site
    assert ann.get(LOGOUT).status_code == 200 and signed_in_as(ann)  # GET only asks
    assert ann.post(LOGOUT).status_code == 403 and signed_in_as(ann)


def test_disconnect_is_post_only_and_csrf_protected(cross_site):
    ann, identity = cross_site
    before = snapshot()
    assert ann.get(CONNECTIONS, {"identity": identity.pk}).status_code == 200  # GET only lists
    assert ann.post(CONNECTIONS, {"identity": identity.pk}).status_code == 403
    assert snapshot() == before


def test_logout_page_asks_then_signs_out_with_a_notice(civic):
    alice = browser()
    sip_login(civic, alice, "alice")
    page = alice.get(LOGOUT)
    assert b'id="civic-logout"' in page.content and signed_in_as(alice)
    response = alice.post(LOGOUT)
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert signed_in_as(alice) is None
    assert "You have signed out." in notices(alice.get(LOGIN))


def test_logout_ends_the_civic_auth_session_where_configured(civic, settings):
    settings.CIVIC = {**settings.CIVIC, "AUTH": {"PROVIDER_LOGOUT": True}}
    alice = browser()
    civic_auth_login(civic, alice, "alice")
    response = alice.post(LOGOUT)
    assert response.status_code == 302 and signed_in_as(alice) is None
    target = urlsplit(response["Location"])
    end_session = civic.url.rstrip("/") + "/oauth/session/end?"
    assert response["Location"].startswith(end_session), response["Location"]
    assert "id_token_hint=" in target.query


# --- the login page -----------------------------------------------------------------------------------


def test_the_login_page_offers_every_enabled_way_in(civic, settings):
    page = browser().get(LOGIN)
    assert page.status_code == 200
    assert b'data-civic-scope="BASIC_SIGNUP"' in page.content          # Civic SIP
    assert b'action="/civic/auth/login/"' in page.content               # Civic Auth
    assert b'name="password"' in page.content and b'<label for="id_password"' in page.content

    settings.AUTHENTICATION_BACKENDS = ["django_civic.backends.CivicSIPBackend"]
    page = browser().get(LOGIN)
    assert b"data-civic-scope" in page.content
    assert b'action="/civic/auth/login/"' not in page.content and b'name="password"' not in page.content
    # No password login here: a posted form is refused, whatever it holds.
    User.objects.create_user("ann", password="pw")
    refused = browser().post(LOGIN, {"username": "ann", "password": "pw"})
    assert refused.status_code == 405 and "_auth_user_id" not in refused.client.session


def test_password_login_signs_in_with_a_notice_and_follows_a_safe_next(civic):
    User.objects.create_user("ann", password="pw")
    client = browser()
    response = client.post(LOGIN, {"username": "ann", "password": "pw", "next": "/somewhere/"})
    assert response.status_code == 302 and response["Location"] == "/somewhere/"
    assert "You are signed in." in notices(client.get(LOGIN))
    wrong = browser().post(LOGIN, {"username": "ann", "password": "nope", "next": "/somewhere/"})
    assert wrong.status_code == 200 and b'role="alert"' in wrong.content
    # The form shown again keeps the posted next, for the password and the Civic buttons alike.
    assert wrong.content.count(b'name="next" value="/somewhere/"') >= 2


def test_login_url_and_login_redirect_url_can_name_the_pages(civic, settings):
    settings.LOGIN_URL = "django_civic:login"
    settings.LOGIN_REDIRECT_URL = "django_civic:profile"
    anonymous = browser().get(PROFILE)
    assert anonymous.status_code == 302 and anonymous["Location"] == f"{LOGIN}?next={PROFILE}"
    client = browser()
    body = sip_login(civic, client, "alice").json()
    assert body["next"] == PROFILE


# --- the profile --------------------------------------------------------------------------------------


def test_the_profile_shows_human_labels_validity_and_source(civic):
    carol = browser()
    carol.post(EXCHANGE, {"token": civic.mint_code("carol", "PROOF_OF_IDENTITY")["authToken"]},
               content_type="application/json")
    sip_login(civic, browser(), "bob")
    page = carol.get(PROFILE).content.decode()
    assert "From Civic SIP" in page
    assert "Date of birth" in page and "1984-11-23" in page
    assert "documents.genericId.dateOfBirth</th>" not in page
    assert "Name on the ID document" in page and "Verified" in page
    assert 'src="data:image/' in page  # the document image, as a picture, never as text
    assert "bob@example.org" not in page  # only the person's own data
    bob = browser()
    sip_login(civic, bob, "bob")
    assert "No longer valid" in bob.get(PROFILE).content.decode()  # bob's email is isValid: false


def test_a_claim_that_holds_a_moment_is_shown_as_a_date_not_as_seconds(civic):
    alice = browser()
    civic_auth_login(civic, alice, "alice")
    page = alice.get(PROFILE).content.decode()
    row = page[page.index('data-label="oidc.updated_at"'):]
    row = row[:row.index("</tr>")]
    assert '<time datetime="2025-01-01T00:00:00+00:00">' in row  # the sandbox's updated_at, 1735689600
    assert "1735689600" not in row


def test_names_and_username_come_from_the_verified_claims(civic):
    carol = browser()
    body = carol.post(EXCHANGE, {"token": civic.mint_code("carol", "PROOF_OF_IDENTITY")["authToken"]},
                      content_type="application/json").json()
    user = User.objects.get(pk=body["user"]["id"])
    assert (user.username, user.first_name, user.last_name) == ("carol", "Carol Susan", "Danvers")
    civic_auth_login(civic, browser(), "alice")
    alice = User.objects.get(email="alice@example.com")
    assert (alice.username, alice.first_name, alice.last_name) == ("alice", "Alice", "Walker")
    # Another alice: the same local part, made unique.
    sip_login(civic, browser(), "alice")  # a different identity (Civic SIP) with the same email
    assert User.objects.filter(username__regex=r"^alice-[0-9a-f]{6}$").exists()
