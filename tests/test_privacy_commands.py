"""Privacy: ``civic_export_user`` and ``civic_erase_user`` (``django_civic.account.privacy``) on data made
by the real flows: a person who logged in with Civic SIP (proof of identity, with a document image), then with
Civic Auth (linked by verified email), then proved their identity with IDEMIA (proof archive stored);
and a bystander whose data must never appear in the export nor be touched by the erasure.
"""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.management import CommandError, call_command
from django.test import Client

from django_civic import signals
from django_civic.account.privacy import erase_user, export_user
from django_civic.civic_auth.client import civic_access_token_for, get_token_exchanger
from django_civic.models import CivicIdentity, ProofingSession, VerifiedAttribute

from .test_proofing_flow import finish, post_callback, start

User = get_user_model()
SIP = "/civic/sip/exchange/"


@dataclass
class People:
    person: object
    bystander: object
    proof_dir: Path
    proof_file: str
    callback_secret: str

    def values(self, user) -> dict[str, str]:
        return {a.label: a.value for a in VerifiedAttribute.objects.filter(identity__user=user)}


def populate(civic_sandbox, settings, tmp_path, **civic) -> People:
    """Run the flows: everything django_civic can store about a person, and a bystander.

    ``civic`` adds top-level ``CIVIC`` settings (encryption keys, say)."""
    caches["default"].clear()
    settings.STORAGES = {**settings.STORAGES, "proofs": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    settings.CIVIC = civic_sandbox.civic_settings(
        SANDBOX_ALLOW_WITHOUT_DEBUG=True, LINK_BY_EMAIL=True, API={"THROTTLE_RATE": None},
        IDEMIA={"STORE_PROOF": True, "PROOF_STORAGE": "proofs"}, **civic)

    code = civic_sandbox.mint_code("carol", "PROOF_OF_IDENTITY")["authToken"]
    signed_up = Client().post(SIP, {"token": code, "scope": "PROOF_OF_IDENTITY"},
                              content_type="application/json")
    assert signed_up.status_code == 200, signed_up.content
    person = User.objects.get(pk=signed_up.json()["user"]["id"])

    api = Client()
    issued = api.post("/civic/auth/nonce/").json()
    id_token = civic_sandbox.mint_oidc_token(persona="carol", nonce=issued["nonce"])
    linked = api.post("/civic/auth/token/", {"id_token": id_token, "nonce_id": issued["nonce_id"]},
                      content_type="application/json")
    assert linked.status_code == 200 and linked.json()["user"]["id"] == person.pk, linked.content

    web = Client()
    web.force_login(person)
    session = start(web)
    path, body = finish(civic_sandbox, session, persona="bob")
    assert post_callback(path, body).status_code == 204
    session.refresh_from_db()
    assert session.status == ProofingSession.Status.VERIFIED and session.proof_file

    code = civic_sandbox.mint_code("alice", "BASIC_SIGNUP")["authToken"]
    other = Client().post(SIP, {"token": code}, content_type="application/json")
    assert other.status_code == 200
    bystander = User.objects.get(pk=other.json()["user"]["id"])
    assert bystander.pk != person.pk
    return People(person, bystander, tmp_path, session.proof_file, path.rstrip("/").rsplit("/", 1)[-1])


@pytest.fixture
def people(civic_sandbox, settings, tmp_path) -> People:
    return populate(civic_sandbox, settings, tmp_path)


def export(*args: str) -> tuple[dict, str]:
    out = io.StringIO()
    call_command("civic_export_user", *args, stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue()), out.getvalue()


# -- export ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_export_holds_everything_decrypted_and_nothing_of_anyone_else(people, record_figure):
    data, text = export(str(people.person.pk))
    assert data["format"] == "django_civic.export/1"
    assert data["user"] == {"id": people.person.pk, "username": people.person.username,
                            "email": "carol@example.net"}
    providers = [identity["provider"] for identity in data["identities"]]
    assert providers[0] == "civic_sip" and providers[1].endswith("/oauth/") and providers[2] == "idemia"
    exported = {a["label"]: a["value"] for identity in data["identities"] for a in identity["attributes"]}
    assert exported == people.values(people.person)  # every attribute, decrypted
    assert exported["documents.genericId.number"] == "P12345678"
    assert exported["idemia.documentNumber"] == "FR9988776"
    assert len(exported["documents.genericId.image"]) > 400  # the document image itself
    for identity in data["identities"]:
        assert identity["created_at"] and identity["last_login"]
        assert all(a["first_verified_at"] and a["last_verified_at"] for a in identity["attributes"])

    [proofing] = data["proofing_sessions"]
    assert proofing["status"] == "verified" and proofing["recorded_identity"]["provider"] == "idemia"
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(proofing["proof"]["archive_base64"])))
    assert any(name.endswith("/proof.json") for name in archive.namelist())
    # No secret: neither the callback URL's secret nor its stored hash.
    session = ProofingSession.objects.get(user=people.person)
    assert people.callback_secret not in text and session.callback_secret_hash not in text
    assert "callback_secret" not in text
    for value in people.values(people.bystander).values():
        assert value not in text
    record_figure("privacy.export_user", identities=len(data["identities"]),
                  attributes=sum(len(identity["attributes"]) for identity in data["identities"]),
                  attributes_stored=VerifiedAttribute.objects.filter(identity__user=people.person).count(),
                  proof_archives=len(data["proofing_sessions"]), secrets_exported=0)


