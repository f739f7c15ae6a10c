"""A short-lived, bounded, per-process cache of ``(issuer, sub) -> user`` for bearer authentication.

Why: once the provider's keys are cached, most of the cost of an API request authenticated with a Civic
access token is the database lookup of the identity and its user. This cache skips that lookup for
``CIVIC["AUTH"]["BEARER_USER_CACHE_SECONDS"]`` (default 30; 0 disables it). The token itself is still
verified on every request: only the mapping of a verified ``(iss, sub)`` to a user is remembered.

What it costs in freshness (documented in SECURITY.md): a user deactivated or unlinked by *another*
process keeps bearer access in this process until the entry expires. In this process the change takes
effect at once, because entries are dropped on

- ``post_save``/``post_delete`` of the user model (every entry of that user) and of ``CivicIdentity``
  (its key), both at once and again when the transaction commits (so a request that read the old row
  in between cannot leave it behind);
- ``setting_changed`` of ``CIVIC`` or ``AUTH_USER_MODEL`` (everything).

Changes that send no signal (``QuerySet.update()``, raw SQL, another process) are seen after the TTL.

Callers never get the cached instance itself, only a copy, so one request cannot change another's user.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_delete, post_save

from django_civic.models import CivicIdentity

__all__ = ["MAX_ENTRIES", "BearerUserCache", "bearer_users"]

#: Most entries kept; when full, the oldest goes first (it is also the one closest to expiry).
MAX_ENTRIES = 10_000


class BearerUserCache:
    """Thread-safe TTL + size-bounded map of ``(issuer, subject)`` to a user instance."""

    def __init__(self, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._lock = threading.Lock()
        # key -> (expires_at, user); insertion order is age order (a refreshed key is re-inserted).
        self._entries: OrderedDict[tuple[str, str], tuple[float, Any]] = OrderedDict()
        self._keys_of_user: dict[Any, set[tuple[str, str]]] = {}
        # Bumped by every invalidation: a lookup that started before one must not store what it read.
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def generation(self) -> int:
        return self._generation

    def get(self, issuer: str, subject: str) -> Any | None:
        """A copy of the cached user, or None when absent or expired."""
        key = (issuer, subject)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires_at, user = entry
            if self.clock() >= expires_at:
                self._remove(key)
                return None
        return _copy(user)

    def put(self, issuer: str, subject: str, user: Any, ttl: float, generation: int) -> None:
        """Remember ``user`` for ``ttl`` seconds, unless something was invalidated since ``generation``
        (read before the database lookup whose result this is)."""
        if ttl <= 0:
            return
        key = (issuer, subject)
        stored = _copy(user)  # the caller goes on using its instance; ours stays untouched
        with self._lock:
            if generation != self._generation:
                return
            self._remove(key)
            self._entries[key] = (self.clock() + ttl, stored)
            self._keys_of_user.setdefault(stored.pk, set()).add(key)
            while len(self._entries) > self.max_entries:
                self._remove(next(iter(self._entries)))

    def forget_user(self, pk: Any) -> None:
        with self._lock:
            self._generation += 1
            for key in list(self._keys_of_user.get(pk, ())):
                self._remove(key)

    def forget_key(self, issuer: str, subject: str) -> None:
        with self._lock:
            self._generation += 1
            self._remove((issuer, subject))

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._keys_of_user.clear()

    def _remove(self, key: tuple[str, str]) -> None:  # with the lock held
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        pk = entry[1].pk
        keys = self._keys_of_user.get(pk)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._keys_of_user[pk]


bearer_users = BearerUserCache()


def _copy(instance: Any) -> Any:
    """A model instance with its own ``__dict__`` and a fresh ``_state`` (no cached relations or
    prefetches). Field values are shared, as ``copy.copy`` shares them: a user model's are scalars, and a
    mutable one (a ``JSONField``'s dict) would have to be copied by whoever changes it in place. Cheaper than
    ``copy.copy`` or ``Model.__getstate__``, which cost as much as verifying the token's claims."""
    clone = instance.__class__.__new__(instance.__class__)
    clone.__dict__.update(instance.__dict__)
    clone.__dict__.pop("_prefetched_objects_cache", None)
    clone._state = ModelState()
    clone._state.db, clone._state.adding = instance._state.db, instance._state.adding
    return clone


def _now_and_on_commit(forget: Callable[[], None], using: str | None) -> None:
    forget()
    # A request that read the old row between the save and the commit would store it again: forget
    # once more when the change is visible to everyone (runs at once outside a transaction).
    transaction.on_commit(forget, using=using)


def _user_changed(sender: Any, instance: Any, using: str | None = None, **kwargs: Any) -> None:
    pk = instance.pk
    if pk is None:  # post_delete clears the pk only after the signal; be safe anyway
        bearer_users.clear()
        return
    _now_and_on_commit(lambda: bearer_users.forget_user(pk), using)


def _identity_changed(sender: Any, instance: CivicIdentity, using: str | None = None, **kwargs: Any) -> None:
    issuer, subject, user_id = instance.provider, instance.subject, instance.user_id

    def forget() -> None:
        # The identity may have moved to another user, or its key changed: drop both sides.
        bearer_users.forget_key(issuer, subject)
        if user_id is not None:
            bearer_users.forget_user(user_id)

    _now_and_on_commit(forget, using)


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("CIVIC", "AUTH_USER_MODEL"):
        bearer_users.clear()


# The user model by its "app_label.Model" name: Django resolves it once the app registry is ready.
post_save.connect(_user_changed, sender=settings.AUTH_USER_MODEL, dispatch_uid="civic_bearer_user_saved")
post_delete.connect(_user_changed, sender=settings.AUTH_USER_MODEL, dispatch_uid="civic_bearer_user_deleted")
post_save.connect(_identity_changed, sender=CivicIdentity, dispatch_uid="civic_bearer_identity_saved")
post_delete.connect(_identity_changed, sender=CivicIdentity, dispatch_uid="civic_bearer_identity_deleted")
setting_changed.connect(_settings_changed, dispatch_uid="civic_bearer_settings")
