"""Civic's hub for every user (docs/civic-auth.md, "Civic's hub for every user"): the site as an identity
provider Civic trusts, the federated token exchange at the sandbox, and civic-mcp-client at the sandbox's hub.

The site runs in pytest-django's ``live_server`` and the sandbox on its own port: the sandbox fetches the
site's JWKS over HTTP from the URL registered for the site, as Civic does after its Integration page.
"""

from __future__ import annotations

import io
import logging
import time

import jwt
import pytest
import requests
from asgiref.sync import async_to_sync
from cryptography.hazmat.primitives import serialization
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.management import call_command

from django_civic.account.privacy import erase_user
from django_civic.civic_auth import idp
from django_civic.civic_auth.client import exchange_key, get_token_exchanger
from django_civic.civic_auth.hub import civic_access_token, civic_hub_client
from django_civic.models import SiteSigningKey
from django_civic.protocols.civic_auth import TokenExchangeError
from django_civic.protocols.civic_auth import idp as protocol

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


def keys(*args: str) -> str:
    out = io.StringIO()
    call_command("civic_idp_keys", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def issuer(live_server, settings, civic_sandbox):
    """The site as an identity provider: its issuer, a key, and its registration at the sandbox's Civic."""
    caches["default"].clear()
    site_issuer = f"{live_server.url}/civic/"
    settings.CIVIC = civic_sandbox.civic_settings(SANDBOX_ALLOW_WITHOUT_DEBUG=True,
                                                  IDP={"ISSUER": site_issuer})
    keys("create")
    civic_sandbox.register_identity_provider(site_issuer, civic_sandbox.oidc_client_id,
                                             jwks_uri=site_issuer + ".well-known/jwks.json")
    return site_issuer


@pytest.fixture
def pat(issuer):
    """A user who signed up with a password: no Civic login at all."""
    return User.objects.create_user("pat", "pat@example.com", "a-long-password", first_name="Pat")


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def exchanges(sandbox) -> int:
    return sandbox.oidc_stats().get("token:exchange", 0)


def refusal(sandbox, user) -> str:
    with pytest.raises(TokenExchangeError) as info:
        civic_access_token(user)
    assert info.value.error == "invalid_grant" and info.value.status == 400
    return str(info.value)


# -- the federated exchange -------------------------------------------------------------------------------

def test_a_password_user_gets_a_civic_token_by_federated_exchange(civic_sandbox, issuer, pat):
    claims = claims_of(civic_access_token(pat))
    assert claims["iss"] == civic_sandbox.oidc_issuer and claims["client_id"] == civic_sandbox.oidc_client_id
    assert claims["federated_iss"] == issuer and claims["sub"].startswith("fed_")
    assert claims["name"] == "Pat" and "email" not in claims  # nobody verified pat's address
    assert exchanges(civic_sandbox) == 1


def test_erasure_forgets_the_civic_tokens_exchanged_for_the_user(civic_sandbox, issuer, pat):
    civic_access_token(pat)
    key = get_token_exchanger().cache_key(exchange_key(pat.pk, site_idp=True), None)
    assert caches["default"].get(key) is not None
    erase_user(pat)
    assert caches["default"].get(key) is None


def test_one_site_user_is_one_stable_civic_user(civic_sandbox, issuer, pat):
    first = claims_of(civic_access_token(pat))["sub"]
    caches["default"].clear()
    keys("rotate")  # a new key, a new identity token: the same person at Civic
    assert claims_of(civic_access_token(pat))["sub"] == first
    other = User.objects.create_user("quinn")
    assert claims_of(civic_access_token(other))["sub"] != first


def test_cached_per_user_and_profile_in_the_shared_cache(civic_sandbox, issuer, pat):
    token = civic_access_token(pat)
    assert civic_access_token(pat) == token and exchanges(civic_sandbox) == 1
    locked = civic_access_token(pat, "profile-1")
    assert claims_of(locked)["civic_profile"] == "profile-1" and exchanges(civic_sandbox) == 2
    assert civic_access_token(pat, "profile-1") == locked and exchanges(civic_sandbox) == 2
    civic_access_token(User.objects.create_user("quinn"))
    assert exchanges(civic_sandbox) == 3


def test_a_rotated_key_is_fetched_from_the_sites_jwks(civic_sandbox, issuer, pat):
    civic_access_token(pat)  # the sandbox now holds the site's JWKS (cached an hour)
    caches["default"].clear()
    new_kid = keys("rotate").split()[0]
    token = civic_access_token(pat)  # signed with a kid the sandbox's cached JWKS lacks: it refetches
    published = requests.get(issuer + ".well-known/jwks.json", timeout=10).json()["keys"]
    assert token and new_kid in [key["kid"] for key in published]


def test_the_token_is_never_logged(civic_sandbox, issuer, pat, caplog):
    with caplog.at_level(logging.DEBUG):
        token = civic_access_token(pat)
    assert caplog.records  # urllib3 and our clients did log the calls
    assert not any(token in r.getMessage() or "eyJ" in r.getMessage() for r in caplog.records)


# -- what the sandbox's Civic refuses (each one a defence of Civic's that the sandbox must show) ------------

def test_an_unregistered_issuer_is_refused(civic_sandbox, settings, live_server, pat):
    settings.CIVIC = {**settings.CIVIC, "IDP": {"ISSUER": f"{live_server.url}/elsewhere/"}}
    assert "not a registered identity provider" in refusal(civic_sandbox, pat)


def test_a_token_for_another_audience_is_refused(civic_sandbox, issuer, settings, pat):
    settings.CIVIC = {**settings.CIVIC, "IDP": {"ISSUER": issuer, "AUDIENCE": "another-civic-app"}}
    assert "audience" in refusal(civic_sandbox, pat)


def test_an_expired_token_is_refused(civic_sandbox, issuer, settings, pat, monkeypatch):
    real = protocol.identity_token
    monkeypatch.setattr(protocol, "identity_token",
                        lambda *a, **kw: real(*a, **{**kw, "now": time.time() - 3600}))
    assert "expired" in refusal(civic_sandbox, pat)


def test_a_token_signed_by_a_key_the_site_does_not_publish_is_refused(civic_sandbox, issuer, pat):
    from django_civic.civic_auth.client import get_oidc_client

    kid = SiteSigningKey.objects.get().kid
    forged = protocol.identity_token(protocol.generate_key(), kid, "RS256", issuer=issuer,
                                     audience=civic_sandbox.oidc_client_id, subject=idp.subject_for(pat),
                                     lifetime=300, jti="forged")
    with pytest.raises(TokenExchangeError) as info:
        get_oidc_client().token_exchange(forged)
    assert info.value.error == "invalid_grant" and "signature" in str(info.value)


def test_an_algorithm_the_provider_was_not_registered_with_is_refused(civic_sandbox, issuer, pat):
    civic_sandbox.register_identity_provider(issuer, civic_sandbox.oidc_client_id, algorithms=["ES256"],
                                             jwks_uri=issuer + ".well-known/jwks.json")
    assert "algorithm" in refusal(civic_sandbox, pat)


def test_the_exchanged_token_lives_at_most_the_providers_max_ttl(civic_sandbox, issuer, pat):
    civic_sandbox.register_identity_provider(issuer, civic_sandbox.oidc_client_id, max_ttl=120,
                                             jwks_uri=issuer + ".well-known/jwks.json")
    claims = claims_of(civic_access_token(pat))
    assert claims["exp"] - claims["iat"] == 120


def verify_email(user) -> None:
    """What a Civic login leaves behind: a valid, owned email attribute (the adapter's default proof)."""
    from django_civic.core.identities import record_identity
    from django_civic.protocols.sip.types import Attribute

    record_identity(provider="civic_sip", subject=f"sip-{user.pk}", user=user,
                    attributes=[Attribute("contact.personal.email", user.email, True, True)])


def test_access_policy_off_admits_only_users_invited_by_verified_email_and_client_id(civic_sandbox, issuer,
                                                                                        pat, record_figure):
    client_id = civic_sandbox.oidc_client_id
    civic_sandbox.set_access_policy(False, [{"email": "PAT@example.com", "client_id": client_id}])
    assert "not invited" in refusal(civic_sandbox, pat)  # the right address, but nobody verified it
    verify_email(pat)
    claims = claims_of(civic_access_token(pat))
    assert claims["email"] == "pat@example.com" and claims["email_verified"] is True

    caches["default"].clear()
    civic_sandbox.set_access_policy(False, [{"email": "pat@example.com", "client_id": "another-app"}])
    assert "not invited" in refusal(civic_sandbox, pat)
    civic_sandbox.set_access_policy(False, [{"email": "someone@example.com", "client_id": client_id}])
    assert "not invited" in refusal(civic_sandbox, pat)
    civic_sandbox.set_access_policy(True)
    assert civic_access_token(pat)
    record_figure("hub.access_policy", tried=5, admitted=2, refused=3)


def test_an_invitation_never_matches_an_unverified_email(civic_sandbox, issuer):
    """Another identity provider that claims an email without verifying it: the invitation does not apply."""
    from django_civic.civic_auth.client import get_oidc_client

    key = protocol.generate_key()
    other = "https://other-idp.example/"
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    civic_sandbox.register_identity_provider(other, "civic", public_key=pem.decode())
    invited = [{"email": "pat@example.com", "client_id": civic_sandbox.oidc_client_id}]
    civic_sandbox.set_access_policy(False, invited)

    def token(verified: bool) -> str:
        now = int(time.time())
        claims = {"iss": other, "sub": "u-1", "aud": "civic", "iat": now, "exp": now + 60,
                  "email": "Pat@Example.com", "email_verified": verified}
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k"})

    with pytest.raises(TokenExchangeError) as info:
        get_oidc_client().token_exchange(token(False))
    assert info.value.error == "invalid_grant" and "not invited" in str(info.value)
    exchanged = claims_of(get_oidc_client().token_exchange(token(True)).access_token)
    assert exchanged["email"] == "pat@example.com"  # lowercased, as Civic copies it


# -- the hub through civic-mcp-client ---------------------------------------------------------------------

async def use_hub(user, profile=None):
    client = civic_hub_client(user, profile)
    try:
        tools = await client.get_tools()
        result = await client.call_tool(name="whoami", args={})
    finally:
        await client.close()
    return tools, result


def test_a_password_user_calls_a_hub_tool_through_civics_client(civic_sandbox, issuer, pat):
    # async_to_sync, as a sync view would: the token is fetched in this thread, on its DB connection.
    tools, result = async_to_sync(use_hub)(pat, "profile-7")
    assert {tool["name"] for tool in tools["tools"]} == {"whoami", "echo"}
    who = result["structuredContent"]
    assert who["sub"].startswith("fed_") and who["federated_iss"] == issuer
    assert who["civic_profile"] == who["profile"] == "profile-7"


def test_a_civic_auth_user_calls_the_hub_with_their_own_token_without_an_exchange(civic_sandbox, issuer,
                                                                                   settings):
    from django.test import Client

    from tests.test_civic_auth_flow import log_in

    settings.CIVIC = {**settings.CIVIC, "AUTH": {"STORE_TOKENS": True}}
    web = Client(SERVER_NAME="localhost")
    log_in(web, civic_sandbox, "alice")
    request = RequestStandIn(web.session, User.objects.get(email="alice@example.com"))
    token = civic_access_token(request.user, request=request)
    assert claims_of(token)["sub"] == civic_sandbox.oidc_subject("alice") and exchanges(civic_sandbox) == 0
    # Someone else's request never lends its token: another user gets a federated exchange of their own.
    other = User.objects.create_user("quinn")
    assert civic_access_token(other, request=request) != token and exchanges(civic_sandbox) == 1


class RequestStandIn:
    def __init__(self, session, user):
        self.session, self.user = session, user


# -- the demo's hub page ----------------------------------------------------------------------------------

def test_the_demo_lists_and_calls_tools_for_a_password_user(civic_sandbox, issuer, pat):
    from django.test import Client

    web = Client()
    assert web.login(username="pat", password="a-long-password")
    page = web.get("/hub/")
    assert page.status_code == 200 and b'data-via="exchange"' in page.content
    assert b'data-testid="hub-tool-whoami"' in page.content and b'data-testid="hub-tool-echo"' in page.content
    called = web.post("/hub/", {"name": "echo", "text": "Hello from pat"})
    assert called.status_code == 200 and b"Hello from pat" in called.content
    assert exchanges(civic_sandbox) == 1  # the second page reused the cached token


def test_the_demo_uses_a_civic_auth_users_own_token(civic_sandbox, issuer, settings):
    from django.test import Client

    from tests.test_civic_auth_flow import log_in

    settings.CIVIC = {**settings.CIVIC, "AUTH": {"STORE_TOKENS": True}}
    web = Client(SERVER_NAME="localhost")
    log_in(web, civic_sandbox, "carol")
    called = web.post("/hub/", {"name": "whoami"}, SERVER_NAME="localhost")
    assert called.status_code == 200 and b'data-via="civic_auth"' in called.content
    assert civic_sandbox.oidc_subject("carol").encode() in called.content and exchanges(civic_sandbox) == 0


@pytest.mark.parametrize("form", [{}, {"name": ""}, {"name": "x" * 500},
                                  {"name": "echo", "text": "x" * 5000}])
def test_the_demo_refuses_a_bad_call_with_a_400(civic_sandbox, issuer, pat, form):
    from django.test import Client

    web = Client()
    web.force_login(pat)
    assert web.post("/hub/", form).status_code == 400


def test_the_demo_says_when_civic_refuses(civic_sandbox, issuer, pat):
    from django.test import Client

    web = Client()
    web.force_login(pat)
    civic_sandbox.set_access_policy(False)
    page = web.get("/hub/")
    assert page.status_code == 502 and b'data-testid="hub-error"' in page.content
    civic_sandbox.set_access_policy(True)
    assert web.post("/hub/", {"name": "no-such-tool"}).status_code == 400  # the hub's JSON-RPC error
