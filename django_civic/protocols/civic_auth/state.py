"""Pending logins of the redirect flow, bound to the user's session (allauth's statekit, for Civic).

The authorization request's ``state``, ``nonce`` and PKCE verifier are kept in a mapping the caller
owns (the Django session), so the callback only completes a login that *this* browser started:

- bounded: at most ``max_pending`` logins wait at once (the oldest is dropped), so a page that starts
  logins in a loop cannot grow the session;
- timestamped: a login older than ``ttl`` seconds is refused as stale;
- single use: the entry is removed when the callback consumes it, whatever happens next;
- compared in constant time, so response timing does not reveal how much of a guessed state matched.

A ``state`` from another session is simply not in this session's mapping, so it fails like a missing one.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from django_civic.protocols.civic_auth.errors import StateError
from django_civic.protocols.civic_auth.pkce import new_verifier, random_token

SESSION_KEY = "django_civic.oidc.pending"


@dataclass(frozen=True)
class PendingLogin:
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str
    next_url: str | None
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "nonce": self.nonce, "code_verifier": self.code_verifier,
                "redirect_uri": self.redirect_uri, "next_url": self.next_url, "created_at": self.created_at}

    @classmethod
    def from_dict(cls, data: Any) -> PendingLogin | None:
        try:
            return cls(state=str(data["state"]), nonce=str(data["nonce"]),
                       code_verifier=str(data["code_verifier"]), redirect_uri=str(data["redirect_uri"]),
                       next_url=data.get("next_url"), created_at=float(data["created_at"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


class StateStore:
    def __init__(self, storage: MutableMapping[str, Any], *, key: str = SESSION_KEY, max_pending: int = 10,
                 ttl: float = 600, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.key = key
        self.max_pending = max_pending
        self.ttl = ttl
        self.clock = clock

    def _load(self) -> list[PendingLogin]:
        raw = self.storage.get(self.key)
        items = [PendingLogin.from_dict(item) for item in raw] if isinstance(raw, list) else []
        return [item for item in items if item is not None]

    def _save(self, items: list[PendingLogin]) -> None:
        # Assign a new list: session backends only notice assignment, not in-place changes.
        if items:
            self.storage[self.key] = [item.to_dict() for item in items]
        else:
            self.storage.pop(self.key, None)

    def begin(self, *, redirect_uri: str, next_url: str | None = None) -> PendingLogin:
        """Create and remember a new pending login; return it (its values go into the auth URL)."""
        now = self.clock()
        items = [item for item in self._load() if now - item.created_at <= self.ttl]
        pending = PendingLogin(state=random_token(), nonce=random_token(), code_verifier=new_verifier(),
                               redirect_uri=redirect_uri, next_url=next_url, created_at=now)
        items.append(pending)
        self._save(items[-self.max_pending:])
        return pending

    def consume(self, state: Any) -> PendingLogin:
        """Remove and return the pending login for ``state``; :class:`StateError` if there is none."""
        if not isinstance(state, str) or not state:
            raise StateError("the callback has no state")
        now = self.clock()
        items = self._load()
        match = None
        remaining = []
        for item in items:
            # Every entry is compared (no early exit) so timing says nothing about which one matched.
            if hmac.compare_digest(item.state.encode(), state.encode()):
                match = item
            else:
                remaining.append(item)
        self._save([item for item in remaining if now - item.created_at <= self.ttl])
        if match is None:
            raise StateError("the login was not started in this browser session, or was already completed")
        if now - match.created_at > self.ttl:
            raise StateError("the login took too long and expired")
        return match
