"""civic_reconcile_proofing, civic_purge_proofing, and the default background-thread runner."""

from __future__ import annotations

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_civic.idemia.fetch import store_proof
from django_civic.idemia.maintenance import purge, reconcile
from django_civic.models import CivicIdentity, ProofingSession

User = get_user_model()
Status = ProofingSession.Status


def make_session(user, **fields) -> ProofingSession:
    _secret, secret_hash = ProofingSession.new_callback_secret()
    values = {"user": user, "callback_secret_hash": secret_hash, "status": Status.STARTED,
              "idemia_session_id": str(uuid.uuid4()), "expires_at": timezone.now() + timedelta(hours=1)}
    values.update(fields)
    return ProofingSession.objects.create(**values)


@pytest.fixture
def idemia(settings, civic_sandbox):
    settings.CIVIC = civic_sandbox.civic_settings(SANDBOX_ALLOW_WITHOUT_DEBUG=True)
    return civic_sandbox


@pytest.fixture
def user(db):
    return User.objects.create_user("ada")


def gips_identity(sandbox) -> str:
    """An identity that exists at (sandbox) GIPS, as after a completed journey."""
    from django_civic.idemia.client import get_proofing_client

    session_id = get_proofing_client().create_session()
    return sandbox.idemia_complete(session_id)["identity_id"]


@pytest.mark.django_db
def test_sessions_without_callback_time_out(idemia, user):
    late = make_session(user, expires_at=timezone.now() - timedelta(seconds=1))
    fresh = make_session(user)
    done = make_session(user, status=Status.VERIFIED, expires_at=timezone.now() - timedelta(days=1))
    out = StringIO()
    call_command("civic_reconcile_proofing", stdout=out)
    assert "timed out: 1" in out.getvalue()
    statuses = dict(ProofingSession.objects.values_list("pk", "status"))
    assert statuses == {late.pk: Status.TIMED_OUT, fresh.pk: Status.STARTED, done.pk: Status.VERIFIED}
    late.refresh_from_db()
    assert late.error_code == "no_callback" and late.completed_at is not None


@pytest.mark.django_db
def test_accepted_callbacks_whose_fetch_did_not_finish_are_fetched(idemia, user):
    identity_id = gips_identity(idemia)
    stuck = make_session(user, status=Status.CALLBACK_RECEIVED, idemia_identity_id=identity_id,
                         fetch_started_at=timezone.now() - timedelta(hours=1))  # a worker that died
    busy = make_session(user, status=Status.CALLBACK_RECEIVED, idemia_identity_id=f"gips-{uuid.uuid4()}",
                        fetch_started_at=timezone.now())  # a worker still on it: left alone
    report = reconcile(sleep=lambda s: None)
    assert (report.fetched, report.still_pending, report.failed) == (1, 0, 0)
    stuck.refresh_from_db()
    assert stuck.status == Status.VERIFIED and CivicIdentity.objects.get().subject == identity_id
    busy.refresh_from_db()
    assert busy.status == Status.CALLBACK_RECEIVED and busy.fetch_attempts == 0


@pytest.mark.django_db
def test_fetch_failing_until_expiry_ends_in_error(idemia, user):
    identity_id = gips_identity(idemia)
    pending = make_session(user, status=Status.CALLBACK_RECEIVED, idemia_identity_id=identity_id)
    expired = make_session(user, status=Status.CALLBACK_RECEIVED, idemia_identity_id=f"gips-{uuid.uuid4()}",
                           expires_at=timezone.now() - timedelta(minutes=1))
    idemia.inject_fault("idemia.gips", "status", status=503, count=2)
    report = reconcile(sleep=lambda s: None)
    assert (report.still_pending, report.failed) == (1, 1)
    pending.refresh_from_db()
    expired.refresh_from_db()
    assert pending.status == Status.CALLBACK_RECEIVED and pending.error_code == "proofing_upstream_error"
    assert (expired.status, expired.error_code) == (Status.ERROR, "proofing_upstream_error")
    assert reconcile(sleep=lambda s: None).fetched == 1  # GIPS is back
    pending.refresh_from_db()
    assert pending.status == Status.VERIFIED


@pytest.mark.django_db
def test_purge_deletes_old_finished_sessions_and_their_proofs(settings, tmp_path, user,
                                                              django_capture_on_commit_callbacks):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    now = timezone.now()
    name = store_proof(b"PK old proof")
    old = make_session(user, status=Status.VERIFIED, completed_at=now - timedelta(days=40), proof_file=name)
    old_error = make_session(
        user, status=Status.ERROR, created_at=now - timedelta(days=50), completed_at=None
    )
    recent = make_session(user, status=Status.VERIFIED, completed_at=now - timedelta(days=5))
    still_open = make_session(user, created_at=now - timedelta(days=60))
    with django_capture_on_commit_callbacks(execute=True):
        assert purge(30) == 2
    assert set(ProofingSession.objects.values_list("pk", flat=True)) == {recent.pk, still_open.pk}
    assert not (tmp_path / name).exists()
    assert not ProofingSession.objects.filter(pk__in=[old.pk, old_error.pk]).exists()


@pytest.mark.django_db
def test_purge_command_uses_the_setting(settings, user):
    make_session(user, status=Status.VERIFIED, completed_at=timezone.now() - timedelta(days=3))
    settings.CIVIC = {"IDEMIA": {"RETENTION_DAYS": 5}}
    out = StringIO()
    call_command("civic_purge_proofing", stdout=out)
    assert "deleted 0" in out.getvalue()
    call_command("civic_purge_proofing", "--days", "2", stdout=out)
    assert "deleted 1" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("civic_purge_proofing", "--days", "0")
    settings.CIVIC = {"IDEMIA": {"RETENTION_DAYS": None}}
    make_session(user, status=Status.VERIFIED, completed_at=timezone.now() - timedelta(days=3000))
    call_command("civic_purge_proofing", stdout=out)
    assert ProofingSession.objects.count() == 1
