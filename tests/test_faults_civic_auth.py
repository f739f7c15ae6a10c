"""Under faults: Civic Auth logins while the sandbox provider fails at each step of the callback.

Two flows, each with every fault kind on each endpoint the login needs after the user approved:

- the browser redirect flow (``civic/auth/callback/``): the token endpoint (code -> tokens), the JWKS
  (verifying the ID token, cold cache) and userinfo. The user sees the error page: a status that is not a
  crash, a stable ``data-error-code`` and a sentence saying what to do.
- the ID-token API of SPAs and apps (``POST civic/auth/token/``): the JWKS and userinfo (the app did the
  token request itself). The answer is the API's JSON error.

Each time nothing is half-written (the same checks as tests/test_faults_sip.py: no user, identity or
attribute after a failed first login; a returning user's rows untouched) and, once the fault clears, a
new login succeeds (into the same account for a returning user).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.test import Client

from django_civic.civic_auth.client import clear_clients

from .test_faults_sip import rows

pytestmark = pytest.mark.django_db
User = get_user_model()

LOGIN = "/civic/auth/login/"
NONCE = "/civic/auth/nonce/"
TOKEN = "/civic/auth/token/"
TIMEOUT = 0.5  # far above a local round trip (milliseconds), even on a loaded machine
HELD = 2.0

# The error page's sentences (django_civic/views/civic_auth.py) and the API's details (api/civic_auth.py).
PAGE_UNAVAILABLE = "Civic could not be reached. Please try again in a moment."
PAGE_REFUSED = "Civic refused the sign-in. Please start again."
PAGE_UNVERIFIED = "Civic&#x27;s answer could not be verified. Please start again."
PAGE_FAILED = "The sign-in with Civic failed. Please try again."
API_UNAVAILABLE = "Civic could not be reached. Please try again in a moment."
API_INVALID = "The Civic ID token is not valid. Please sign in again."

# (kind, options) of the generic faults, on any channel; the provider is unavailable for all but malformed.
UNAVAILABLE_KINDS: list[tuple[str, dict[str, Any]]] = [
    ("status", {"status": 429, "retry_after": 5}),
    ("status", {"status": 500}),
    ("status", {"status": 504}),
    ("timeout", {"seconds": HELD}),
    ("latency", {"delay": HELD}),
]


@dataclass(frozen=True)
class PageCase:
    channel: str
    kind: str
    options: dict[str, Any]
    status: int
    code: str
    message: str

    @property
    def name(self) -> str:
        return f"{self.channel} {self.kind} {self.options.get('status', '')}".strip()


PAGE_CASES = [
    *(PageCase(channel, kind, options, 503, "provider_unavailable", PAGE_UNAVAILABLE)
      for channel in ("oidc.token", "oidc.jwks", "oidc.userinfo") for kind, options in UNAVAILABLE_KINDS),
    PageCase("oidc.token", "malformed", {}, 400, "provider_error", PAGE_REFUSED),
    PageCase("oidc.jwks", "malformed", {}, 400, "provider_bad_response", PAGE_FAILED),
    PageCase("oidc.userinfo", "malformed", {}, 400, "provider_bad_response", PAGE_FAILED),
    PageCase("oidc.token", "bad_signature", {}, 400, "invalid_token", PAGE_UNVERIFIED),
    PageCase("oidc.token", "unknown_kid", {}, 400, "invalid_token", PAGE_UNVERIFIED),
]


@pytest.fixture
def civic(settings, civic_sandbox):
    settings.CIVIC = civic_sandbox.civic_settings(SANDBOX_ALLOW_WITHOUT_DEBUG=True, HTTP_TIMEOUT=TIMEOUT,
                                                  API={"THROTTLE_RATE": None})
    return civic_sandbox


def cold_start() -> None:
    """As a freshly started worker with an empty cache: discovery and keys are fetched again."""
    caches["default"].clear()
    clear_clients()


def redirect_login(civic, persona: str = "alice"):
    web = Client(SERVER_NAME="localhost")  # the sandbox's default client accepts localhost redirect URIs
    started = web.post(LOGIN, {"next": "/profile/"})
    assert started.status_code == 302, started.content[:300]
    back = urlsplit(civic.oidc_approve(started["Location"], persona)["redirect"])
    return web, web.get(f"{back.path}?{back.query}")


def page_problems(case: PageCase, web: Client, response) -> list[str]:
    problems = []
    if response.status_code != case.status:
        problems.append(f"status {response.status_code}, expected {case.status}")
    html = response.content.decode()
    shown = f'data-error-code="{case.code}">{case.message}</p>'
    if shown not in html:
        start = html.find('data-error-code="')
        problems.append(f"page shows {html[start:start + 160]!r}, expected {shown!r}")
    if "_auth_user_id" in web.session:
        problems.append("the browser is logged in")
    return problems


def test_redirect_login_under_every_provider_fault(civic, record_figure):
    failures: dict[str, list[str]] = {}
    half_written = recovered = 0
    for case in PAGE_CASES:
        problems = failures.setdefault(case.name, [])
        User.objects.all().delete()
        cold_start()

        civic.inject_fault(case.channel, case.kind, **case.options)
        web, response = redirect_login(civic)
        problems += page_problems(case, web, response)
        if rows() != ([], [], []):
            half_written += 1
            problems.append(f"left rows behind: {rows()}")
        civic.clear_faults()
        web, response = redirect_login(civic)
        if response.status_code != 302 or "_auth_user_id" not in web.session:
            problems.append(f"no recovery: {response.status_code}")
            continue
        account = web.session["_auth_user_id"]

        cold_start()  # the returning user's login also fetches the keys again
        before = rows()
        civic.inject_fault(case.channel, case.kind, **case.options)
        web, response = redirect_login(civic)
        problems += page_problems(case, web, response)
        if rows() != before:
            half_written += 1
            problems.append("the returning user's rows changed")
        civic.clear_faults()
        web, response = redirect_login(civic)
        if response.status_code != 302 or web.session.get("_auth_user_id") != account:
            problems.append(f"no recovery of the returning user: {response.status_code}")
            continue
        recovered += 1

    failed = {name: problems for name, problems in failures.items() if problems}
    assert not failed, failed
    assert half_written == 0 and recovered == len(PAGE_CASES)
    record_figure("faults.civic_auth_redirect", kinds=len(PAGE_CASES), survived=len(PAGE_CASES),
                  half_written=half_written, recovered=recovered,
                  tried=", ".join(case.name for case in PAGE_CASES))


# -- the ID-token API ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class APICase:
    name: str
    channel: str | None  # None: the fault is in the token the app posts (minted broken)
    kind: str
    options: dict[str, Any]
    status: int
    body: dict[str, Any]


API_CASES = [
    *(APICase(f"{channel} {kind} {options.get('status', '')}".strip(), channel, kind, options, 503,
              {"error": "provider_unavailable", "detail": API_UNAVAILABLE, "retryable": True})
      for channel in ("oidc.jwks", "oidc.userinfo") for kind, options in UNAVAILABLE_KINDS
      if options.get("status") != 429),
    *(APICase(f"{channel} status 429", channel, "status", {"status": 429, "retry_after": 5}, 502,
              {"error": "provider_error", "detail": API_UNAVAILABLE, "retryable": True})
      for channel in ("oidc.jwks", "oidc.userinfo")),
    *(APICase(f"{channel} malformed", channel, "malformed", {}, 502,
              {"error": "provider_bad_response", "detail": API_UNAVAILABLE, "retryable": False})
      for channel in ("oidc.jwks", "oidc.userinfo")),
    APICase("ID token bad signature", None, "bad_signature", {}, 400,
            {"error": "invalid_token", "detail": API_INVALID}),
]


def api_login(civic, case: APICase | None = None):
    client = Client()
    issued = client.post(NONCE).json()
    access = civic.mint_oidc_token(type="access", persona="alice")
    fault = case.kind if case is not None and case.channel is None else None
    id_token = civic.mint_oidc_token(persona="alice", nonce=issued["nonce"], access_token=access, fault=fault)
    if case is not None and case.channel is not None:
        civic.inject_fault(case.channel, case.kind, **case.options)
    body = {"id_token": id_token, "nonce_id": issued["nonce_id"], "access_token": access}
    response = client.post(TOKEN, body, content_type="application/json")
    return client, response


def test_id_token_api_login_under_every_provider_fault(civic, record_figure):
    failures: dict[str, list[str]] = {}
    half_written = recovered = 0
    for case in API_CASES:
        problems = failures.setdefault(case.name, [])
        User.objects.all().delete()
        for returning in (False, True):
            cold_start()
            before = rows()
            client, response = api_login(civic, case)
            if response.status_code != case.status or response.json() != case.body:
                problems.append(f"{response.status_code} {response.content[:200]!r}")
            if rows() != before or "_auth_user_id" in client.session:
                half_written += 1
                problems.append(f"written or logged in (returning={returning})")
            civic.clear_faults()
            client, response = api_login(civic)
            if response.status_code != 200 or response.json()["user_created"] is returning:
                problems.append(f"no recovery (returning={returning}): {response.content[:200]!r}")
        if not problems and User.objects.count() == 1:
            recovered += 1

    failed = {name: problems for name, problems in failures.items() if problems}
    assert not failed, failed
    assert half_written == 0 and recovered == len(API_CASES)
    record_figure("faults.civic_auth_api", kinds=len(API_CASES), survived=len(API_CASES),
                  half_written=half_written, recovered=recovered,
                  tried=", ".join(case.name for case in API_CASES))