@pytest.mark.django_db
def test_export_by_username_to_a_private_file_that_is_never_overwritten(people, tmp_path):
    target = tmp_path / "export.json"
    call_command("civic_export_user", people.person.username, "--output", str(target), "--no-proofs",
                 stdout=io.StringIO(), stderr=io.StringIO())
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    data = json.loads(target.read_text())
    assert data["user"]["id"] == people.person.pk
    proof = data["proofing_sessions"][0]["proof"]
    assert set(proof) == {"size", "fetched_at"} and proof["size"] == ProofingSession.objects.get().proof_size
    with pytest.raises(CommandError, match="exists already"):
        call_command("civic_export_user", people.person.username, "--output", str(target))
    assert json.loads(target.read_text()) == data


@pytest.mark.django_db
def test_export_refuses_unknown_and_ambiguous_users(people):
    with pytest.raises(CommandError, match="no user"):
        call_command("civic_export_user", "nobody-by-that-name")
    # A user whose username is the id of another user: the identifier is ambiguous, so refused.
    User.objects.create_user(str(people.person.pk))
    with pytest.raises(CommandError, match="id of one user and the username of another"):
        call_command("civic_export_user", str(people.person.pk))


@pytest.mark.django_db
def test_an_undecryptable_value_is_exported_as_null_and_flagged(people, settings):
    from django.db.models import Value

    from django_civic.core import encryption
    from django_civic.core.fields import Ciphertext

    # A value encrypted under a key that is no longer configured.
    original = settings.CIVIC
    settings.CIVIC = {**original, "ENCRYPTION_KEYS": ["a key since removed"]}
    token = encryption.encrypt("carol@example.net")
    settings.CIVIC = original
    field = VerifiedAttribute._meta.get_field("value")
    VerifiedAttribute.objects.filter(identity__user=people.person, label="contact.personal.email").update(
        value=Value(Ciphertext(token), output_field=field))
    data = export_user(people.person)
    email = next(a for identity in data["identities"] for a in identity["attributes"]
                 if a["label"] == "contact.personal.email")
    assert email["value"] is None and email["undecryptable"] is True
    err = io.StringIO()
    call_command("civic_export_user", str(people.person.pk), stdout=io.StringIO(), stderr=err)
    assert "did not decrypt" in err.getvalue()


# -- erasure -----------------------------------------------------------------------------------------


def counts(user) -> tuple[int, int, int]:
    return (CivicIdentity.objects.filter(user=user).count(),
            VerifiedAttribute.objects.filter(identity__user=user).count(),
            ProofingSession.objects.filter(user=user).count())


