"""Privacy: retention. ``civic_purge_documents`` (``CIVIC["DOCUMENT_IMAGE_RETENTION_DAYS"]``) and
``civic_purge_proofing`` (``CIVIC["IDEMIA"]["RETENTION_DAYS"]``) run as the daily job would, on data made
by the real flows, with rows aged by moving their timestamps back. Each test shows what goes and what stays.

The functions behind them have their own tests (tests/test_identities.py, tests/test_proofing_maintenance.py);
these run the commands end to end.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from django_civic.models import CivicIdentity, ProofingSession, VerifiedAttribute

from .test_privacy_commands import populate
from .test_proofing_flow import start

pytestmark = pytest.mark.django_db
IMAGE = "documents.genericId.image"
Status = ProofingSession.Status


@pytest.fixture
def people(civic_sandbox, settings, tmp_path):
    return populate(civic_sandbox, settings, tmp_path)


def age(queryset, days: float, **fields: str) -> None:
    """Move the given timestamp fields of ``queryset`` ``days`` into the past."""
    then = timezone.now() - timedelta(days=days)
    queryset.update(**{name: then for name in fields.values()})


def labels(user) -> set[str]:
    return set(VerifiedAttribute.objects.filter(identity__user=user).values_list("label", flat=True))


def purge_documents(*args: str) -> str:
    out = io.StringIO()
    call_command("civic_purge_documents", *args, stdout=out)
    return out.getvalue()


def test_document_images_go_after_the_retention_period_and_everything_else_stays(people, settings,
                                                                                   civic_sandbox,
                                                                                   record_figure):
    # Someone else signs up with a document too; their image will be younger than the retention period.
    settings.CIVIC = {**settings.CIVIC, "LINK_BY_EMAIL": False}
    code = civic_sandbox.mint_code("carol", "PROOF_OF_IDENTITY", userId="another-person-with-a-passport")
    assert Client().post("/civic/sip/exchange/", {"token": code["authToken"]},
                         content_type="application/json").status_code == 200
    young_owner = CivicIdentity.objects.get(subject="another-person-with-a-passport").user
    assert young_owner != people.person
    person_labels, young_labels = labels(people.person), labels(young_owner)
    assert IMAGE in person_labels and IMAGE in young_labels

    age(VerifiedAttribute.objects.filter(identity__user=people.person), 31, at="last_verified_at")
    age(VerifiedAttribute.objects.filter(identity__user=young_owner), 29, at="last_verified_at")

    assert "nothing deleted" in purge_documents()  # the default, None: images are kept
    assert labels(people.person) == person_labels

    settings.CIVIC = {**settings.CIVIC, "DOCUMENT_IMAGE_RETENTION_DAYS": 30}
    assert "deleted 1 document image(s)" in purge_documents()
    assert labels(people.person) == person_labels - {IMAGE}  # its md5, the number, names... stay
    assert labels(young_owner) == young_labels  # 29 days old: kept

    assert "deleted 1 document image(s)" in purge_documents("--days", "28")  # the override
    assert IMAGE not in labels(young_owner)
    with pytest.raises(CommandError):
        purge_documents("--days", "-1")
    record_figure("privacy.retention_images", retention_days=30, aged_31_deleted=1, aged_29_kept=1,
                  other_attributes_kept=len(person_labels) - 1)


def test_a_new_login_brings_the_image_back_and_restarts_its_clock(people, settings, civic_sandbox):
    settings.CIVIC = {**settings.CIVIC, "DOCUMENT_IMAGE_RETENTION_DAYS": 30}
    age(VerifiedAttribute.objects.filter(identity__user=people.person), 40, at="last_verified_at")
    purge_documents()
    assert IMAGE not in labels(people.person)
    code = civic_sandbox.mint_code("carol", "PROOF_OF_IDENTITY")["authToken"]
    assert Client().post("/civic/sip/exchange/", {"token": code, "scope": "PROOF_OF_IDENTITY"},
                         content_type="application/json").status_code == 200
    assert IMAGE in labels(people.person)
    assert "deleted 0" in purge_documents()


def test_proofing_data_goes_after_its_retention_period_but_not_the_verified_identity(
        people, settings, django_capture_on_commit_callbacks, record_figure):
    proof = people.proof_dir / people.proof_file
    finished = ProofingSession.objects.get(user=people.person)
    settings.CIVIC = {**settings.CIVIC, "IDEMIA": {**settings.CIVIC["IDEMIA"], "RETENTION_DAYS": 30}}
    # A second, still open session of the same person, started long ago (never purged while open).
    web = Client()
    web.force_login(people.person)
    still_open = start(web)
    age(ProofingSession.objects.filter(pk=still_open.pk), 90, created="created_at")

    age(ProofingSession.objects.filter(pk=finished.pk), 29, done="completed_at")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("civic_purge_proofing", stdout=io.StringIO())
    assert ProofingSession.objects.filter(pk=finished.pk).exists() and proof.exists()

    age(ProofingSession.objects.filter(pk=finished.pk), 31, done="completed_at")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("civic_purge_proofing", stdout=io.StringIO())
    assert not ProofingSession.objects.filter(pk=finished.pk).exists() and not proof.exists()
    assert ProofingSession.objects.filter(pk=still_open.pk, status=Status.STARTED).exists()
    # What was verified is the person's identity, not proofing data: it stays until unlinked or erased.
    assert CivicIdentity.objects.filter(user=people.person, provider="idemia").exists()
    assert "idemia.documentNumber" in labels(people.person)
    record_figure("privacy.retention_proofing", retention_days=30, finished_29_kept=1, finished_31_deleted=1,
                  proof_files_deleted=1, open_90_kept=1)
