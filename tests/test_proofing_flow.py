"""IDEMIA proofing in Django: start, pages, the callback (and every forged variant), fetch, record, proof.

IDEMIA is the sandbox, over real HTTP. The callback is posted with Django's test client (the sandbox records
the exact body it would send: the ``drop`` fault keeps it from trying to reach ``testserver``); the fetch
runs inline (``TASK_RUNNER = run_now``) so each test sees the outcome when the callback returns.
tests/test_proofing_live.py covers the same journey with the sandbox calling a live server.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone

from django_civic.core.identities import record_identity
from django_civic.idemia import fetch as proofing_fetch
from django_civic.idemia.fetch import fetch_and_record, read_proof
from django_civic.idemia.maintenance import reconcile
from django_civic.models import CivicIdentity, ProofingSession, VerifiedAttribute
from django_civic.sandbox.idemia.testing import RecordingServer

pytestmark = pytest.mark.django_db
User = get_user_model()
Status = ProofingSession.Status


try:  # Django 6's own Tasks framework, else the django-tasks backport (Django 5.2)
    from django.tasks import task_backends
    from django.tasks.backends.base import BaseTaskBackend
    TASK_BACKENDS = "django.tasks.backends"
except ImportError:
    from django_tasks import task_backends
    from django_tasks.backends.base import BaseTaskBackend
    TASK_BACKENDS = "django_tasks.backends"
IMMEDIATE = f"{TASK_BACKENDS}.immediate.ImmediateBackend"


class RefusingBackend(BaseTaskBackend):
    """A task queue that is down."""

    def enqueue(self, task, args, kwargs):
        raise ConnectionError("the queue is down")


@pytest.fixture
def queued(settings):
    """A queue that only keeps what it is given (DummyBackend): returns the args of the queued fetches."""
    settings.TASKS = {"default": {"BACKEND": f"{TASK_BACKENDS}.dummy.DummyBackend"}}
    backend = task_backends["default"]
    return lambda: [arg for result in backend.results for arg in result.args]


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    # GIPS "still processing" waits: shortened so the retry paths run in milliseconds.
    monkeypatch.setattr(proofing_fetch, "PROCESSING_BACKOFF", (0.01, 0.01, 0.01))


@pytest.fixture
def idemia(settings, civic_sandbox):
    def configure(**idemia_settings):
        settings.CIVIC = civic_sandbox.civic_settings(
            SANDBOX_ALLOW_WITHOUT_DEBUG=True, API={"THROTTLE_RATE": None},
            IDEMIA=idemia_settings)

    configure()
    civic_sandbox.configure = configure
    return civic_sandbox


@pytest.fixture
def proof_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "proofs": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    return tmp_path


@pytest.fixture
def user(db):
    return User.objects.create_user("ada", password="pw")


@pytest.fixture
def browser(user):
    client = Client()
    client.force_login(user)
    return client


def start(browser) -> ProofingSession:
    response = browser.post(reverse("django_civic:proofing-start"))
    assert response.status_code == 303, response.content
    session = ProofingSession.objects.get(public_id=response["Location"].rstrip("/").rsplit("/", 1)[-1])
    assert session.status == Status.STARTED
    return session


def finish(sandbox, session, outcome="VERIFIED", **options) -> tuple[str, dict]:
    """End the journey at IDEMIA; return our callback path and the body IDEMIA would POST to it."""
    sandbox.inject_fault("idemia.callback", "drop")
    state = sandbox.idemia_complete(session.idemia_session_id, outcome, **options)
    return urlsplit(state["callback_url"]).path, state["callback"]["body"]


def post_callback(path: str, body, **extra):
    # enforce_csrf_checks: IDEMIA sends no CSRF token, and must not need one. The fetch is scheduled with
    # transaction.on_commit, which the test transaction would otherwise never reach.
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return Client(enforce_csrf_checks=True).post(
            path, data=data, content_type="application/json", **extra
        )


def snapshot(sandbox=None) -> tuple:
    """Everything a callback could change: every session row, identities, attributes, GIPS traffic."""
    rows = list(ProofingSession.objects.order_by("pk").values())
    gips = []
    if sandbox is not None:
        for row in rows:
            if row["idemia_identity_id"]:
                gips.append(sandbox.idemia_identity(row["idemia_identity_id"]))
    return rows, CivicIdentity.objects.count(), VerifiedAttribute.objects.count(), gips


# -- starting --------------------------------------------------------------------------------------


def test_start_needs_login_and_post(idemia, client, settings):
    response = client.post(reverse("django_civic:proofing-start"))
    assert response.status_code == 302 and response["Location"].startswith(settings.LOGIN_URL + "?next=")
    user = User.objects.create_user("bob")
    client.force_login(user)
    assert client.get(reverse("django_civic:proofing-start")).status_code == 405
    assert ProofingSession.objects.count() == 0
    assert idemia.idemia_state()["counters"]["sessions_created"] == 0


def test_start_is_csrf_protected(idemia, user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(reverse("django_civic:proofing-start")).status_code == 403
    assert ProofingSession.objects.count() == 0


def test_start_creates_the_idemia_session_with_a_secret_callback_url(idemia, browser):
    session = start(browser)
    recorded = idemia.idemia_session(session.idemia_session_id)
    callback = urlsplit(recorded["callback_url"])
    prefix = "/civic/proofing/callback/"
    assert callback.path.startswith(prefix)
    secret = callback.path[len(prefix):].strip("/")
    assert len(secret) >= 43  # 256 bits, URL-safe base64
    # Only a hash is stored: the secret itself appears in no column.
    assert all(
        secret not in str(value) for value in ProofingSession.objects.values().get(pk=session.pk).values()
    )
    assert session.secret_matches(secret) and not session.secret_matches(secret[:-1] + "x")
    assert urlsplit(recorded["goto_url"]).path == reverse(
        "django_civic:proofing-done", args=[session.public_id]
    )
    assert session.expires_at > session.created_at


def test_callback_base_url_setting_is_used(idemia, browser):
    idemia.configure(CALLBACK_BASE_URL="https://public.example.org")
    session = start(browser)
    recorded = idemia.idemia_session(session.idemia_session_id)
    assert recorded["callback_url"].startswith("https://public.example.org/civic/proofing/callback/")
    assert recorded["goto_url"].startswith("https://public.example.org/civic/proofing/")


def test_session_page_shows_qr_code_and_link_to_the_owner_only(idemia, browser):
    session = start(browser)
    page = browser.get(reverse("django_civic:proofing-session", args=[session.public_id]))
    html = page.content.decode()
    start_url = f"{idemia.url}idemia/rp/api/v1/ipa/start?session-id={session.idemia_session_id}"
    assert page.status_code == 200
    assert "<svg" in html and 'data-testid="proofing-qr"' in html
    assert start_url.replace("&", "&amp;") in html or start_url in html
    assert 'data-testid="proofing-status"' in html and reverse("django_civic:proofing-status",
                                                                args=[session.public_id]) in html
    other = Client()
    other.force_login(User.objects.create_user("eve"))
    assert other.get(reverse("django_civic:proofing-session", args=[session.public_id])).status_code == 404


def test_status_endpoint(idemia, browser, client):
    session = start(browser)
    url = reverse("django_civic:proofing-status", args=[session.public_id])
    body = browser.get(url).json()
    assert body["status"] == "started" and body["final"] is False
    assert body["outcome_url"] == reverse("django_civic:proofing-done", args=[session.public_id])
    anonymous = client.get(url)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "not_authenticated"
    client.force_login(User.objects.create_user("eve"))
    assert client.get(url).status_code == 404 and client.get(url).json()["error"] == "not_found"


@pytest.mark.parametrize(("fault", "channel"), [
    ({"kind": "status", "status": 500}, "idemia.token"),
    ({"kind": "status", "status": 429}, "idemia.session"),
    ({"kind": "malformed"}, "idemia.session"),
])
def test_provider_failure_on_start_is_a_clean_502(idemia, browser, fault, channel):
    idemia.inject_fault(channel, **fault)
    response = browser.post(reverse("django_civic:proofing-start"))
    assert response.status_code == 502
    assert b'data-error-code="provider_unavailable"' in response.content
    session = ProofingSession.objects.get()
    assert session.status == Status.ERROR and session.idemia_session_id is None and session.error_code


def test_not_configured_is_503(settings, browser):
    settings.CIVIC = {"SANDBOX": False}
    response = browser.post(reverse("django_civic:proofing-start"))
    assert response.status_code == 503 and b"proofing_not_configured" in response.content
    assert ProofingSession.objects.count() == 0


def test_daily_limit(idemia, browser):
    idemia.configure(MAX_SESSIONS_PER_DAY=2)
    start(browser)
    start(browser)
    response = browser.post(reverse("django_civic:proofing-start"))
    assert response.status_code == 429 and b"too_many_sessions" in response.content
    assert ProofingSession.objects.count() == 2


# -- outcomes --------------------------------------------------------------------------------------


def test_verified_identity_is_recorded_encrypted(idemia, browser, user):
    session = start(browser)
    path, body = finish(idemia, session, persona="alice")
    response = post_callback(path, body)
    assert response.status_code == 204 and response.content == b""
    session.refresh_from_db()
    assert session.status == Status.VERIFIED and session.level_of_assurance == "LOA3"
    assert session.idemia_identity_id == body["identityId"] and session.callback_count == 1
    identity = session.identity
    assert (identity.user, identity.provider, identity.subject) == (user, "idemia", body["identityId"])
    values = {a.label: a.value for a in identity.attributes.all()}
    assert values == {
        "idemia.givenName": "Alice Marie",
        "idemia.surname": "Sandbox",
        "idemia.dateOfBirth": "1990-04-12",
        "idemia.documentType": "PASSPORT",
        "idemia.documentNumber": "X1234567",
        "idemia.issuingCountry": "GBR",
        "idemia.expiryDate": "2031-05-31",
        "idemia.levelOfAssurance": "LOA3",
    }
    assert all(a.is_valid and a.is_owner for a in identity.attributes.all())
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM django_civic_verifiedattribute")
        stored = " ".join(row[0] for row in cursor.fetchall())
    assert "X1234567" not in stored and "Sandbox" not in stored
    stats = idemia.idemia_identity(body["identityId"])
    assert stats["identity_fetches"] == 1 and stats["proof_fetches"] == 0  # STORE_PROOF is off


def test_not_verified_records_nothing(idemia, browser):
    session = start(browser)
    post_callback(*finish(idemia, session, "NOT_VERIFIED"))
    session.refresh_from_db()
    assert session.status == Status.NOT_VERIFIED and session.level_of_assurance == "LOA0"
    assert session.identity is None and CivicIdentity.objects.count() == 0


def test_level_below_the_minimum_is_not_verified(idemia, browser):
    session = start(browser)
    post_callback(*finish(idemia, session, loa="LOA1"))
    session.refresh_from_db()
    assert (session.status, session.level_of_assurance) == (Status.NOT_VERIFIED, "LOA1")
    assert CivicIdentity.objects.count() == 0


def test_lower_minimum_accepts_loa1_without_ownership(idemia, browser):
    idemia.configure(MIN_LEVEL_OF_ASSURANCE="LOA1")
    session = start(browser)
    post_callback(*finish(idemia, session, loa="LOA1"))
    session.refresh_from_db()
    assert session.status == Status.VERIFIED
    # LOA1 has no face match: the document is valid, but not proven to be this person's.
    assert all(a.is_valid and not a.is_owner for a in session.identity.attributes.all())


@pytest.mark.parametrize(("outcome", "status", "code"), [
    ("ERROR", Status.ERROR, "idemia_error"),
    ("HEARTBEAT_TIMEOUT", Status.TIMED_OUT, "idemia_heartbeat_timeout"),
])
def test_abnormal_end_finishes_cleanly(idemia, browser, outcome, status, code):
    session = start(browser)
    assert post_callback(*finish(idemia, session, outcome)).status_code == 204
    session.refresh_from_db()
    assert (session.status, session.idemia_status, session.error_code) == (status, outcome, code)
    assert session.completed_at is not None and session.idemia_identity_id is None
    assert CivicIdentity.objects.count() == 0


def test_identity_already_linked_to_another_user_is_an_error(idemia, browser):
    session = start(browser)
    path, body = finish(idemia, session)
    other = User.objects.create_user("mallory")
    record_identity(provider="idemia", subject=body["identityId"], attributes=[], user=other)
    assert post_callback(path, body).status_code == 204
    session.refresh_from_db()
    assert (session.status, session.error_code) == (Status.ERROR, "already_linked")
    assert CivicIdentity.objects.get().user == other


def test_done_page_shows_the_outcome_to_the_owner_only(idemia, browser, client):
    session = start(browser)
    post_callback(*finish(idemia, session))
    url = reverse("django_civic:proofing-done", args=[session.public_id])
    page = browser.get(url).content.decode()
    assert 'data-status="verified"' in page and "LOA3" in page
    client.force_login(User.objects.create_user("eve"))
    for viewer in (Client(), client):  # anonymous (a phone that scanned the QR code), then another user
        neutral = viewer.get(url).content.decode()
        assert 'data-testid="proofing-finished"' in neutral
        assert 'data-testid="proofing-status"' not in neutral and "LOA3" not in neutral


# -- idempotency -----------------------------------------------------------------------------------


def test_duplicate_callbacks_change_nothing_more(idemia, browser):
    session = start(browser)
    path, body = finish(idemia, session)
    assert post_callback(path, body).status_code == 204
    before = snapshot(idemia)
    assert post_callback(path, body).status_code == 204
    assert post_callback(path, body).status_code == 204
    rows, identities, attributes, gips = snapshot(idemia)
    assert (identities, attributes, gips) == before[1:]
    assert rows[0]["callback_count"] == 3 and {**rows[0], "callback_count": 1, "updated_at": None} == {
        **before[0][0], "updated_at": None}
    assert gips[0]["identity_fetches"] == 1


def test_a_second_callback_naming_another_identity_is_refused(idemia, browser):
    first = start(browser)
    path, body = finish(idemia, first)
    post_callback(path, body)
    second = start(browser)
    _, other_body = finish(idemia, second)
    before = snapshot()
    response = post_callback(path, {**body, "identityId": other_body["identityId"]})
    assert response.status_code == 409 and response.json()["error"] == "callback_conflict"
    assert snapshot() == before


# -- forged, unknown, expired and mismatched callbacks change nothing -----------------------------


@pytest.fixture
def pending(idemia, browser):
    """A started session, finished at IDEMIA, whose genuine callback has not been delivered yet."""
    session = start(browser)
    path, body = finish(idemia, session)
    return session, path, body


def assert_refused(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == code and response.json()["detail"]


def test_forged_unknown_session(idemia, pending):
    session, path, body = pending
    before = snapshot(idemia)
    assert_refused(post_callback(path, {**body, "sessionId": "ba7ce9dc-c182-4907-875c-ce1942239099"}),
                   404, "unknown_session")
    assert snapshot(idemia) == before


def test_a_case_variant_of_the_session_id_is_another_session(idemia, pending):
    """IDEMIA's ids are compared byte for byte on every database: MariaDB's default collation would find
    the session by an upper-cased id, leaving only the secret between a forged callback and the session."""
    session, path, body = pending
    before = snapshot(idemia)
    upper = {**body, "sessionId": body["sessionId"].upper()}
    assert_refused(post_callback(path, upper), 404, "unknown_session")
    assert snapshot(idemia) == before


def test_forged_wrong_secret(idemia, pending):
    session, path, body = pending
    before = snapshot(idemia)
    forged = reverse("django_civic:proofing-callback", args=["A" * 43])
    assert_refused(post_callback(forged, body), 404, "unknown_session")
    assert snapshot(idemia) == before


def test_forged_secret_of_another_session(idemia, pending, browser):
    session, path, body = pending
    other = start(browser)
    _, other_body = finish(idemia, other)
    before = snapshot(idemia)
    # The first session's URL (its secret) with the second session's body.
    assert_refused(post_callback(path, other_body), 404, "unknown_session")
    assert snapshot(idemia) == before


def test_forged_identity_of_another_session(idemia, pending, browser):
    session, path, body = pending
    victim = start(browser)
    victim_path, victim_body = finish(idemia, victim, persona="bruno")
    post_callback(victim_path, victim_body)
    before = snapshot(idemia)
    # Our session, pointed at the identity another session already bound.
    assert_refused(
        post_callback(path, {**body, "identityId": victim_body["identityId"]}), 409, "identity_mismatch"
    )
    assert snapshot(idemia) == before


def test_forged_application(idemia, pending):
    session, path, body = pending
    before = snapshot(idemia)
    assert_refused(
        post_callback(path, {**body, "applicationId": "someone-elses-app"}), 403, "wrong_application"
    )
    assert snapshot(idemia) == before


def test_expired_session(idemia, pending):
    session, path, body = pending
    ProofingSession.objects.filter(pk=session.pk).update(expires_at=timezone.now())
    before = snapshot(idemia)
    assert_refused(post_callback(path, body), 410, "session_expired")
    assert snapshot(idemia) == before


@pytest.mark.parametrize("shift", [-3600, 3600, 1e30])
def test_implausible_timestamp(idemia, pending, shift):
    session, path, body = pending
    before = snapshot(idemia)
    assert_refused(post_callback(path, {**body, "timestamp": time.time() + shift}), 400, "stale_callback")
    assert snapshot(idemia) == before


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[]", b'{"sessionId": 1}', b"\xff", b'{"a":' * 3000,
    json.dumps({"applicationId": "x", "timestamp": 1}).encode(),
])
def test_malformed_bodies(idemia, pending, body):
    session, path, _genuine = pending
    before = snapshot(idemia)
    assert_refused(post_callback(path, body), 400, "invalid_callback")
    assert snapshot(idemia) == before


def test_malformed_identity_id(idemia, pending):
    session, path, body = pending
    before = snapshot(idemia)
    for identity_id in ("../../../admin", "https://evil.example/", "gips-1"):
        assert_refused(post_callback(path, {**body, "identityId": identity_id}), 400, "invalid_callback")
    assert snapshot(idemia) == before


def test_oversized_body_and_wrong_method(idemia, pending):
    session, path, body = pending
    before = snapshot(idemia)
    assert_refused(post_callback(path, {**body, "padding": "x" * 20000}), 413, "payload_too_large")
    response = Client().get(path)
    assert_refused(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"
    assert snapshot(idemia) == before


def test_proof_url_from_the_callback_is_never_requested(idemia, pending):
    session, path, body = pending
    with RecordingServer() as attacker:
        forged = {**body, "proofUrl": f"{attacker.url}gips/v1/identities/{body['identityId']}/proof"}
        assert post_callback(path, forged).status_code == 204
        session.refresh_from_db()
        assert session.status == Status.VERIFIED  # decided from our own GIPS, at our own URL
        assert attacker.requests == []


def test_callback_refusals_keep_the_secret_out_of_the_request_log(idemia, pending, caplog):
    session, path, body = pending
    with caplog.at_level("WARNING"):
        post_callback(path, {**body, "applicationId": "other"})
    secret = path.rstrip("/").rsplit("/", 1)[-1]
    assert caplog.records and all(secret not in record.getMessage() for record in caplog.records)


# -- provider errors during the fetch --------------------------------------------------------------


@pytest.mark.parametrize("fault", [{"kind": "status", "status": 500}, {"kind": "status", "status": 429},
                                   {"kind": "timeout", "seconds": 2}])
def test_transient_gips_failure_leaves_the_session_for_a_retry(idemia, browser, fault, settings):
    settings.CIVIC = {**settings.CIVIC, "HTTP_TIMEOUT": 0.5}
    session = start(browser)
    path, body = finish(idemia, session)
    idemia.inject_fault("idemia.gips", **fault)
    assert post_callback(path, body).status_code == 204
    session.refresh_from_db()
    assert session.status == Status.CALLBACK_RECEIVED and session.error_code.startswith("proofing_")
    assert session.fetch_started_at is None  # the claim is released
    # IDEMIA's retry (or the reconcile command) tries again and succeeds.
    assert post_callback(path, body).status_code == 204
    session.refresh_from_db()
    assert session.status == Status.VERIFIED and session.fetch_attempts == 2 and session.error_code == ""


def test_gips_still_processing_is_waited_for(idemia, browser):
    session = start(browser)
    path, body = finish(idemia, session)
    idemia.inject_fault("idemia.gips", "processing", count=2)
    post_callback(path, body)
    session.refresh_from_db()
    assert session.status == Status.VERIFIED
    assert idemia.idemia_identity(body["identityId"])["identity_fetches"] == 3


def test_unknown_identity_at_gips_is_an_error(idemia, browser):
    session = start(browser)
    path, body = finish(idemia, session)
    idemia.inject_fault("idemia.gips", "status", status=404)
    post_callback(path, body)
    session.refresh_from_db()
    assert (session.status, session.error_code) == (Status.ERROR, "proofing_not_found")


def test_identity_created_before_the_session_is_refused(idemia, browser, queued):
    session = start(browser)
    post_callback(*finish(idemia, session))
    assert queued() == [session.pk]
    # As if the session had started long after IDEMIA created the identity the callback names.
    ProofingSession.objects.filter(pk=session.pk).update(
        created_at=timezone.now() + timezone.timedelta(hours=1)
    )
    fetch_and_record(session.pk)
    session.refresh_from_db()
    assert (session.status, session.error_code) == (Status.ERROR, "identity_mismatch")
    assert CivicIdentity.objects.count() == 0


def test_the_fetch_is_enqueued_with_the_session_key_only(idemia, browser, queued):
    session = start(browser)
    post_callback(*finish(idemia, session))
    session.refresh_from_db()
    # The queue gets the primary key: no secret, no identity id, no personal data.
    assert queued() == [session.pk] and session.status == Status.CALLBACK_RECEIVED


def test_the_default_backend_fetches_in_the_callback_request(idemia, browser):
    """No TASKS setting: Django's ImmediateBackend runs the fetch after the commit, before the 204."""
    session = start(browser)
    assert post_callback(*finish(idemia, session)).status_code == 204
    session.refresh_from_db()
    assert session.status == Status.VERIFIED


