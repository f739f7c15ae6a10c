"""Admin of proofing sessions: read-only, filters, exact search, the permission-checked proof download."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_civic.idemia.fetch import store_proof
from django_civic.models import ProofingSession

pytestmark = pytest.mark.django_db
User = get_user_model()
Status = ProofingSession.Status
CHANGELIST = reverse("admin:django_civic_proofingsession_changelist")


def make_session(user, **fields) -> ProofingSession:
    _secret, secret_hash = ProofingSession.new_callback_secret()
    values = {"user": user, "callback_secret_hash": secret_hash, "status": Status.STARTED,
              "idemia_session_id": str(uuid.uuid4()), "expires_at": timezone.now() + timedelta(hours=1)}
    values.update(fields)
    return ProofingSession.objects.create(**values)


@pytest.fixture
def staff():
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def sessions():
    ada = User.objects.create_user("ada")
    return {
        "verified": make_session(ada, status=Status.VERIFIED, level_of_assurance="LOA3",
                                 idemia_identity_id=f"gips-{uuid.uuid4()}"),
        "low": make_session(ada, status=Status.NOT_VERIFIED, level_of_assurance="LOA1",
                            idemia_identity_id=f"gips-{uuid.uuid4()}"),
        "open": make_session(ada),
    }


def listed(response) -> set[str]:
    return {str(s.public_id) for s in response.context["cl"].result_list}


def test_filters_by_status_and_level(staff, sessions):
    assert listed(staff.get(CHANGELIST, {"status__exact": "verified"})) == {
        str(sessions["verified"].public_id)
    }
    assert listed(staff.get(CHANGELIST, {"loa": "LOA1"})) == {str(sessions["low"].public_id)}
    assert listed(staff.get(CHANGELIST, {"loa": "none"})) == {str(sessions["open"].public_id)}
    assert len(listed(staff.get(CHANGELIST, {"loa": "bogus"}))) == 3


def test_search_is_exact_on_ids_and_username(staff, sessions):
    verified = sessions["verified"]
    assert listed(staff.get(CHANGELIST, {"q": verified.idemia_identity_id})) == {str(verified.public_id)}
    assert listed(staff.get(CHANGELIST, {"q": verified.idemia_identity_id[:10]})) == set()
    assert len(listed(staff.get(CHANGELIST, {"q": "ada"}))) == 3


def test_search_is_exact_not_case_insensitive(staff, sessions):
    """``=`` in search_fields is iexact: on PostgreSQL UPPER(a) = UPPER(b), so "adi" found "adı"'s
    sessions and "ADA" found "ada"'s. Search compares exactly, on every database (MariaDB's "=" ignores
    case too: the exact comparison is made in Python)."""
    verified = sessions["verified"]
    dotless = make_session(User.objects.create_user("ad\u0131"))
    assert listed(staff.get(CHANGELIST, {"q": "ada"})) == {str(s.public_id) for s in sessions.values()}
    assert listed(staff.get(CHANGELIST, {"q": "ADA"})) == set()
    assert listed(staff.get(CHANGELIST, {"q": "adi"})) == set()
    assert listed(staff.get(CHANGELIST, {"q": "ad\u0131"})) == {str(dotless.public_id)}
    assert listed(staff.get(CHANGELIST, {"q": verified.idemia_identity_id.upper()})) == set()


def test_read_only(staff, sessions):
    session = sessions["verified"]
    assert staff.get(reverse("admin:django_civic_proofingsession_add")).status_code == 403
    change = reverse("admin:django_civic_proofingsession_change", args=[session.pk])
    page = staff.get(change)
    assert page.status_code == 200 and session.callback_secret_hash not in page.content.decode()
    staff.post(change, {"status": "error"})
    session.refresh_from_db()
    assert session.status == Status.VERIFIED


def test_proof_download_needs_the_permission(settings, tmp_path, sessions):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("gips-x_1/proof.json", "{}")
    session = sessions["verified"]
    ProofingSession.objects.filter(pk=session.pk).update(proof_file=store_proof(archive.getvalue()),
                                                         proof_size=len(archive.getvalue()))
    url = reverse("admin:django_civic_proofingsession_proof", args=[session.pk])

    viewer = User.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_proofingsession"))
    client = Client()
    client.force_login(viewer)
    assert (
        client.get(reverse("admin:django_civic_proofingsession_change", args=[session.pk])).status_code == 200
    )
    assert client.get(url).status_code == 403

    viewer.user_permissions.add(Permission.objects.get(codename="download_proof"))
    viewer = User.objects.get(pk=viewer.pk)  # drop the permission cache
    client.force_login(viewer)
    response = client.get(url)
    assert response.status_code == 200 and response.content == archive.getvalue()
    assert response["Content-Disposition"] == f'attachment; filename="proof-{session.public_id}.zip"'
    assert client.get(reverse("admin:django_civic_proofingsession_proof",
                              args=[sessions["open"].pk])).status_code == 404
