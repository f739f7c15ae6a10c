"""Admin: masked values, exact search through the digest, filters, read-only, actions, bounded queries."""

from __future__ import annotations

import base64

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_civic import signals
from django_civic.admin.identity import (
    CivicIdentityAdmin,
    CivicIdentityInline,
    _display_queryset,
    attach_identities_to_user_admin,
    mask_value,
)
from django_civic.core.identities import record_identity
from django_civic.models import CivicIdentity, VerifiedAttribute
from django_civic.protocols.sip.types import Attribute

from .conftest import EMAIL, PHONE

pytestmark = pytest.mark.django_db
User = get_user_model()
CHANGELIST = "admin:django_civic_civicidentity_changelist"
IMAGE_LABEL = "documents.genericId.image"
IMAGE = base64.b64encode(b"\xff\xd8JPEG" + bytes(12 * 1024)).decode()


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff(client):
    user = User.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


def make_identity(n=0, *, provider="civic_sip", email=None, phone="+44 7700 900123", valid=True, extra=None):
    attributes = [Attribute(EMAIL, email or f"person{n}@example.com", valid, True),
                  Attribute(PHONE, phone, valid, True)]
    for label, value in (extra or {}).items():
        attributes.append(Attribute(label, value, True, True))
    return record_identity(provider=provider, subject=f"subject-{n:04d}-long-enough", attributes=attributes)


# -- masking ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("label, value, size, shown", [
    (EMAIL, "ann.smith@example.com", 21, "a***@example.com"),
    ("oidc.email", "Bob@Example.org", 15, "B***@Example.org"),
    (PHONE, "+44 7700 900123", 15, "***23"),
    (IMAGE_LABEL, "irrelevant", 16 * 1024, "[image, 12 KB]"),  # base64 text of a 12 KB picture
    ("idemia.portrait", None, 4 * 1024 * 1024, "[image, 3.0 MB]"),
    ("documents.genericId.number", "P1234567", 8, "P***7"),
    ("documents.genericId.name", "Al", 2, "***"),
    ("documents.genericId.type", "Passport", 8, "Passport"),
    ("verifications.levels.CIVIC:IAL1", "CIVIC:IAL1", 10, "CIVIC:IAL1"),
    ("documents.genericId.dateOfBirth", None, 9000, "[value, 9 KB]"),
])
def test_mask_value(label, value, size, shown):
    assert mask_value(label, value, size) == shown


# -- changelist ---------------------------------------------------------------------------------------

def test_changelist_shows_masked_email_never_the_value(staff):
    make_identity(1, email="secret.person@example.com")
    response = staff.get(reverse(CHANGELIST))
    assert response.status_code == 200
    body = response.content.decode()
    assert "s***@example.com" in body and "secret.person" not in body
    assert "subject-" in body and "900123" not in body


def _changelist_queries(client, count):
    start = CivicIdentity.objects.count()
    for n in range(start, start + count):
        make_identity(n, extra={IMAGE_LABEL: IMAGE})
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    return ctx.captured_queries


def test_changelist_query_count_does_not_grow_with_rows(staff):
    staff.get(reverse(CHANGELIST))  # warm the provider filter cache and the session
    few = _changelist_queries(staff, 3)
    many = _changelist_queries(staff, 27)  # 30 in total
    assert len(few) == len(many), [q["sql"][:120] for q in many]
    # No full-table count beside the page, and image ciphertexts are not fetched for the list.
    sql = " ".join(q["sql"] for q in many)
    assert sql.count("COUNT(") <= 1
    attribute_queries = [q["sql"] for q in many if "django_civic_verifiedattribute" in q["sql"]]
    assert len(attribute_queries) == 1 and "contact.personal.email" in attribute_queries[0]


def test_list_queryset_never_fetches_large_values():
    make_identity(1, extra={IMAGE_LABEL: IMAGE})
    rows = {a.label: a for a in _display_queryset(VerifiedAttribute.objects.all())}
    assert rows[IMAGE_LABEL].display_value is None
    assert "value" in rows[IMAGE_LABEL].get_deferred_fields()
    assert rows[EMAIL].display_value.decrypt() == "person1@example.com"


