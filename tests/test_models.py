"""Models: keys, constraints, __str__ without personal data."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from django_civic.models import CivicIdentity, VerifiedAttribute
from django_civic.models.identity import is_image_label

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def user():
    return User.objects.create(username="u")


def attribute(identity, label="contact.personal.email", value="ann@example.com"):
    now = timezone.now()
    return VerifiedAttribute.objects.create(identity=identity, label=label, value=value,
                                            first_verified_at=now,
                                            last_verified_at=now)


def test_provider_and_subject_are_unique_together(user):
    CivicIdentity.objects.create(user=user, provider="civic_sip", subject="abc")
    CivicIdentity.objects.create(user=user, provider="idemia", subject="abc")
    CivicIdentity.objects.create(user=user, provider="civic_sip", subject="ABC")
    with pytest.raises(IntegrityError), transaction.atomic():
        other = User.objects.create(username="other")
        CivicIdentity.objects.create(user=other, provider="civic_sip", subject="abc")
    assert user.civic_identities.count() == 3


def test_one_row_per_label(user):
    identity = CivicIdentity.objects.create(user=user, provider="civic_sip", subject="abc")
    attribute(identity)
    with pytest.raises(IntegrityError), transaction.atomic():
        attribute(identity, value="other@example.com")
    assert identity.attributes.count() == 1


def test_str_shows_provider_and_short_subject_never_values(user):
    identity = CivicIdentity.objects.create(user=user, provider="civic_sip", subject="0x" + "a" * 62)
    row = attribute(identity)
    # Providers and labels by their display names (core/labels.py), never an issuer URL or a raw key.
    assert str(identity) == "Civic SIP: 0xaaaaaa…"
    assert str(CivicIdentity(user=user, provider="idemia", subject="short")) == "IDEMIA: short"
    civic_auth = CivicIdentity(user=user, provider="https://auth.civic.com/oauth/", subject="s")
    assert str(civic_auth) == "Civic Auth: s"
    assert "ann" not in str(row) and "ann" not in repr(row)
    assert str(row) == "Email"


def test_deleting_the_user_deletes_identities_and_attributes(user):
    attribute(CivicIdentity.objects.create(user=user, provider="civic_sip", subject="abc"))
    user.delete()
    assert not CivicIdentity.objects.exists() and not VerifiedAttribute.objects.exists()


def test_exact_match_helper():
    identity = CivicIdentity(provider="civic_sip", subject="AbC")
    assert identity.matches("civic_sip", "AbC")
    assert not identity.matches("civic_sip", "abc") and not identity.matches("Civic_sip", "AbC")


@pytest.mark.parametrize("label, image", [
    ("documents.genericId.image", True), ("idemia.portrait", True), ("idemia.selfieImage", True),
    ("documents.genericId.image_md5", False), ("contact.personal.email", False),
    ("documents.genericId.type", False),
])
def test_image_labels(label, image):
    assert is_image_label(label) is image
