"""record_identity(): upsert, user creation, field sync, signals, refusals (design.md section 4)."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_civic import signals
from django_civic.core.adapter import DefaultCivicAdapter
from django_civic.core.identities import purge_attributes, record_identity, unlink_identity
from django_civic.exceptions import (
    CivicLoginError,
    IdentityLinkedElsewhere,
    InactiveUser,
    InvalidIdentity,
    LoginRefused,
    SignupClosed,
)
from django_civic.models import CivicIdentity, VerifiedAttribute
from django_civic.protocols.sip.types import Attribute

from .conftest import EMAIL, PHONE

pytestmark = pytest.mark.django_db
User = get_user_model()


def login(attributes, subject="user-1", provider="civic_sip", **kwargs):
    return record_identity(provider=provider, subject=subject, attributes=attributes, **kwargs)


class Recorder:
    def __init__(self, *signal_list):
        self.calls = []
        self.signals = signal_list
        for signal in signal_list:
            signal.connect(self.receive, dispatch_uid=id(self))

    def receive(self, signal, **kwargs):
        self.calls.append((signal, kwargs))

    def of(self, signal):
        return [kwargs for sent, kwargs in self.calls if sent is signal]

    def close(self):
        for signal in self.signals:
            signal.disconnect(dispatch_uid=id(self))


@pytest.fixture
def recorder():
    rec = Recorder(signals.identity_created, signals.identity_updated, signals.attributes_changed,
                   signals.identity_unlinked)
    yield rec
    rec.close()


# -- first and later logins ----------------------------------------------------------------------------

def test_first_login_creates_user_identity_and_attributes(make_attributes, recorder):
    result = login(make_attributes(), scope="BASIC_SIGNUP")
    assert result.user_created and result.identity_created and not result.linked_by_email
    user = User.objects.get(pk=result.user.pk)
    assert user.username == "ann"  # the verified email's local part (the adapter's default)
    assert user.email == "ann@example.com"
    assert not user.has_usable_password()
    identity = CivicIdentity.objects.get()
    assert (identity.provider, identity.subject, identity.user_id) == ("civic_sip", "user-1", user.pk)
    assert identity.last_login is not None
    stored = {a.label: a for a in identity.attributes.all()}
    assert stored[EMAIL].value == "ann@example.com" and stored[EMAIL].scope == "BASIC_SIGNUP"
    assert stored[PHONE].verified and stored[PHONE].value_size == len("+1 555 0100")
    assert set(result.changed_labels) == {EMAIL, PHONE}
    created = recorder.of(signals.identity_created)
    assert len(created) == 1 and created[0]["user_created"] is True and created[0]["identity"] == identity
    assert recorder.of(signals.attributes_changed)[0]["labels"] == result.changed_labels
    assert recorder.of(signals.identity_updated) == []


def test_second_login_reuses_user_and_reports_no_change(make_attributes, recorder):
    first = login(make_attributes())
    first_seen = VerifiedAttribute.objects.get(label=EMAIL).first_verified_at
    second = login(make_attributes(), scope="BASIC_SIGNUP")
    assert second.user.pk == first.user.pk and not second.user_created and not second.identity_created
    assert second.changed_labels == ()
    assert User.objects.count() == 1 and CivicIdentity.objects.count() == 1
    email = VerifiedAttribute.objects.get(label=EMAIL)
    assert email.first_verified_at == first_seen and email.last_verified_at > first_seen
    assert email.scope == "BASIC_SIGNUP"
    assert len(recorder.of(signals.identity_updated)) == 1
    assert len(recorder.of(signals.attributes_changed)) == 1  # from the first login only


def test_changed_value_and_validity_are_recorded_and_signalled(make_attributes, recorder):
    login(make_attributes())
    first_seen = VerifiedAttribute.objects.get(label=EMAIL).first_verified_at
    result = login([Attribute(EMAIL, "Ann@Example.com", True, True),
                    Attribute(PHONE, "+1 555 0100", False, True)])
    assert set(result.changed_labels) == {EMAIL, PHONE}
    email = VerifiedAttribute.objects.get(label=EMAIL)
    # A case-only change is still a change (the digest ignores case; the stored value must not).
    assert email.value == "Ann@Example.com" and email.first_verified_at == first_seen
    assert VerifiedAttribute.objects.get(label=PHONE).is_valid is False
    assert recorder.of(signals.attributes_changed)[-1]["labels"] == result.changed_labels


def test_attributes_not_returned_are_kept(make_attributes):
    login(make_attributes(extra={"documents.genericId.number": "X123"}))
    login(make_attributes(phone=None))
    assert set(VerifiedAttribute.objects.values_list("label", flat=True)) == {
        EMAIL, PHONE, "documents.genericId.number"}


def test_result_lists_every_stored_attribute_as_the_database_has_it(make_attributes):
    login(make_attributes(extra={"documents.genericId.number": "X123"}))
    first_seen = VerifiedAttribute.objects.get(label=EMAIL).first_verified_at
    result = login([Attribute(EMAIL, "Ann@Example.com", True, True),
                    Attribute(PHONE, "+1 555 0100", True, True)], scope="BASIC_SIGNUP")
    stored = list(VerifiedAttribute.objects.filter(identity=result.identity).order_by("label"))

    def fields(row):
        return (row.pk, row.label, str(row.value), row.is_valid, row.is_owner, row.scope,
                row.first_verified_at, row.last_verified_at)

    # Kept (not returned this time), rewritten (case change) and touched rows, by label, with their ids.
    assert [fields(row) for row in result.attributes] == [fields(row) for row in stored]
    assert [row.label for row in result.attributes] == sorted([EMAIL, PHONE, "documents.genericId.number"])
    assert next(r for r in result.attributes if r.label == EMAIL).first_verified_at == first_seen


def test_a_returning_login_reads_the_attributes_once(make_attributes):
    login(make_attributes())
    with CaptureQueriesContext(connection) as ctx:
        result = login(make_attributes())
    reads = [q["sql"] for q in ctx.captured_queries
             if q["sql"].startswith("SELECT") and VerifiedAttribute._meta.db_table in q["sql"]]
    assert len(reads) == 1 and len(result.attributes) == 2


def test_invalid_attribute_is_marked_and_never_synced_to_the_user(make_attributes):
    result = login(make_attributes(valid=False))
    assert VerifiedAttribute.objects.get(label=EMAIL).is_valid is False
    assert result.user.email == ""
    result = login([Attribute(EMAIL, "ann@example.com", True, False)], subject="user-2")
    assert result.user.email == ""


def test_user_fields_follow_verified_attributes_on_later_logins(make_attributes, settings):
    user = login(make_attributes()).user
    login(make_attributes(email="new@example.com"))
    user.refresh_from_db()
    assert user.email == "new@example.com"
    # An unverified change does not reach the user.
    login(make_attributes(email="evil@example.com", valid=False))
    user.refresh_from_db()
    assert user.email == "new@example.com"


def test_protected_user_fields_are_never_written(make_attributes, settings):
    settings.CIVIC = {**settings.CIVIC, "USER_FIELD_MAP": {
        "email": EMAIL, "username": EMAIL, "is_staff": "x.staff", "is_superuser": "x.su",
        "first_name": "x.name"}}
    result = login(make_attributes(extra={"x.staff": "true", "x.su": "true", "x.name": "Ann"}))
    user = User.objects.get(pk=result.user.pk)
    assert user.username == "ann" and not user.is_staff and not user.is_superuser  # not the mapped email
    assert user.first_name == "Ann"


def test_values_the_user_field_rejects_are_skipped(make_attributes):
    result = login(make_attributes(email="not an email"))
    assert result.user.email == ""
    assert VerifiedAttribute.objects.get(label=EMAIL).value == "not an email"


def test_username_is_unique_even_when_the_short_hash_is_taken(make_attributes):
    short = hashlib.sha256(b"civic_sip\x00s-3").hexdigest()
    User.objects.create(username=("civic-" + short[:10]).upper())  # taken, case-insensitively
    result = login(make_attributes(email=None, phone=None), subject="s-3")  # no name known: the hash
    assert result.user.username == "civic-" + short[:16]


# -- bounded queries --------------------------------------------------------------------------------

def _labels(count):
    return [Attribute(f"documents.extra.field{i}", f"value {i}", True, True) for i in range(count)]


@pytest.mark.parametrize("phase", ["first login", "same again", "all changed"])
def test_query_count_does_not_depend_on_the_number_of_attributes(phase):
    counts = []
    for n, subject in ((2, "few"), (12, "many")):
        attributes = _labels(n)
        if phase != "first login":
            login(attributes, subject=subject)
        if phase == "all changed":
            attributes = [Attribute(a.label, a.value + " changed", True, True) for a in attributes]
        with CaptureQueriesContext(connection) as ctx:
            login(attributes, subject=subject)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 12


def test_a_returning_login_reads_twice_and_writes_twice(make_attributes):
    """The identity with its user, then its attributes; then the identity's and the unchanged
    attributes' timestamps: four statements, whatever the number of attributes."""
    record_identity(provider="civic_sip", subject="person-1", attributes=make_attributes())
    with CaptureQueriesContext(connection) as ctx:
        result = record_identity(provider="civic_sip", subject="person-1",
                                 attributes=[Attribute(EMAIL, "ann@example.com", True, True)])
    statements = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    kinds = [sql.split()[0] for sql in statements]
    assert kinds.count("SELECT") == 2 and kinds.count("UPDATE") == 2, statements
    assert not result.identity_created and [a.label for a in result.attributes] == [EMAIL, PHONE]