def test_a_queue_that_refuses_the_task_does_not_fail_the_callback(idemia, browser, settings):
    settings.TASKS = {"default": {"BACKEND": "tests.test_proofing_flow.RefusingBackend"}}
    session = start(browser)
    path, body = finish(idemia, session)
    response = post_callback(path, body)
    session.refresh_from_db()
    # Recorded, answered 2xx; the reconcile command fetches it later.
    assert response.status_code == 204 and session.status == Status.CALLBACK_RECEIVED
    settings.TASKS = {"default": {"BACKEND": IMMEDIATE}}
    assert reconcile().fetched == 1
    session.refresh_from_db()
    assert session.status == Status.VERIFIED


# -- the proof archive -----------------------------------------------------------------------------


def test_proof_is_fetched_once_and_stored_encrypted(idemia, browser, proof_storage):
    idemia.configure(STORE_PROOF=True, PROOF_STORAGE="proofs")
    session = start(browser)
    path, body = finish(idemia, session)
    post_callback(path, body)
    post_callback(path, body)  # IDEMIA's retry: the proof must not be requested again
    session.refresh_from_db()
    assert session.status == Status.VERIFIED and session.proof_fetched_at and session.proof_file
    stored = (proof_storage / session.proof_file).read_bytes()
    assert not stored.startswith(b"PK") and b"proof.json" not in stored
    archive = zipfile.ZipFile(io.BytesIO(read_proof(session)))
    assert any(name.endswith("/proof.json") for name in archive.namelist())
    assert idemia.idemia_identity(body["identityId"])["proof_fetches"] == 1
    assert session.proof_size == len(read_proof(session))


