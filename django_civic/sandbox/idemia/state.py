"""In-memory state of the IDEMIA sandbox: access tokens, IPA sessions, GIPS identities, counters.

One process-wide :data:`store`, guarded by a lock (the sandbox serves requests on several threads).
``reset()`` (registered with the control API) empties it between tests.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from django_civic.core.sandbox_credentials import IDEMIA_APPLICATION_ID

# IDEMIA's documented outcomes of a session (seeds/idemia-ipa-integration.txt, step 4): a proper end with an
# identity whose LOA says verified or not, or an abnormal end reported in the callback's ``status``.
VERIFIED = "VERIFIED"
NOT_VERIFIED = "NOT_VERIFIED"
ERROR = "ERROR"
HEARTBEAT_TIMEOUT = "HEARTBEAT_TIMEOUT"
OUTCOMES = (VERIFIED, NOT_VERIFIED, ERROR, HEARTBEAT_TIMEOUT)
ABNORMAL = (ERROR, HEARTBEAT_TIMEOUT)

# The sandbox's IPA application id, sent as ``applicationId`` in every callback.
APPLICATION_ID = IDEMIA_APPLICATION_ID

DEFAULT_CONFIG: dict[str, float] = {
    "token_ttl": 3600.0,        # Cognito's expires_in
    "session_ttl": 1800.0,      # "the session will expire automatically after 30 minutes"
    "retry_delay": 1.0,         # callback retries: "up to 2 more attempts with a delay of 1 second"
    "callback_timeout": 5.0,    # how long one callback delivery waits for the integrator's answer
}


@dataclass
class CallbackLog:
    """What happened to a session's end-of-process notification."""

    state: str = "none"  # none, pending, delivered, failed, dropped
    body: dict[str, Any] | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"state": self.state, "attempts": list(self.attempts), "body": self.body}


@dataclass
class IpaSession:
    session_id: str
    callback_url: str | None
    goto_url: str | None
    created: float
    expires: float
    state: str = "CREATED"  # CREATED, STARTED (journey page opened), COMPLETED
    outcome: str | None = None
    persona: str | None = None
    identity_id: str | None = None
    callback: CallbackLog = field(default_factory=CallbackLog)

    def expired(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) >= self.expires

    def as_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id, "callback_url": self.callback_url, "goto_url": self.goto_url,
            "state": self.state, "outcome": self.outcome, "persona": self.persona,
            "identity_id": self.identity_id, "expired": self.expired(), "callback": self.callback.as_json(),
        }


@dataclass
class GipsIdentity:
    identity_id: str
    session_id: str
    persona: str
    outcome: str
    level_of_assurance: str
    created: datetime
    evaluated: datetime
    #: IDEMIA deletes the data once the proof is fetched (or the transaction times out).
    closed: bool = False
    identity_fetches: int = 0
    proof_fetches: int = 0
    proof_refusals: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "identity_id": self.identity_id, "session_id": self.session_id, "persona": self.persona,
            "outcome": self.outcome, "level_of_assurance": self.level_of_assurance, "closed": self.closed,
            "identity_fetches": self.identity_fetches, "proof_fetches": self.proof_fetches,
            "proof_refusals": self.proof_refusals,
        }


class IdemiaStore:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.config: dict[str, float] = dict(DEFAULT_CONFIG)
            self.tokens: dict[str, float] = {}
            self.sessions: dict[str, IpaSession] = {}
            self.identities: dict[str, GipsIdentity] = {}
            self.counters: dict[str, int] = {"tokens_issued": 0, "sessions_created": 0}
            # Callback threads started before a reset stop at their next attempt (see callbacks.py).
            self.generation = getattr(self, "generation", 0) + 1

    # -- tokens ---------------------------------------------------------------------------------------

    def issue_token(self) -> tuple[str, int]:
        with self.lock:
            token = secrets.token_urlsafe(32)
            ttl = self.config["token_ttl"]
            self.tokens[token] = time.monotonic() + ttl
            self.counters["tokens_issued"] += 1
            return token, max(1, int(ttl))

    def token_valid(self, token: str) -> bool:
        with self.lock:
            expires = self.tokens.get(token)
            return expires is not None and time.monotonic() < expires

    # -- sessions and identities ----------------------------------------------------------------------

    def create_session(self, callback_url: str | None, goto_url: str | None) -> IpaSession:
        with self.lock:
            now = time.time()
            session = IpaSession(session_id=str(uuid.uuid4()), callback_url=callback_url, goto_url=goto_url,
                                 created=now, expires=now + self.config["session_ttl"])
            self.sessions[session.session_id] = session
            self.counters["sessions_created"] += 1
            return session

    def new_identity(self, session: IpaSession, persona: str, outcome: str, loa: str) -> GipsIdentity:
        with self.lock:
            now = datetime.now(timezone.utc)
            identity = GipsIdentity(identity_id=f"gips-{uuid.uuid4()}", session_id=session.session_id,
                                    persona=persona, outcome=outcome, level_of_assurance=loa,
                                    created=now, evaluated=now)
            self.identities[identity.identity_id] = identity
            return identity

    def as_json(self) -> dict[str, Any]:
        with self.lock:
            return {"config": dict(self.config), "counters": dict(self.counters),
                    "sessions": len(self.sessions), "identities": len(self.identities)}


store = IdemiaStore()