# -- signup policy --------------------------------------------------------------------------------

def test_signup_closed_refuses_new_identities_and_writes_nothing(make_attributes, settings):
    settings.CIVIC = {**settings.CIVIC, "SIGNUP_OPEN": False}
    with pytest.raises(SignupClosed) as info:
        login(make_attributes())
    assert info.value.code == "signup_closed" and info.value.status == 403
    assert not User.objects.exists() and not CivicIdentity.objects.exists()
    assert not VerifiedAttribute.objects.exists()


def test_signup_closed_still_lets_known_identities_in(make_attributes, settings):
    first = login(make_attributes())
    settings.CIVIC = {**settings.CIVIC, "SIGNUP_OPEN": False}
    assert login(make_attributes()).user.pk == first.user.pk


class ClosedForIdemia(DefaultCivicAdapter):
    def is_open_for_signup(self, request, provider, attributes):
        return provider != "idemia"


def test_adapter_decides_signup(make_attributes, settings):
    settings.CIVIC = {**settings.CIVIC, "ADAPTER": f"{__name__}.ClosedForIdemia"}
    with pytest.raises(SignupClosed):
        login(make_attributes(), provider="idemia")
    assert login(make_attributes()).user_created


class RefuseEveryone(DefaultCivicAdapter):
    def pre_login(self, request, user, result):
        raise LoginRefused()


