"""login_sql: the returning login's four statements give what the ORM gives, and touch only their rows.

Runs on SQLite and, under ``make test-postgres``, on PostgreSQL: the SQL is built per backend.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User as DjangoUser
from django.db import connection, models
from django.test.utils import CaptureQueriesContext, isolate_apps
from django.utils import timezone

from django_civic import login_sql
from django_civic.fields import Ciphertext
from django_civic.identities import record_identity
from django_civic.models import CivicIdentity, VerifiedAttribute
from django_civic.sip.types import Attribute

from .conftest import EMAIL, PHONE

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def two_identities(make_attributes):
    def login(subject, email):
        return record_identity(provider="civic_sip", subject=subject, attributes=make_attributes(email=email),
                               scope="BASIC_SIGNUP").identity

    return login("person-1", "one@example.com"), login("person-2", "two@example.com")


def concrete_values(instance):
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_find_identity_loads_the_same_identity_and_user_as_the_orm(two_identities):
    found = login_sql.find_identity("civic_sip", "person-1")
    expected = CivicIdentity.objects.select_related("user").get(subject="person-1")
    assert len(found) == 1
    identity = found[0]
    assert concrete_values(identity) == concrete_values(expected)
    assert concrete_values(identity.user) == concrete_values(expected.user)
    assert identity.last_login.tzinfo is not None and identity.user.date_joined.tzinfo is not None
    assert not identity._state.adding and identity._state.db == expected._state.db
    # The user came with the identity: reading it runs no query.
    with CaptureQueriesContext(connection) as ctx:
        assert identity.user.get_username() == expected.user.get_username()
    assert ctx.captured_queries == []


@pytest.mark.parametrize("provider, subject", [("civic_sip", "nobody"), ("idemia", "person-1"),
                                               ("civic_sip", "person-1 "), ("civic_sip", "")])
def test_find_identity_finds_nothing_for_another_key(two_identities, provider, subject):
    assert login_sql.find_identity(provider, subject) == []


def test_read_attributes_loads_the_same_rows_as_the_orm_without_decrypting(two_identities):
    identity = two_identities[0]
    rows = sorted(login_sql.read_attributes(identity), key=lambda a: a.label)
    expected = list(VerifiedAttribute.objects.filter(identity=identity).order_by("label"))
    assert [r.label for r in rows] == [EMAIL, PHONE]
    # Loaded, not decrypted: the slot holds the ciphertext until the value is read.
    assert all(isinstance(r.__dict__["value"], Ciphertext) for r in rows)
    assert [concrete_values(r) for r in rows] == [concrete_values(e) for e in expected]
    assert rows[0].value == "one@example.com"


def test_touch_identity_updates_only_that_identity(two_identities):
    first, second = two_identities
    before = CivicIdentity.objects.get(pk=second.pk)
    later = timezone.now() + timedelta(minutes=5)
    login_sql.touch_identity(first, later)
    touched = CivicIdentity.objects.get(pk=first.pk)
    assert touched.last_login == later and touched.updated_at == later
    assert touched.created_at == first.created_at and touched.user_id == first.user_id
    assert concrete_values(CivicIdentity.objects.get(pk=second.pk)) == concrete_values(before)


def test_touch_attributes_updates_only_the_given_rows(two_identities):
    first = two_identities[0]
    email = VerifiedAttribute.objects.get(identity=first, label=EMAIL)
    others = VerifiedAttribute.objects.exclude(pk=email.pk).order_by("pk")
    untouched = [concrete_values(a) for a in others]
    later = timezone.now() + timedelta(minutes=5)
    login_sql.touch_attributes([email.pk], later, "PROOF_OF_IDENTITY")
    touched = VerifiedAttribute.objects.get(pk=email.pk)
    assert touched.last_verified_at == later and touched.scope == "PROOF_OF_IDENTITY"
    assert touched.first_verified_at == email.first_verified_at and touched.value == "one@example.com"
    assert [concrete_values(a) for a in others.all()] == untouched


def test_touching_no_attributes_runs_no_statement():
    with CaptureQueriesContext(connection) as ctx:
        login_sql.touch_attributes([], timezone.now(), "")
    assert ctx.captured_queries == []


def test_a_returning_login_runs_four_statements_of_its_own(make_attributes):
    record_identity(provider="civic_sip", subject="person-1", attributes=make_attributes())
    with CaptureQueriesContext(connection) as ctx:
        result = record_identity(provider="civic_sip", subject="person-1",
                                 attributes=[Attribute(EMAIL, "ann@example.com", True, True)])
    statements = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    kinds = [sql.split()[0] for sql in statements]
    assert kinds.count("SELECT") == 2 and kinds.count("UPDATE") == 2, statements
    assert not result.identity_created and [a.label for a in result.attributes] == [EMAIL, PHONE]


def test_the_user_model_must_keep_its_columns_in_one_table():
    assert login_sql.supported()
    assert login_sql._single_table(DjangoUser)


@isolate_apps("django_civic")
def test_a_user_model_with_multi_table_inheritance_stays_on_the_orm():
    class StaffMember(DjangoUser):
        badge = models.CharField(max_length=10)

        class Meta:
            app_label = "django_civic"

    # Its username, password... live in auth_user, not in its own table: one SELECT could not load it.
    assert not login_sql._single_table(StaffMember)


def test_without_support_a_returning_login_finds_its_identity_through_the_orm(make_attributes, monkeypatch):
    first = record_identity(provider="civic_sip", subject="person-1", attributes=make_attributes())
    monkeypatch.setattr(login_sql, "supported", lambda: False)
    monkeypatch.setattr(login_sql, "find_identity", lambda *args: pytest.fail("the SQL path was used"))
    again = record_identity(provider="civic_sip", subject="person-1", attributes=make_attributes())
    assert again.identity.pk == first.identity.pk and again.user.pk == first.user.pk
    assert not again.identity_created
