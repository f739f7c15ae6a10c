"""The four statements of a returning login, as SQL built once per database from the models' metadata.

Every returning login reads its identity with its user, marks the identity's last login, reads the
identity's attributes and marks them verified again. Through the ORM each of these costs 150-500 µs of
query building per call, while the database answers in 10-40 µs: together about a fifth of a login's
server CPU (``docs/performance.md``, row 2). So :func:`~django_civic.identities.record_identity` runs
them here: the SQL the ORM would send, quoted by the database backend, built once per connection; rows
become model instances through ``Model.from_db`` after the converters the ORM applies (the backend's and
each field's ``from_db_value``), so they behave exactly as instances the ORM loaded.

Only these four statements, only for models stored in one table. Everything else (first logins,
races, connecting an account, a user model with multi-table inheritance) stays on the ORM.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

from .models import CivicIdentity, VerifiedAttribute

__all__ = ["find_identity", "read_attributes", "supported", "touch_attributes", "touch_identity"]

Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


def supported() -> bool:
    """Whether the user model keeps all its columns in its own table (no multi-table inheritance)."""
    return _single_table(get_user_model())


def find_identity(provider: str, subject: str) -> list[CivicIdentity]:
    """Identities whose ``(provider, subject)`` the database finds equal, each with its user loaded.

    The database's comparison may ignore case: the caller compares exactly (``CivicIdentity.matches``).
    """
    connection = _connection()
    statements = _statements(connection)
    identities = []
    with connection.cursor() as cursor:
        cursor.execute(statements.find_identity, [provider, subject])
        rows = cursor.fetchall()
    for row in rows:
        identity = statements.identity.instance(connection, row)
        identity.user = statements.user.instance(connection, row, offset=len(statements.identity.fields))
        identities.append(identity)
    return identities


def touch_identity(identity: CivicIdentity, now: datetime) -> None:
    """``UPDATE`` the identity's ``last_login`` and ``updated_at`` to ``now`` (and take its row lock)."""
    connection = _connection()
    statements = _statements(connection)
    stamp = statements.identity.prep("last_login", now, connection)
    with connection.cursor() as cursor:
        cursor.execute(statements.touch_identity, [stamp, stamp, identity.pk])


def read_attributes(identity: CivicIdentity) -> list[VerifiedAttribute]:
    """Every attribute stored for ``identity`` (values stay encrypted until read, as from the ORM)."""
    connection = _connection()
    statements = _statements(connection)
    with connection.cursor() as cursor:
        cursor.execute(statements.read_attributes, [identity.pk])
        rows = cursor.fetchall()
    return [statements.attribute.instance(connection, row) for row in rows]


def touch_attributes(pks: Sequence[int], now: datetime, scope: str) -> None:
    """``UPDATE`` the attributes ``pks``: verified again at ``now``, under ``scope``."""
    if not pks:
        return
    connection = _connection()
    statements = _statements(connection)
    stamp = statements.attribute.prep("last_verified_at", now, connection)
    placeholders = ", ".join(["%s"] * len(pks))
    with connection.cursor() as cursor:
        cursor.execute(f"{statements.touch_attributes} ({placeholders})", [stamp, scope, *pks])


# -- building the statements -----------------------------------------------------------------------

class _Table:
    """One model's table: its quoted names, and how a row of its columns becomes an instance."""

    def __init__(self, model: type[Model], connection: BaseDatabaseWrapper) -> None:
        self.model = model
        self._quote = connection.ops.quote_name
        self.name = self._quote(model._meta.db_table)
        self.fields: tuple[Field, ...] = tuple(model._meta.concrete_fields)
        self.attnames = [field.attname for field in self.fields]
        self.select = ", ".join(f"{self.name}.{self._quote(field.column)}" for field in self.fields)
        self.converters: list[tuple[int, Any, list[Converter]]] = []
        for index, field in enumerate(self.fields):
            column = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                self.converters.append((index, column, found))

    def bare(self, name: str | None = None) -> str:
        """A column (the primary key without ``name``), quoted, without its table (as ``UPDATE`` wants)."""
        meta = self.model._meta
        return self._quote((meta.get_field(name) if name else meta.pk).column)

    def qualified(self, name: str | None = None) -> str:
        return f"{self.name}.{self.bare(name)}"

    def prep(self, name: str, value: Any, connection: BaseDatabaseWrapper) -> Any:
        return self.model._meta.get_field(name).get_db_prep_save(value, connection)

    def instance(self, connection: BaseDatabaseWrapper, row: Sequence[Any], offset: int = 0) -> Any:
        values = list(row[offset:offset + len(self.fields)])
        for index, column, converters in self.converters:
            value = values[index]
            for converter in converters:
                value = converter(value, column, connection)
            values[index] = value
        return self.model.from_db(connection.alias, self.attnames, values)


class _Statements:
    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.identity = identity = _Table(CivicIdentity, connection)
        self.user = user = _Table(get_user_model(), connection)
        self.attribute = attribute = _Table(VerifiedAttribute, connection)
        self.find_identity = (
            f"SELECT {identity.select}, {user.select} FROM {identity.name} "
            f"INNER JOIN {user.name} ON ({identity.qualified('user')} = {user.qualified()}) "
            f"WHERE {identity.qualified('provider')} = %s AND {identity.qualified('subject')} = %s"
        )
        self.touch_identity = (
            f"UPDATE {identity.name} SET {identity.bare('last_login')} = %s, "
            f"{identity.bare('updated_at')} = %s WHERE {identity.bare()} = %s"
        )
        self.read_attributes = (
            f"SELECT {attribute.select} FROM {attribute.name} "
            f"WHERE {attribute.qualified('identity')} = %s"
        )
        # The IN list is completed per call: its length varies.
        self.touch_attributes = (
            f"UPDATE {attribute.name} SET {attribute.bare('last_verified_at')} = %s, "
            f"{attribute.bare('scope')} = %s WHERE {attribute.bare()} IN"
        )


# Per connection object (one per thread and alias), so converters bound to a connection stay with it; and
# per user model, which tests may swap.
_built: weakref.WeakKeyDictionary[BaseDatabaseWrapper, dict[type[Model], _Statements]] = (
    weakref.WeakKeyDictionary())


def _statements(connection: BaseDatabaseWrapper) -> _Statements:
    per_user_model = _built.setdefault(connection, {})
    user_model = get_user_model()
    statements = per_user_model.get(user_model)
    if statements is None:
        statements = per_user_model[user_model] = _Statements(connection)
    return statements


def _connection() -> BaseDatabaseWrapper:
    # The database the ORM would write these models to: every statement here runs in the login's
    # write transaction, so its reads must not go to a replica.
    return connections[router.db_for_write(CivicIdentity)]


def _single_table(model: type[Model]) -> bool:
    own = set(model._meta.concrete_model._meta.local_concrete_fields)
    return all(field in own for field in model._meta.concrete_fields)
