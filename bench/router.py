"""Route every query to the database alias chosen for the current block (row 7 keeps a 10k and a 1M
data set side by side, in two PostgreSQL schemas, and serves the same admin page from each in turn)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_current: ContextVar[str] = ContextVar("bench_database", default="default")


@contextmanager
def use_database(alias: str) -> Iterator[None]:
    token = _current.set(alias)
    try:
        yield
    finally:
        _current.reset(token)


class ChosenDatabaseRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str:
        return _current.get()

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return _current.get()

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return True