def test_pre_login_refusal_rolls_everything_back(make_attributes, settings):
    settings.CIVIC = {**settings.CIVIC, "ADAPTER": f"{__name__}.RefuseEveryone"}
    with pytest.raises(LoginRefused):
        login(make_attributes())
    assert not User.objects.exists() and not CivicIdentity.objects.exists()


def test_inactive_user_is_refused_and_nothing_changes(make_attributes):
    user = login(make_attributes()).user
    User.objects.filter(pk=user.pk).update(is_active=False)
    with pytest.raises(InactiveUser):
        login(make_attributes(email="changed@example.com"))
    assert VerifiedAttribute.objects.get(label=EMAIL).value == "ann@example.com"
    assert User.objects.get(pk=user.pk).email == "ann@example.com"


# -- identity key ----------------------------------------------------------------------------------

def test_identity_key_is_compared_exactly(make_attributes):
    first = login(make_attributes(), subject="AbC")
    for other in ("abc", "ABC", "AbC "[:3] + "d"):
        assert login(make_attributes(), subject=other).user.pk != first.user.pk
    assert login(make_attributes(), subject="AbC", provider="idemia").user.pk != first.user.pk
    assert CivicIdentity.objects.filter(user=first.user).count() == 1


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (CIVIC_TEST_DB=postgres)")
def test_a_case_insensitive_collation_never_logs_a_case_variant_into_the_account(make_attributes):
    """CVE-2024-32879: the database says "abc" = "AbC"; only the exact comparison in Python stands
    between that and an account takeover. The other spelling is refused, the owner's account untouched."""
    table = connection.ops.quote_name(CivicIdentity._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("CREATE COLLATION civic_test_ci (provider = icu, locale = 'und-u-ks-level2', "
                       "deterministic = false)")
        cursor.execute(f'ALTER TABLE {table} ALTER COLUMN "subject" TYPE varchar(191) COLLATE civic_test_ci')
    first = login(make_attributes(), subject="AbC")
    assert CivicIdentity.objects.filter(subject="abc").count() == 1  # the database matches the variant
    with pytest.raises(CivicLoginError) as refused:
        login(make_attributes(email="mallory@example.com"), subject="abc")
    assert refused.value.code == "identity_conflict" and refused.value.status == 409
    assert list(CivicIdentity.objects.values_list("subject", "user")) == [("AbC", first.user.pk)]
    assert VerifiedAttribute.objects.get(label=EMAIL).value == "ann@example.com"


@pytest.mark.parametrize("provider, subject", [
    ("civic_sip", ""), ("", "x"), ("civic_sip", "x" * 192), ("civic_sip", " x"), ("civic_sip", None),
    (None, "x"),
])
def test_invalid_identity_keys_are_refused(make_attributes, provider, subject):
    with pytest.raises(InvalidIdentity):
        record_identity(provider=provider, subject=subject, attributes=make_attributes())
    assert not User.objects.exists()


@pytest.mark.parametrize("attribute", [Attribute("", "x", True, True), Attribute("a" * 192, "x", True, True),
                                       Attribute("ok", None, True, True)])  # type: ignore[arg-type]
def test_malformed_attributes_are_refused(attribute):
    with pytest.raises(InvalidIdentity):
        login([attribute])
    assert not User.objects.exists()


def test_duplicate_labels_keep_the_last(make_attributes):
    login([Attribute(EMAIL, "first@example.com", True, True),
           Attribute(EMAIL, "last@example.com", True, True)])
    assert VerifiedAttribute.objects.get().value == "last@example.com"


# -- connect to a logged-in user --------------------------------------------------------------------

def test_connect_adds_identity_to_the_given_user(make_attributes, recorder):
    user = User.objects.create(username="existing", email="")
    result = login(make_attributes(), provider="idemia", subject="id-1", user=user)
    assert result.user == user and result.identity_created and not result.user_created
    assert user.civic_identities.count() == 1
    assert recorder.of(signals.identity_created)[0]["user_created"] is False


def test_connect_refuses_an_identity_linked_to_someone_else(make_attributes):
    owner = login(make_attributes()).user
    intruder = User.objects.create(username="intruder")
    with pytest.raises(IdentityLinkedElsewhere) as info:
        login(make_attributes(), user=intruder)
    assert info.value.status == 409
    assert CivicIdentity.objects.get().user == owner and not intruder.civic_identities.exists()


def test_a_user_may_have_several_identities(make_attributes):
    user = login(make_attributes()).user
    login(make_attributes(), provider="https://auth.civic.com/oauth/", subject="sub", user=user)
    assert user.civic_identities.count() == 2


# -- unlink and purge -------------------------------------------------------------------------------

def test_unlink_deletes_identity_and_attributes_and_signals(make_attributes, recorder):
    result = login(make_attributes())
    unlink_identity(result.identity)
    assert not CivicIdentity.objects.exists() and not VerifiedAttribute.objects.exists()
    assert User.objects.filter(pk=result.user.pk).exists()
    sent = recorder.of(signals.identity_unlinked)
    assert len(sent) == 1 and sent[0]["user"] == result.user and sent[0]["identity"].provider == "civic_sip"


def test_purge_attributes(make_attributes, recorder):
    result = login(make_attributes())
    assert purge_attributes(result.identity, [PHONE]) == 1
    assert list(VerifiedAttribute.objects.values_list("label", flat=True)) == [EMAIL]
    assert purge_attributes(result.identity) == 1
    assert purge_attributes(result.identity) == 0
    purged = [c for c in recorder.of(signals.attributes_changed) if c["purged"]]
    assert [c["labels"] for c in purged] == [(PHONE,), (EMAIL,)]


def test_document_images_are_purged_after_the_retention_period(settings):
    from datetime import timedelta

    from django.utils import timezone

    from django_civic.core.identities import purge_document_images

    login([Attribute(EMAIL, "a@example.com", True, True),
           Attribute("documents.genericId.image", "QUJD", True, True),
           Attribute("documents.genericId.image_md5", "abc", True, True),
           Attribute("idemia.portrait", "QUJD", True, True)])
    assert purge_document_images() == 0  # default None: kept
    VerifiedAttribute.objects.update(last_verified_at=timezone.now() - timedelta(days=10))
    settings.CIVIC = {**settings.CIVIC, "DOCUMENT_IMAGE_RETENTION_DAYS": 30}
    assert purge_document_images() == 0
    settings.CIVIC = {**settings.CIVIC, "DOCUMENT_IMAGE_RETENTION_DAYS": 7}
    assert purge_document_images() == 2
    kept = set(VerifiedAttribute.objects.values_list("label", flat=True))
    assert kept == {EMAIL, "documents.genericId.image_md5"}


class PendingApproval(DefaultCivicAdapter):
    def populate_user(self, request, user, provider, subject, attributes):
        super().populate_user(request, user, provider, subject, attributes)
        user.is_active = False


def test_a_user_created_inactive_is_kept_for_approval(make_attributes, settings):
    settings.CIVIC = {**settings.CIVIC, "ADAPTER": f"{__name__}.PendingApproval"}
    result = login(make_attributes())
    assert result.user_created and not User.objects.get(pk=result.user.pk).is_active
    with pytest.raises(InactiveUser):  # the next login meets an existing, disabled account
        login(make_attributes())


def test_generated_usernames_fit_the_user_model():
    from django.db import models

    from django_civic.core.adapter import _username_candidate

    assert _username_candidate(models.EmailField(max_length=254), "abc") == "civic-abc@civic.invalid"
    assert _username_candidate(models.CharField(max_length=8), "abcdef") == "civic-ab"


def test_mapped_fields_the_user_model_lacks_are_ignored(make_attributes, settings):
    field_map = {"nickname": EMAIL, "groups": EMAIL, "email": EMAIL}
    settings.CIVIC = {**settings.CIVIC, "USER_FIELD_MAP": field_map}
    result = login(make_attributes())
    assert result.user.email == "ann@example.com" and not result.user.groups.exists()
