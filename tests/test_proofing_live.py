"""The whole IDEMIA journey over HTTP: a live site, the sandbox calling it back, real concurrency.

The site runs in pytest-django's ``live_server`` (so the sandbox's callback can reach it); the person is a
``requests`` session with a logged-in cookie; the sandbox plays IDEMIA, including the journey page and the
callback with its retries. On PostgreSQL the fetch after the callback runs as in production, in a background
thread. On SQLite it runs inside the callback request: the live server's threads share one in-memory
database, where a write that meets another thread's read (the page polling the status) fails at once with
"table is locked" instead of waiting as a real database does.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import timedelta

import pytest
import requests
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone

from django_civic.models import CivicIdentity, ProofingSession
from django_civic.sandbox.idemia.testing import RecordingServer

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()
Status = ProofingSession.Status
# On SQLite the live server shares the test's in-memory connection between its threads, so two requests at
# once would interleave on one connection: the concurrent cases run on PostgreSQL (make test-postgres).


@pytest.fixture
def site(live_server, settings, civic_sandbox):
    extra = {} if connection.vendor == "postgresql" else {
        "IDEMIA": {}}
    settings.CIVIC = civic_sandbox.civic_settings(
        SANDBOX_ALLOW_WITHOUT_DEBUG=True, API={"THROTTLE_RATE": None}, **extra
    )
    civic_sandbox.idemia_configure(retry_delay=0.1)
    return live_server.url


@pytest.fixture
def person(site):
    """A logged-in browser stand-in: a requests session with the site's session and CSRF cookies."""
    user = User.objects.create_user("ada")
    client = Client()
    client.force_login(user)
    http = requests.Session()
    http.cookies.set(
        django_settings.SESSION_COOKIE_NAME, client.cookies[django_settings.SESSION_COOKIE_NAME].value
    )
    assert http.get(f"{site}/civic/proofing/", timeout=10).status_code == 200  # sets the CSRF cookie
    http.user = user
    yield http
    http.close()