def test_proof_403_while_processing_is_retried(idemia, browser, proof_storage):
    idemia.configure(STORE_PROOF=True, PROOF_STORAGE="proofs")
    session = start(browser)
    path, body = finish(idemia, session)
    idemia.inject_fault("idemia.proof", "processing", count=2)
    post_callback(path, body)
    session.refresh_from_db()
    assert session.proof_file
    stats = idemia.idemia_identity(body["identityId"])
    assert (stats["proof_refusals"], stats["proof_fetches"]) == (2, 1)


def test_proof_not_served_is_left_for_reconcile(idemia, browser, proof_storage):
    from django_civic.idemia.maintenance import reconcile

    idemia.configure(STORE_PROOF=True, PROOF_STORAGE="proofs")
    session = start(browser)
    path, body = finish(idemia, session)
    idemia.inject_fault("idemia.proof", "processing", count=10)
    post_callback(path, body)
    session.refresh_from_db()
    assert session.status == Status.VERIFIED and not session.proof_file and session.proof_fetched_at is None
    idemia.clear_faults()
    assert reconcile(sleep=lambda s: None).proofs_stored == 1
    session.refresh_from_db()
    assert session.proof_file and idemia.idemia_identity(body["identityId"])["proof_fetches"] == 1


def test_proof_timeout_is_never_retried(idemia, browser, proof_storage, settings):
    from django_civic.idemia.maintenance import reconcile

    idemia.configure(STORE_PROOF=True, PROOF_STORAGE="proofs")
    session = start(browser)
    path, body = finish(idemia, session)
    settings.CIVIC = {**settings.CIVIC, "HTTP_TIMEOUT": 0.5}
    idemia.inject_fault("idemia.proof", "timeout", seconds=1)
    post_callback(path, body)
    session.refresh_from_db()
    # The proof may have been served (and the transaction closed): it is not asked for again, ever.
    assert session.status == Status.VERIFIED and session.proof_fetched_at and not session.proof_file
    reconcile(sleep=lambda s: None)
    assert idemia.idemia_identity(body["identityId"])["proof_fetches"] == 0


def test_deleting_a_session_or_its_user_deletes_the_proof(idemia, browser, proof_storage, user,
                                                          django_capture_on_commit_callbacks):
    idemia.configure(STORE_PROOF=True, PROOF_STORAGE="proofs")
    session = start(browser)
    post_callback(*finish(idemia, session))
    session.refresh_from_db()
    path = proof_storage / session.proof_file
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        user.delete()
    assert not path.exists() and ProofingSession.objects.count() == 0
