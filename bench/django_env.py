"""Set up Django for a row: settings, database (in-memory SQLite or the ``civic_bench`` PostgreSQL)."""

from __future__ import annotations

import os
import re

BENCH_DATABASE = "civic_bench"
# Databases the benchmark must never touch: the lead's and every test database.
_FORBIDDEN = re.compile(r"^(django_civic|test_.*|postgres|template\d)$")
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def setup(
    *,
    database: str = "sqlite",
    sandbox_url: str | None = None,
    cache: str = "locmem",
    schema: str = "public",
    extra_schemas: tuple[str, ...] = (),
) -> None:
    """Configure Django with ``bench.settings`` and create and migrate the database.

    Call once per process, before importing models. ``database`` is ``sqlite`` (a fresh in-memory
    database) or ``postgres`` (``civic_bench``, created if missing, in ``schema``; each of
    ``extra_schemas`` becomes a database alias of the same name, migrated too).
    """
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["CIVIC_BENCH_DB"] = database
    os.environ["CIVIC_BENCH_CACHE"] = cache
    if sandbox_url:
        os.environ["CIVIC_BENCH_SANDBOX_URL"] = sandbox_url
    if database == "postgres":
        for name in (schema, *extra_schemas):
            if not _SCHEMA.match(name):
                raise ValueError(f"bad schema name {name!r}")
            ensure_postgres_database(BENCH_DATABASE, name)
        os.environ["CIVIC_BENCH_SCHEMA"] = schema
        os.environ["CIVIC_BENCH_EXTRA_SCHEMAS"] = ",".join(extra_schemas)

    import django

    django.setup()
    migrate("default")
    for name in extra_schemas:
        migrate(name)


def migrate(alias: str = "default") -> None:
    from django.core.management import call_command

    call_command("migrate", database=alias, verbosity=0, interactive=False)


def ensure_postgres_database(name: str, schema: str = "public") -> None:
    """Create the benchmark database (and schema) on 127.0.0.1 if they do not exist yet."""
    if _FORBIDDEN.match(name):
        raise ValueError(f"the benchmark never touches the database {name!r}")
    import psycopg
    from psycopg import sql

    user = os.environ.get("CIVIC_BENCH_PGUSER", "postgres")
    try:
        admin = psycopg.connect(
            host="127.0.0.1", port=5432, user=user, dbname="postgres", autocommit=True, connect_timeout=5
        )
    except psycopg.OperationalError as exc:
        raise RuntimeError(f"PostgreSQL is not reachable at 127.0.0.1:5432 as {user!r}: {exc}") from None
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    if schema != "public":
        with psycopg.connect(host="127.0.0.1", port=5432, user=user, dbname=name, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


def redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping())
    except Exception:  # any failure means: not usable here
        return False
