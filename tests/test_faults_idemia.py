"""Under faults: IDEMIA identity proofing while the sandbox fails each call the site makes.

- Starting a check needs an access token (``idemia.token``) and an IPA session (``idemia.session``). Under
  any fault the person sees the "unavailable" page (502, ``data-error-code="provider_unavailable"``, a
  sentence saying to try later); the attempt is kept as a session in ``error`` without an IDEMIA session,
  and starting again once the fault clears works.
- After IDEMIA's callback the site fetches the identity from GIPS (``idemia.gips``). A transient failure
  (429, 5xx, timeout, an answer slower than ``HTTP_TIMEOUT``) leaves the session waiting: the status the
  page polls says so, and the reconcile command finishes it once GIPS answers. A malformed answer ends
  the session in error (the page says the check did not finish), and a new check works.

Either way no identity or attribute exists before the identity was fetched in full. The helpers that
drive the journey are those of tests/test_proofing_flow.py.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from django_civic.models import CivicIdentity, ProofingSession, VerifiedAttribute

from .test_proofing_flow import finish, post_callback, start

pytestmark = pytest.mark.django_db
User = get_user_model()
Status = ProofingSession.Status

TIMEOUT = 0.5  # far above a local round trip (milliseconds), even on a loaded machine
HELD = 2.0
UNAVAILABLE_PAGE = ('data-error-code="provider_unavailable">The identity check service is unavailable. '
                    'Please try again later.</p>')
WAITING = "Waiting for the result of your identity check…"
DID_NOT_FINISH = "The identity check did not finish. Please try again."

TRANSIENT: list[tuple[str, dict[str, Any]]] = [
    ("status", {"status": 429, "retry_after": 1}),
    ("status", {"status": 500}),
    ("status", {"status": 504}),
    ("timeout", {"seconds": HELD}),
    ("latency", {"delay": HELD}),
]


def label(kind: str, options: dict[str, Any]) -> str:
    return f"{kind} {options.get('status', '')}".strip()


@pytest.fixture
def idemia(settings, civic_sandbox):
    settings.CIVIC = civic_sandbox.civic_settings(
        SANDBOX_ALLOW_WITHOUT_DEBUG=True, HTTP_TIMEOUT=TIMEOUT,
        IDEMIA={"MAX_SESSIONS_PER_DAY": 1000})
    return civic_sandbox


@pytest.fixture
def browser(db):
    client = Client()
    client.force_login(User.objects.create_user("ada", password="pw"))
    return client


def poll(browser: Client, session: ProofingSession) -> dict[str, Any]:
    """What the session page shows: the JSON it polls every two seconds."""
    response = browser.get(reverse("django_civic:proofing-status", args=[session.public_id]))
    assert response.status_code == 200
    return response.json()


def recorded() -> tuple[int, int]:
    return CivicIdentity.objects.count(), VerifiedAttribute.objects.count()


def verified(browser: Client, idemia) -> bool:
    session = start(browser)
    post_callback(*finish(idemia, session))
    session.refresh_from_db()
    return session.status == Status.VERIFIED


def test_starting_a_check_under_every_fault(idemia, browser, record_figure):
    cases = [(channel, kind, options) for channel in ("idemia.token", "idemia.session")
             for kind, options in [*TRANSIENT, ("malformed", {})]]
    failures: dict[str, list[str]] = {}
    recovered = 0
    for channel, kind, options in cases:
        problems = failures.setdefault(f"{channel} {label(kind, options)}", [])
        ProofingSession.objects.all().delete()
        # IDEMIA forgets its tokens: the next start must ask for one (and meet a token fault).
        idemia.reset()
        idemia.inject_fault(channel, kind, **options)
        response = browser.post(reverse("django_civic:proofing-start"))
        if response.status_code != 502 or UNAVAILABLE_PAGE not in response.content.decode():
            problems.append(f"{response.status_code}: {response.content[:300]!r}")
        failed = list(ProofingSession.objects.values_list("status", "idemia_session_id"))
        if failed != [(Status.ERROR, None)]:
            problems.append(f"sessions after the failure: {failed}")
        idemia.clear_faults()
        again = browser.post(reverse("django_civic:proofing-start"))
        if again.status_code != 303 or ProofingSession.objects.filter(status=Status.STARTED).count() != 1:
            problems.append(f"no recovery: {again.status_code}")
        else:
            recovered += 1
    failed_cases = {name: problems for name, problems in failures.items() if problems}
    assert not failed_cases, failed_cases
    assert recorded() == (0, 0) and recovered == len(cases)
    record_figure("faults.idemia_start", kinds=len(cases), survived=len(cases), half_written=0,
                  recovered=recovered, tried=", ".join(failures))


def test_fetching_the_identity_under_every_fault(idemia, browser, record_figure):
    cases = [*TRANSIENT, ("malformed", {})]
    failures: dict[str, list[str]] = {}
    half_written = recovered = 0
    for kind, options in cases:
        problems = failures.setdefault(f"idemia.gips {label(kind, options)}", [])
        CivicIdentity.objects.all().delete()
        session = start(browser)
        path, body = finish(idemia, session)
        idemia.inject_fault("idemia.gips", kind, **options)
        if post_callback(path, body).status_code != 204:  # IDEMIA's callback is accepted whatever GIPS does
            problems.append("callback not accepted")
        session.refresh_from_db()
        shown = poll(browser, session)
        if recorded() != (0, 0):
            half_written += 1
            problems.append(f"recorded before the identity was fetched: {recorded()}")
        idemia.clear_faults()

        if kind == "malformed":
            # Not something waiting helps with: the check ends, the person is told, and starts again.
            expected = {"status": Status.ERROR, "final": True, "message": DID_NOT_FINISH}
            wrong_code = session.error_code != "proofing_malformed_response"
            if {k: shown[k] for k in expected} != expected or wrong_code:
                problems.append(f"shown {shown}, error {session.error_code!r}")
            ok = verified(browser, idemia)
        else:
            expected = {"status": Status.CALLBACK_RECEIVED, "final": False, "message": WAITING}
            if {k: shown[k] for k in expected} != expected or not session.error_code.startswith("proofing_"):
                problems.append(f"shown {shown}, error {session.error_code!r}")
            # The periodic reconcile job fetches again once GIPS answers.
            call_command("civic_reconcile_proofing", stdout=io.StringIO())
            session.refresh_from_db()
            ok = session.status == Status.VERIFIED and poll(browser, session)["final"] is True
        if not ok or recorded() != (1, 8):
            problems.append(f"no recovery: {recorded()}")
            continue
        recovered += 1

    failed_cases = {name: problems for name, problems in failures.items() if problems}
    assert not failed_cases, failed_cases
    assert half_written == 0 and recovered == len(cases)
    record_figure("faults.idemia_fetch", kinds=len(cases), survived=len(cases), half_written=half_written,
                  recovered=recovered, tried=", ".join(failures))
