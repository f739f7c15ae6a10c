"""Row 7's data sets: N people, each a user with a Civic identity and 2 verified attributes, in PostgreSQL.

Generated inside the database with ``INSERT ... SELECT generate_series`` (a million people take a minute
or two rather than hours of ORM saves): every row gets the same precomputed ciphertext and a unique
digest, except one person in the middle of the table, whose email is real (encrypted and digested by
django_civic itself) so that the admin's exact search has something to find. A data set is reused by
later runs when its ``bench_scale_meta`` row says it was built by this version of the generator.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

GENERATOR_VERSION = 1
EMAIL = "contact.personal.email"
PHONE = "contact.personal.phoneNumber"


@dataclass
class DataSet:
    alias: str
    people: int
    search_email: str
    generated: bool
    seconds: float


def _search_index(people: int) -> int:
    return people // 2 + 1


def search_email(people: int) -> str:
    return f"person-{_search_index(people)}@bench.example"


# The columns this generator fills; any other NOT NULL column without a default means the models
# changed under it, which must be a clear error rather than a failed INSERT halfway through.
_COLUMNS = {
    "auth_user": {
        "id",
        "password",
        "last_login",
        "is_superuser",
        "username",
        "first_name",
        "last_name",
        "email",
        "is_staff",
        "is_active",
        "date_joined",
    },
    "django_civic_civicidentity": {
        "id",
        "user_id",
        "provider",
        "subject",
        "created_at",
        "updated_at",
        "last_login",
    },
    "django_civic_verifiedattribute": {
        "id",
        "identity_id",
        "label",
        "value",
        "value_digest",
        "value_size",
        "is_valid",
        "is_owner",
        "scope",
        "first_verified_at",
        "last_verified_at",
    },
}


def _check_models() -> None:
    from django.contrib.auth import get_user_model

    from django_civic.models import CivicIdentity, VerifiedAttribute

    for model in (get_user_model(), CivicIdentity, VerifiedAttribute):
        table = model._meta.db_table
        if table not in _COLUMNS:
            raise RuntimeError(
                f"the scale data generator does not know the table {table!r} (custom user model?)"
            )
        missing = {f.column for f in model._meta.concrete_fields if not f.null} - _COLUMNS[table]
        if missing:
            raise RuntimeError(f"bench/scale_data.py must learn the new columns {sorted(missing)} of {table}")


def ensure(alias: str, people: int, log: Callable[[str], None]) -> DataSet:
    """The data set of ``people`` people in database ``alias``: reused if present, else generated."""
    from django.db import connections

    _check_models()
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_scale_meta (version integer, people integer)")
        cursor.execute("SELECT version, people FROM bench_scale_meta")
        if cursor.fetchall() == [(GENERATOR_VERSION, people)]:
            log(f"{alias}: reusing the data set of {people:,} people")
            return DataSet(alias, people, search_email(people), generated=False, seconds=0.0)

    log(f"{alias}: generating {people:,} people (users, identities, 2 attributes each)")
    started = time.monotonic()
    _generate(alias, people)
    seconds = time.monotonic() - started
    log(f"{alias}: generated {people:,} people in {seconds:.0f} s")
    return DataSet(alias, people, search_email(people), generated=True, seconds=seconds)


def _generate(alias: str, people: int) -> None:
    from django.db import connections, transaction

    from django_civic.core.encryption import attribute_digest, encrypt

    filler_email = encrypt("someone@bench.example")
    filler_phone = encrypt("+15550100000")
    target = _search_index(people)
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(
            "TRUNCATE auth_user, django_civic_civicidentity, django_civic_verifiedattribute, "
            "django_session RESTART IDENTITY CASCADE"
        )
        cursor.execute("DELETE FROM bench_scale_meta")
        cursor.execute(
            "INSERT INTO auth_user (id, password, last_login, is_superuser, username, first_name, last_name,"
            " email, is_staff, is_active, date_joined)"
            " SELECT i, '!', NULL, false, 'person-' || i, '', '', 'person-' || i || '@bench.example', false,"
            " true, now() - make_interval(secs => i) FROM generate_series(1, %s) AS i",
            [people],
        )
        cursor.execute(
            "INSERT INTO django_civic_civicidentity (id, user_id, provider, subject, created_at, updated_at,"
            " last_login)"
            " SELECT i, i, 'civic_sip', encode(sha256(('subject-' || i)::bytea), 'hex'),"
            " now() - make_interval(secs => i), now() - make_interval(secs => i),"
            " now() - make_interval(secs => i)"
            " FROM generate_series(1, %s) AS i",
            [people],
        )
        cursor.execute(
            "INSERT INTO django_civic_verifiedattribute (id, identity_id, label, value, value_digest,"
            " value_size, is_valid, is_owner, scope, first_verified_at, last_verified_at)"
            " SELECT 2 * i - 1, i, %s, %s, encode(sha256(('email-' || i)::bytea), 'hex'), 24, true, true,"
            " 'BASIC_SIGNUP', now(), now() FROM generate_series(1, %s) AS i"
            " UNION ALL"
            " SELECT 2 * i, i, %s, %s, encode(sha256(('phone-' || i)::bytea), 'hex'), 12, true, true,"
            " 'BASIC_SIGNUP', now(), now() FROM generate_series(1, %s) AS i",
            [EMAIL, filler_email, people, PHONE, filler_phone, people],
        )
        # The one person the search looks for: a real encrypted email and its real digest.
        email = search_email(people)
        cursor.execute(
            "UPDATE django_civic_verifiedattribute SET value = %s, value_digest = %s,"
            " value_size = %s WHERE id = %s",
            [encrypt(email), attribute_digest(EMAIL, email), len(email), 2 * target - 1],
        )
        for table in ("auth_user", "django_civic_civicidentity", "django_civic_verifiedattribute"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), " f"(SELECT max(id) FROM {table}))"
            )
        cursor.execute(
            "INSERT INTO bench_scale_meta (version, people) VALUES (%s, %s)", [GENERATOR_VERSION, people]
        )
    with connections[alias].cursor() as cursor:
        # Fresh statistics: the planner (and the admin's row estimate) must see the real table sizes.
        cursor.execute("ANALYZE auth_user, django_civic_civicidentity, django_civic_verifiedattribute")