def start(site: str, http: requests.Session) -> tuple[ProofingSession, str]:
    """Press "prove your identity"; return the session and the journey link from its page."""
    response = http.post(f"{site}/civic/proofing/start/", headers={"X-CSRFToken": http.cookies["csrftoken"]},
                         allow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text[:300]
    page = http.get(f"{site}{response.headers['Location']}", timeout=10)
    link = re.search(r'href="([^"]+)"[^>]*data-testid="proofing-start-link"', page.text)
    assert link and "<svg" in page.text
    return ProofingSession.objects.get(user=http.user, status=Status.STARTED), link.group(1).replace(
        "&amp;", "&"
    )


def wait_until_final(
    site: str, http: requests.Session, session: ProofingSession, timeout: float = 20
) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = http.get(f"{site}/civic/proofing/{session.public_id}/status/", timeout=10).json()
        if status["final"]:
            return status
        assert time.monotonic() < deadline, f"still {status['status']}"
        time.sleep(0.1)


def test_the_whole_journey(site, person, civic_sandbox):
    session, journey = start(site, person)
    page = requests.get(journey, timeout=10)
    assert page.status_code == 200 and 'data-testid="idemia-outcome-verified"' in page.text
    # The person picks a persona and finishes; IDEMIA sends the browser back to us and calls us back.
    finished = requests.post(journey.split("start?")[0] + "finish", allow_redirects=False, timeout=10, data={
        "session-id": session.idemia_session_id, "persona": "bob", "outcome": "VERIFIED"})
    assert finished.status_code == 302
    assert finished.headers["Location"] == f"{site}/civic/proofing/{session.public_id}/done/"
    status = wait_until_final(site, person, session)
    assert (status["status"], status["level_of_assurance"]) == ("verified", "LOA3")
    done = person.get(finished.headers["Location"], timeout=10).text
    assert 'data-status="verified"' in done
    identity = CivicIdentity.objects.get(user=person.user, provider="idemia")
    assert {a.label: a.value for a in identity.attributes.all()}["idemia.surname"] == "Stone"
    sandbox_session = civic_sandbox.idemia_session(session.idemia_session_id)
    assert sandbox_session["callback"]["state"] == "delivered"
    assert [a["status"] for a in sandbox_session["callback"]["attempts"]] == [204]
    assert civic_sandbox.idemia_identity(identity.subject)["identity_fetches"] == 1


def test_heartbeat_timeout_through_the_journey(site, person, civic_sandbox):
    session, journey = start(site, person)
    requests.post(journey.split("start?")[0] + "finish", allow_redirects=False, timeout=10, data={
        "session-id": session.idemia_session_id, "outcome": "HEARTBEAT_TIMEOUT"})
    assert wait_until_final(site, person, session)["status"] == "timed_out"
    assert CivicIdentity.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (CIVIC_TEST_DB=postgres)")
def test_duplicate_concurrent_deliveries_record_once(site, person, civic_sandbox):
    session, _journey = start(site, person)
    civic_sandbox.inject_fault("idemia.callback", "duplicate")
    state = civic_sandbox.idemia_complete(session.idemia_session_id, wait=True)
    assert [a["status"] for a in state["callback"]["attempts"]] == [204, 204]
    wait_until_final(site, person, session)
    session.refresh_from_db()
    assert session.status == Status.VERIFIED and session.callback_count == 2
    assert CivicIdentity.objects.count() == 1
    assert civic_sandbox.idemia_identity(state["identity_id"])["identity_fetches"] == 1


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (CIVIC_TEST_DB=postgres)")
def test_many_concurrent_callbacks_record_once(site, person, civic_sandbox):
    session, _journey = start(site, person)
    civic_sandbox.inject_fault("idemia.callback", "drop")
    state = civic_sandbox.idemia_complete(session.idemia_session_id)
    body = json.dumps(state["callback"]["body"])
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def deliver() -> None:
        barrier.wait()
        statuses.append(requests.post(state["callback_url"], data=body, timeout=20,
                                      headers={"Content-Type": "application/json"}).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [204] * 6
    wait_until_final(site, person, session)
    session.refresh_from_db()
    assert session.status == Status.VERIFIED and session.callback_count == 6
    assert CivicIdentity.objects.count() == 1
    assert civic_sandbox.idemia_identity(state["identity_id"])["identity_fetches"] == 1


def test_refused_callbacks_are_retried_by_idemia_and_change_nothing(site, person, civic_sandbox):
    session, _journey = start(site, person)
    ProofingSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    before = ProofingSession.objects.values().get(pk=session.pk)
    state = civic_sandbox.idemia_complete(session.idemia_session_id, wait=True)
    assert [a["status"] for a in state["callback"]["attempts"]] == [410, 410, 410]
    assert state["callback"]["state"] == "failed"
    assert ProofingSession.objects.values().get(pk=session.pk) == before
    assert civic_sandbox.idemia_identity(state["identity_id"])["identity_fetches"] == 0


def test_forged_proof_url_is_never_requested_over_http(site, person, civic_sandbox):
    session, _journey = start(site, person)
    civic_sandbox.inject_fault("idemia.callback", "drop")
    state = civic_sandbox.idemia_complete(session.idemia_session_id)
    with RecordingServer() as attacker:
        forged = {**state["callback"]["body"], "proofUrl": f"{attacker.url}steal-the-api-key"}
        assert requests.post(state["callback_url"], json=forged, timeout=10).status_code == 204
        assert wait_until_final(site, person, session)["status"] == "verified"
        assert attacker.requests == []


def test_forged_callback_without_the_secret_over_http(site, person, civic_sandbox):
    session, _journey = start(site, person)
    civic_sandbox.inject_fault("idemia.callback", "drop")
    state = civic_sandbox.idemia_complete(session.idemia_session_id)
    before = list(ProofingSession.objects.values())
    forged_url = state["callback_url"].rstrip("/").rsplit("/", 1)[0] + "/" + "x" * 43 + "/"
    response = requests.post(forged_url, json=state["callback"]["body"], timeout=10)
    assert response.status_code == 404 and response.json()["error"] == "unknown_session"
    assert list(ProofingSession.objects.values()) == before
    assert civic_sandbox.idemia_identity(state["identity_id"])["identity_fetches"] == 0