# -- search ----------------------------------------------------------------------------------------

def _found(client, term):
    response = client.get(reverse(CHANGELIST), {"q": term})
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


def test_search_by_exact_email_in_any_case(staff):
    target = make_identity(1, email="Findme@Example.com").identity
    make_identity(2)
    assert _found(staff, "  findme@example.COM ") == {target.pk}
    # Exact match only: no substring search over ciphertext. (Not "findme": that is now the user's
    # username, made from the verified email's local part, and usernames are searched exactly.)
    assert _found(staff, "findme@example") == set()


def test_search_by_phone_in_any_format(staff):
    target = make_identity(1, phone="+44 7700 900999").identity
    make_identity(2)
    assert _found(staff, "+447700900999") == {target.pk}
    assert _found(staff, "+44 (7700) 900-999") == {target.pk}


def test_search_by_subject_and_username(staff):
    first = make_identity(1)
    make_identity(2)
    assert _found(staff, "subject-0001-long-enough") == {first.identity.pk}
    assert _found(staff, first.user.username) == {first.identity.pk}
    assert _found(staff, "subject-0001") == set()


def test_search_ignores_unverified_lookups_of_other_values(staff):
    make_identity(1, email="someone@example.com")
    assert _found(staff, "someone@example.net") == set()


DOB_LABEL = "documents.genericId.dateOfBirth"
NUMBER_LABEL = "documents.genericId.number"


@pytest.fixture
def viewer(client):
    """Staff with the view permission on identities only: the attacker of issue 13 item 4."""
    from django.contrib.auth.models import Permission

    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_civicidentity"))
    client.force_login(user)
    return client


def test_search_is_no_oracle_for_masked_values(viewer, record_figure):
    """Issue 13 item 4: search matched the digest of every attribute, so a viewer recovered a masked
    date of birth by searching every date, and confirmed a guessed document number. Only email and
    phone (and subject, username) are searchable; every other value is found by nothing."""
    from datetime import date, timedelta

    target = make_identity(1, email="dob.owner@example.com",
                           extra={DOB_LABEL: "1990-02-14", NUMBER_LABEL: "P1234567"}).identity
    make_identity(2, extra={DOB_LABEL: "1985-07-01", NUMBER_LABEL: "X7654321"})
    guesses = [(date(1990, 1, 1) + timedelta(days=n)).isoformat() for n in range(90)]  # contains the DOB
    guesses += ["P1234567", "p1234567", " P1234567 ", "X7654321"]
    found = {guess for guess in guesses if _found(viewer, guess)}
    assert found == set()
    # Control: what the docs promise is still found, by the same viewer.
    assert _found(viewer, "DOB.owner@example.com") == {target.pk}
    record_figure("admin_oracle.identity_search", guesses=len(guesses), values_confirmed=len(found),
                  outcome="no match on any value but email, phone, subject and username")


@pytest.mark.parametrize("param", ["attributes__value_digest", "attributes__value_digest__in",
                                   "attributes__value_size", "attributes__label",
                                   "user__password__startswith", "user__email"])
def test_changelist_refuses_lookups_it_does_not_offer(viewer, param):
    """No filtering by a query parameter the admin does not list: Django's lookup_allowed refuses it."""
    make_identity(1, extra={DOB_LABEL: "1990-02-14"})
    response = viewer.get(reverse(CHANGELIST), {param: "x"})
    assert response.status_code == 400 or "e=1" in response.get("Location", ""), param


