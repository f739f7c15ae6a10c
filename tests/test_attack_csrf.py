"""Login CSRF and friends: every state-changing browser endpoint, against every way a hostile page posts.

A hostile page can make the victim's browser POST anything, with the victim's cookies, but it cannot read
them. Each endpoint below is sent the request a real page would send, except for the CSRF proof: none, a
made-up one, the attacker's own (valid, but of another browser), or the right one with a foreign
``Origin`` or ``Referer`` (HTTP and HTTPS). Each attempt must be a 403 that changes nothing: no user, no
login, no logout, no proofing session, no unlinked identity, and no code or nonce spent, which the last
step shows by sending the very same request with the right token: it succeeds.

The fixed, per-endpoint versions live beside each feature (tests/test_api_sip.py, test_civic_auth_api.py,
test_civic_auth_flow.py, test_proofing_flow.py, test_api_me.py); this file is the matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.test import Client

from django_civic.core.identities import record_identity
from django_civic.models import CivicIdentity

from .hostile import db_rows
from .test_proofing_flow import TASK_BACKENDS

pytestmark = pytest.mark.django_db
User = get_user_model()

ATTACKS: dict[str, Callable[[str, str], dict[str, Any]]] = {
    # (the victim's token, the attacker's own token) -> what the hostile request carries
    "no_token": lambda mine, theirs: {},
    "made_up_token": lambda mine, theirs: {"HTTP_X_CSRFTOKEN": "x" * 64},
    "attackers_own_token": lambda mine, theirs: {"HTTP_X_CSRFTOKEN": theirs},
    "foreign_origin": lambda mine, theirs: {"HTTP_X_CSRFTOKEN": mine, "HTTP_ORIGIN": "https://evil.example"},
    "https_foreign_origin": lambda mine, theirs: {"HTTP_X_CSRFTOKEN": mine, "secure": True,
                                                  "HTTP_ORIGIN": "https://evil.example"},
    "https_foreign_referer": lambda mine, theirs: {"HTTP_X_CSRFTOKEN": mine, "secure": True,
                                                   "HTTP_REFERER": "https://evil.example/page"},
    "https_no_referer": lambda mine, theirs: {"HTTP_X_CSRFTOKEN": mine, "secure": True},
}


@dataclass
class Endpoint:
    """``send(headers)`` posts the endpoint's genuine request; ``done()`` says whether it took effect."""

    send: Callable[..., Any]
    done: Callable[[], bool]
    success: int


def csrf_token(browser: Client, settings) -> str:
    browser.get("/")  # the home page renders {% civic_button %}, which sets the CSRF cookie
    return browser.cookies[settings.CSRF_COOKIE_NAME].value


def logged_in_user(browser: Client) -> str | None:
    return browser.session.get("_auth_user_id")


def a_user_with_an_identity(password: bool = True) -> Any:
    user = User.objects.create_user("victim", "victim@example.com", "pw" if password else None)
    record_identity(provider="civic_sip", subject="victim-sub", attributes=[], user=user)
    return user


def sip_exchange(browser, civic) -> Endpoint:
    code = civic.mint_code("alice")["authToken"]
    return Endpoint(lambda **h: browser.post("/civic/sip/exchange/", {"token": code},
                                             content_type="application/json", **h),
                    lambda: logged_in_user(browser) is not None, 200)


def civic_auth_token(browser, civic) -> Endpoint:
    issued = browser.post("/civic/auth/nonce/").json()
    token = civic.mint_oidc_token(persona="carol", nonce=issued["nonce"])
    body = {"id_token": token, "nonce_id": issued["nonce_id"]}
    return Endpoint(lambda **h: browser.post("/civic/auth/token/", body, content_type="application/json",
                                             **h),
                    lambda: logged_in_user(browser) is not None, 200)


def civic_auth_login(browser, civic) -> Endpoint:
    from django_civic.protocols.civic_auth.state import SESSION_KEY

    return Endpoint(lambda **h: browser.post("/civic/auth/login/", {"next": "/profile/"}, **h),
                    lambda: bool(browser.session.get(SESSION_KEY)), 302)


def civic_auth_logout(browser, civic) -> Endpoint:
    browser.force_login(a_user_with_an_identity())
    return Endpoint(lambda **h: browser.post("/civic/auth/logout/", {"next": "/"}, **h),
                    lambda: logged_in_user(browser) is None, 302)


def proofing_start(browser, civic) -> Endpoint:
    from django_civic.models import ProofingSession

    browser.force_login(a_user_with_an_identity())
    return Endpoint(lambda **h: browser.post("/civic/proofing/start/", **h),
                    lambda: ProofingSession.objects.exists(), 303)


def unlink_identity(browser, civic) -> Endpoint:
    user = a_user_with_an_identity()
    browser.force_login(user)
    identity = CivicIdentity.objects.get(user=user)
    return Endpoint(lambda **h: browser.delete(f"/civic/me/identities/{identity.pk}/", **h),
                    lambda: not CivicIdentity.objects.filter(pk=identity.pk).exists(), 200)


ENDPOINTS = {"sip_exchange": sip_exchange, "civic_auth_token": civic_auth_token,
             "civic_auth_login": civic_auth_login, "civic_auth_logout": civic_auth_logout,
             "proofing_start": proofing_start, "unlink_identity": unlink_identity}


@pytest.fixture
def civic(settings, civic_sandbox):
    caches["default"].clear()
    settings.CIVIC = civic_sandbox.civic_settings(
        SANDBOX_ALLOW_WITHOUT_DEBUG=True, API={"THROTTLE_RATE": None},
        IDEMIA={})
    # A queue that keeps what it is given and runs nothing: nothing is fetched in these tests.
    settings.TASKS = {"default": {"BACKEND": f"{TASK_BACKENDS}.dummy.DummyBackend"}}
    return civic_sandbox


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_every_hostile_post_is_refused_and_spends_nothing(civic, settings, endpoint, record_figure):
    victim = Client(enforce_csrf_checks=True, SERVER_NAME="localhost")
    attacker = Client(enforce_csrf_checks=True, SERVER_NAME="localhost")
    target = ENDPOINTS[endpoint](victim, civic)
    mine, theirs = csrf_token(victim, settings), csrf_token(attacker, settings)
    assert mine != theirs
    user_before = logged_in_user(victim)  # (the test client's .session saves an empty session: read it first)
    before = db_rows()

    for name, attack in ATTACKS.items():
        response = target.send(**attack(mine, theirs))
        assert response.status_code == 403, (name, response.status_code, response.content[:200])
        assert not target.done(), name
        assert db_rows() == before and logged_in_user(victim) == user_before, name

    # The genuine page's request, with the same code, nonce or session: accepted.
    response = target.send(HTTP_X_CSRFTOKEN=csrf_token(victim, settings))
    assert response.status_code == target.success, response.content[:300]
    assert target.done()
    record_figure(f"csrf.{endpoint}", attacks=len(ATTACKS), refused=len(ATTACKS), effects=0,
                  genuine_request_after="accepted")
