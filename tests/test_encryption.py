"""Encryption at rest, keyed digests, key rotation and the civic_reencrypt command."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from django_civic.core import encryption
from django_civic.core.fields import Ciphertext
from django_civic.core.identities import record_identity
from django_civic.models import VerifiedAttribute
from django_civic.protocols.sip.types import Attribute

from .conftest import EMAIL, PHONE


def raw_values():
    with connection.cursor() as cursor:
        cursor.execute("SELECT label, value FROM django_civic_verifiedattribute ORDER BY label")
        return dict(cursor.fetchall())


def keys(settings, *values, digest="digest-key"):
    settings.CIVIC = {**settings.CIVIC, "ENCRYPTION_KEYS": list(values), "DIGEST_KEY": digest}


def store(**values):
    return record_identity(provider="civic_sip", subject="s", attributes=[
        Attribute(label, value, True, True) for label, value in values.items()])


# -- primitives -------------------------------------------------------------------------------------

@given(st.text(max_size=300))
def test_roundtrip_any_text(value):
    assert encryption.decrypt(encryption.encrypt(value)) == value


def test_ciphertexts_are_randomised_and_keys_are_stretched(settings):
    keys(settings, "short")
    first, second = encryption.encrypt("same"), encryption.encrypt("same")
    assert first != second and first.startswith("gAAAAA")
    assert encryption.stretch("short", b"a") != encryption.stretch("short", b"b")
    assert len(encryption.stretch("short", b"a")) == 32


def test_wrong_key_fails_with_a_message_free_of_data(settings):
    keys(settings, "key-one")
    token = encryption.encrypt("ann@example.com")
    keys(settings, "key-two")
    with pytest.raises(encryption.DecryptionError) as info:
        encryption.decrypt(token)
    assert token not in str(info.value) and "ann@" not in str(info.value)


def test_rotation_keeps_old_keys_readable(settings):
    keys(settings, "old")
    token = encryption.encrypt("value")
    keys(settings, "new", "old")
    assert encryption.decrypt(token) == "value" and not encryption.is_current(token)
    rotated = encryption.rotate(token)
    assert encryption.is_current(rotated)
    keys(settings, "new")
    assert encryption.decrypt(rotated) == "value"


def test_empty_key_list_derives_from_secret_key_with_fallbacks(settings):
    settings.CIVIC = {**settings.CIVIC, "ENCRYPTION_KEYS": []}
    token = encryption.encrypt("value")
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-for-this-test"
    assert encryption.decrypt(token) == "value"
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(encryption.DecryptionError):
        encryption.decrypt(token)


@pytest.mark.parametrize("bad", ["a string", ["ok", ""], [None], {"k": 1}])
def test_malformed_key_settings_are_refused(settings, bad):
    settings.CIVIC = {**settings.CIVIC, "ENCRYPTION_KEYS": bad}
    with pytest.raises(ImproperlyConfigured):
        encryption.encrypt("x")


@pytest.mark.parametrize("a, b", [
    ("Ann@Example.com", "  ann@example.COM "),
    ("STRASSE", "straße"),  # casefold, not lower
])
def test_digest_normalises_text(settings, a, b):
    keys(settings, "k")
    assert encryption.digest(a) == encryption.digest(b)


@pytest.mark.parametrize("a, b", [("+1 (555) 010-0999", "+15550100999"), ("07700 900123", "07700900123")])
def test_digest_normalises_phone_numbers(settings, a, b):
    keys(settings, "k")
    assert encryption.attribute_digest(PHONE, a) == encryption.attribute_digest(PHONE, b)
    # The leading + is significant: an international and a national number differ.
    international = encryption.attribute_digest(PHONE, "+15550100999")
    assert international != encryption.attribute_digest(PHONE, "15550100999")


def test_digest_is_keyed_and_independent_of_encryption_keys(settings):
    keys(settings, "k1", digest="d1")
    first = encryption.digest("ann@example.com")
    keys(settings, "k2", digest="d1")
    assert encryption.digest("ann@example.com") == first
    keys(settings, "k2", digest="d2")
    assert encryption.digest("ann@example.com") != first
    assert "ann" not in first and len(first) == 64


# -- the field ----------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_values_are_encrypted_in_the_database(settings):
    keys(settings, "k")
    store(**{EMAIL: "ann@example.com"})
    raw = raw_values()[EMAIL]
    assert raw.startswith("gAAAAA") and "ann" not in raw
    assert VerifiedAttribute.objects.get().value == "ann@example.com"


@pytest.mark.django_db
def test_loading_does_not_decrypt_until_read(settings, monkeypatch):
    keys(settings, "k")
    store(**{EMAIL: "ann@example.com", PHONE: "+1 555"})
    calls = []
    real = encryption.decrypt
    monkeypatch.setattr(encryption, "decrypt", lambda token: calls.append(1) or real(token))
    rows = list(VerifiedAttribute.objects.order_by("label"))
    assert calls == [] and all(isinstance(r.__dict__["value"], Ciphertext) for r in rows)
    assert rows[0].value == "ann@example.com" and rows[0].value == "ann@example.com"
    assert len(calls) == 1  # decrypted once, then cached
    assert repr(rows[1].__dict__["value"]) == "<Ciphertext>"


@pytest.mark.django_db
def test_saving_an_untouched_row_writes_the_same_ciphertext(settings):
    keys(settings, "k")
    store(**{EMAIL: "ann@example.com"})
    before = raw_values()[EMAIL]
    row = VerifiedAttribute.objects.get()
    row.is_valid = False
    row.save()
    assert raw_values()[EMAIL] == before
    row.value = "new@example.com"
    row.save()
    assert raw_values()[EMAIL] != before and VerifiedAttribute.objects.get().value == "new@example.com"


@pytest.mark.django_db
def test_value_lookups_are_refused(settings):
    with pytest.raises(FieldError):
        list(VerifiedAttribute.objects.filter(value="ann@example.com"))
    assert not VerifiedAttribute.objects.filter(value__isnull=True).exists()


# -- civic_reencrypt ------------------------------------------------------------------------------------

def run(*args):
    out = StringIO()
    call_command("civic_reencrypt", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_reencrypt_moves_every_value_to_the_new_key(settings):
    keys(settings, "old")
    store(**{EMAIL: "ann@example.com", PHONE: "+1 555 0100", "documents.genericId.image": "QUJD" * 5000})
    before = raw_values()
    keys(settings, "new", "old")
    assert "would re-encrypt 3" in run("--dry-run")
    assert raw_values() == before
    output = run("--batch-size", "2")
    assert ("Checked 3 attribute value(s): re-encrypted 3, 0 already under the current key, "
            "0 undecryptable.") in output
    after = raw_values()
    assert all(after[label] != before[label] for label in before)
    keys(settings, "new")  # the old key can go now
    values = {a.label: a.value for a in VerifiedAttribute.objects.all()}
    assert values[EMAIL] == "ann@example.com" and values["documents.genericId.image"] == "QUJD" * 5000
    assert "re-encrypted 0, 3 already" in run()  # rerunning is a no-op


@pytest.mark.django_db
def test_reencrypt_reports_values_no_key_opens_and_leaves_them(settings):
    keys(settings, "lost")
    store(**{EMAIL: "ann@example.com"})
    before = raw_values()
    keys(settings, "new")
    with pytest.raises(CommandError) as info:
        run()
    assert "1 value(s) did not decrypt" in str(info.value) and "ann" not in str(info.value)
    assert raw_values() == before


@pytest.mark.django_db
def test_rehash_after_digest_key_change(settings):
    keys(settings, "k", digest="d1")
    store(**{EMAIL: "Ann@Example.com"})
    keys(settings, "k", digest="d2")
    assert not VerifiedAttribute.objects.filter(value_digest=encryption.digest("ann@example.com")).exists()
    assert "Digests recomputed: 1" in run("--rehash")
    assert VerifiedAttribute.objects.filter(value_digest=encryption.digest("ann@example.com")).exists()


@pytest.mark.django_db
def test_reencrypt_refuses_a_bad_batch_size():
    with pytest.raises(CommandError):
        run("--batch-size", "0")