def test_search_matches_the_subject_and_username_exactly(staff):
    first = make_identity(1)
    assert _found(staff, "SUBJECT-0001-LONG-ENOUGH") == set()
    assert _found(staff, first.user.username.upper()) == set()


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (CIVIC_TEST_DB=postgres)")
def test_search_stays_exact_under_a_case_insensitive_collation(staff):
    """A database whose "=" ignores case (a nondeterministic collation here; MariaDB's default ones)
    finds ``ABC`` for ``abc``: the admin keeps only the exact match."""
    table = connection.ops.quote_name(CivicIdentity._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("CREATE COLLATION civic_admin_ci (provider = icu, locale = 'und-u-ks-level2', "
                       "deterministic = false)")
        cursor.execute(f'ALTER TABLE {table} ALTER COLUMN "subject" TYPE varchar(191) COLLATE civic_admin_ci')
    target = make_identity(1)
    assert CivicIdentity.objects.filter(subject="SUBJECT-0001-LONG-ENOUGH").exists()  # the database's view
    assert _found(staff, "SUBJECT-0001-LONG-ENOUGH") == set()
    assert _found(staff, "subject-0001-long-enough") == {target.identity.pk}


# -- filters ---------------------------------------------------------------------------------------

def test_filter_by_provider(staff):
    sip = make_identity(1).identity
    idemia = make_identity(2, provider="idemia").identity
    assert _found_filtered(staff, provider="idemia") == {idemia.pk}
    assert _found_filtered(staff, provider="civic_sip") == {sip.pk}


def test_filter_by_validity(staff):
    good = make_identity(1).identity
    bad = make_identity(2, valid=False).identity
    assert _found_filtered(staff, validity="verified_email") == {good.pk}
    assert _found_filtered(staff, validity="no_verified_email") == {bad.pk}
    assert _found_filtered(staff, validity="invalid") == {bad.pk}


def _found_filtered(client, **params):
    response = client.get(reverse(CHANGELIST), params)
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


# -- change page: read-only, masked inline --------------------------------------------------------------

def test_change_page_is_read_only_and_masks_attributes(staff):
    result = make_identity(1, email="inline.person@example.com", extra={IMAGE_LABEL: IMAGE})
    url = reverse("admin:django_civic_civicidentity_change", args=[result.identity.pk])
    response = staff.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert "i***@example.com" in body and "inline.person" not in body
    assert "[image, 12 KB]" in body and IMAGE[:40] not in body
    assert "***23" in body and "900123" not in body
    # Nothing can be changed or added through the admin.
    assert staff.post(url, {"subject": "hijack"}).status_code == 403
    assert CivicIdentity.objects.get(pk=result.identity.pk).subject == "subject-0001-long-enough"
    assert staff.get(reverse("admin:django_civic_civicidentity_add")).status_code == 403


# -- actions -----------------------------------------------------------------------------------------

def _action(client, action, identities):
    return client.post(reverse(CHANGELIST), {
        "action": action, "_selected_action": [i.pk for i in identities], "index": 0})


def test_unlink_action_deletes_identities_and_signals(staff):
    received = []
    signals.identity_unlinked.connect(lambda **kw: received.append(kw["identity"].subject), weak=False,
                                      dispatch_uid="t-unlink")
    try:
        first, second, kept = (make_identity(n) for n in range(3))
        response = _action(staff, "unlink_selected", [first.identity, second.identity])
        assert response.status_code == 302
    finally:
        signals.identity_unlinked.disconnect(dispatch_uid="t-unlink")
    assert list(CivicIdentity.objects.values_list("pk", flat=True)) == [kept.identity.pk]
    assert sorted(received) == sorted([first.identity.subject, second.identity.subject])
    assert User.objects.filter(pk=first.user.pk).exists()  # the user stays


def test_purge_action_removes_attributes_only(staff):
    target, other = make_identity(1), make_identity(2)
    assert _action(staff, "purge_selected_attributes", [target.identity]).status_code == 302
    assert not VerifiedAttribute.objects.filter(identity=target.identity).exists()
    assert VerifiedAttribute.objects.filter(identity=other.identity).count() == 2
    assert CivicIdentity.objects.filter(pk=target.identity.pk).exists()


def test_actions_need_delete_permission(client):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_civicidentity"))
    client.force_login(viewer)
    target = make_identity(1)
    assert client.get(reverse(CHANGELIST)).status_code == 200
    _action(client, "unlink_selected", [target.identity])
    _action(client, "purge_selected_attributes", [target.identity])
    assert VerifiedAttribute.objects.filter(identity=target.identity).count() == 2


# -- the user admin ----------------------------------------------------------------------------------

def test_user_admin_shows_identities_inline(staff):
    result = make_identity(1)
    response = staff.get(reverse("admin:auth_user_change", args=[result.user.pk]))
    assert response.status_code == 200
    assert "subject-" in response.content.decode()
    assert any(isinstance(i, CivicIdentityInline) for i in
               admin.site.get_model_admin(User).get_inline_instances(response.wsgi_request))


def test_attach_to_user_admin_only_when_registered():
    site = admin.AdminSite(name="other")
    assert attach_identities_to_user_admin(site) is False
    assert not site.is_registered(User)
    site.register(User, UserAdmin)
    assert attach_identities_to_user_admin(site) is True
    assert attach_identities_to_user_admin(site) is True  # idempotent
    inlines = type(site.get_model_admin(User)).inlines
    assert inlines.count(CivicIdentityInline) == 1 and issubclass(type(site.get_model_admin(User)), UserAdmin)


def test_identity_admin_is_registered():
    assert isinstance(admin.site.get_model_admin(CivicIdentity), CivicIdentityAdmin)
    assert not admin.site.is_registered(VerifiedAttribute)


def test_counts_stop_at_the_cap(staff, monkeypatch):
    from django_civic.admin.identity import LargeTablePaginator

    for n in range(5):
        make_identity(n)
    monkeypatch.setattr(LargeTablePaginator, "COUNT_CAP", 3)
    response = staff.get(reverse(CHANGELIST), {"provider": "civic_sip"})
    assert response.context["cl"].result_count == 3
    unfiltered = staff.get(reverse(CHANGELIST))
    assert unfiltered.context["cl"].result_count == 3
    monkeypatch.setattr(LargeTablePaginator, "COUNT_CAP", 10)
    assert staff.get(reverse(CHANGELIST)).context["cl"].result_count == 5  # exact below the cap
    assert LargeTablePaginator(CivicIdentity.objects.filter(provider="idemia").order_by("pk"), 10).count == 0


# -- verification at a glance (issue 15) ------------------------------------------------------------

def test_users_changelist_shows_verification_with_filters(staff):
    from django.utils import timezone

    from django_civic.models import ProofingSession

    sip = make_identity(1).user                                   # Civic SIP, verified email
    both = make_identity(2, provider="https://auth.civic.com/oauth/", valid=False).user
    record_identity(provider="civic_sip", subject="sip-of-2", attributes=[], user=both)
    ProofingSession.objects.create(user=both, status=ProofingSession.Status.VERIFIED,
                                   level_of_assurance="LOA3", expires_at=timezone.now(),
                                   completed_at=timezone.now())
    url = reverse("admin:auth_user_changelist")
    body = staff.get(url).content.decode()
    assert "Civic Auth, Civic SIP</span><br><small class=\"civic-facts\">LOA3</small>" in body
    assert "Civic SIP</span><br><small class=\"civic-facts\">email ✓</small>" in body
    assert "https://auth.civic.com" not in body

    def listed(**query):
        response = staff.get(url, query)
        assert response.status_code == 200
        return {user.pk for user in response.context["cl"].result_list}

    assert listed(civic_provider="civic_auth") == {both.pk}
    assert listed(civic_provider="civic_sip") == {sip.pk, both.pk}
    assert listed(civic_verified_email="yes") == {sip.pk}
    assert listed(civic_loa="LOA3") == {both.pk}
    admin_user = User.objects.get(username="admin")
    assert listed(civic_provider="none") == listed(civic_loa="none") - {sip.pk} == {admin_user.pk}


def test_identity_pages_name_the_provider_once_and_each_label_once(staff):
    result = make_identity(1, provider="https://auth.civic.com/oauth/",
                           extra={"documents.genericId.dateOfBirth": "1984-11-23"})
    listing = staff.get(reverse(CHANGELIST)).content.decode()
    assert "Civic Auth" in listing and "https://auth.civic.com/oauth/" not in listing
    url = reverse("admin:django_civic_civicidentity_change", args=[result.identity.pk])
    page = staff.get(url).content.decode()
    assert "https://auth.civic.com/oauth/" not in page.split("<title>")[1].split("</title>")[0]
    assert page.count("Date of birth") == 1  # the row's own name, no second label column