@pytest.mark.django_db
def test_erasure_asks_first_and_a_no_deletes_nothing(people, monkeypatch):
    before = counts(people.person)
    for answer in ("no", "", "y"):
        monkeypatch.setattr("builtins.input", lambda prompt, answer=answer: answer)
        with pytest.raises(CommandError, match="Nothing was deleted"):
            call_command("civic_erase_user", str(people.person.pk), stdout=io.StringIO())
    monkeypatch.setattr("builtins.input", lambda prompt: (_ for _ in ()).throw(EOFError()))
    with pytest.raises(CommandError, match="Nothing was deleted"):
        call_command("civic_erase_user", str(people.person.pk), stdout=io.StringIO())
    assert counts(people.person) == before and (people.proof_dir / people.proof_file).exists()


@pytest.mark.django_db(transaction=True)
def test_erasure_deletes_all_of_it_keeps_the_account_and_signals_each_unlink(people, monkeypatch,
                                                                            record_figure):
    unlinked = []
    signals.identity_unlinked.connect(lambda sender, **kw: unlinked.append(kw["identity"].provider),
                                      weak=False, dispatch_uid="test-privacy-unlinked")
    bystander_before = people.values(people.bystander)
    stored_before = counts(people.person)
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    out = io.StringIO()
    try:
        call_command("civic_erase_user", people.person.username, stdout=out)
    finally:
        signals.identity_unlinked.disconnect(dispatch_uid="test-privacy-unlinked")
    assert counts(people.person) == (0, 0, 0)
    assert not (people.proof_dir / people.proof_file).exists()
    assert len(unlinked) == 3 and {"civic_sip", "idemia"} < set(unlinked)
    assert any(provider.endswith("/oauth/") for provider in unlinked)
    assert User.objects.filter(pk=people.person.pk).exists()  # the account is the site's: kept by default
    assert people.values(people.bystander) == bystander_before
    assert "3 identity(ies)" in out.getvalue() and "1 proof file(s)" in out.getvalue()
    assert "carol" not in out.getvalue()  # counts and the user id, no personal data
    record_figure("privacy.erase_user", identities=stored_before[0], attributes=stored_before[1],
                  proofing_sessions=stored_before[2], proof_files=1, left=sum(counts(people.person)),
                  unlinked_signals=len(unlinked), bystander_rows_changed=0)


@pytest.mark.django_db(transaction=True)
def test_erasure_with_delete_user_deletes_the_account_too(people):
    pk = people.person.pk
    call_command("civic_erase_user", str(pk), "--yes", "--delete-user", stdout=io.StringIO())
    assert not User.objects.filter(pk=pk).exists()
    assert not CivicIdentity.objects.filter(user_id=pk).exists()
    assert ProofingSession.objects.count() == 0 and not (people.proof_dir / people.proof_file).exists()
    assert CivicIdentity.objects.filter(user=people.bystander).count() == 1


@pytest.mark.django_db(transaction=True)
def test_erasure_forgets_the_users_exchanged_civic_tokens(people, civic_sandbox):
    subject_token = civic_sandbox.mint_oidc_token(type="access", persona="carol")
    exchanged = civic_access_token_for(people.person, subject_token)
    key = get_token_exchanger().cache_key(str(people.person.pk), None)
    assert exchanged.access_token and caches["default"].get(key) is not None
    erase_user(people.person)
    assert caches["default"].get(key) is None


@pytest.mark.django_db
def test_erasure_inside_a_transaction_waits_for_its_commit(people, django_capture_on_commit_callbacks):
    """From a view under ATOMIC_REQUESTS: files and signals follow the caller's commit, not before."""
    unlinked = []
    signals.identity_unlinked.connect(lambda sender, **kw: unlinked.append(1), weak=False,
                                      dispatch_uid="test-privacy-deferred")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            report = erase_user(people.person)
            assert (people.proof_dir / people.proof_file).exists() and unlinked == []
    finally:
        signals.identity_unlinked.disconnect(dispatch_uid="test-privacy-deferred")
    assert report.identities == 3 and report.proof_files == 1 and report.proof_files_left == 0
    assert not (people.proof_dir / people.proof_file).exists() and len(unlinked) == 3
