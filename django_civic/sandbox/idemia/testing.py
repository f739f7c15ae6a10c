"""Test helpers for the IDEMIA sandbox, mixed into ``SandboxHandle`` (``civic_sandbox`` fixture)."""

from __future__ import annotations

import time
from typing import Any


class IdemiaHelpers:
    url: str

    def control(self, method: str, path: str, json: Any = None,
                expect: int | tuple[int, ...] = (200, 201)) -> Any:  # provided by SandboxHandle
        raise NotImplementedError

    def idemia_sessions(self) -> list[dict[str, Any]]:
        """The IPA sessions the sandbox holds, newest first."""
        return self.control("GET", "idemia/sessions")["sessions"]

    def idemia_session(self, session_id: str) -> dict[str, Any]:
        """One session: ``state``, ``outcome``, ``identity_id``, ``callback`` (``state``, ``attempts``)."""
        return self.control("GET", f"idemia/sessions/{session_id}")

    def idemia_identity(self, identity_id: str) -> dict[str, Any]:
        """A GIPS identity: ``identity_fetches``, ``proof_fetches``, ``proof_refusals``, ``closed``."""
        return self.control("GET", f"idemia/identities/{identity_id}")

    def idemia_state(self) -> dict[str, Any]:
        """Configuration and counters: ``counters["tokens_issued"]``, ``counters["sessions_created"]``."""
        return self.control("GET", "idemia/state")

    def idemia_configure(self, **config: float) -> dict[str, Any]:
        """Change ``token_ttl``, ``session_ttl``, ``retry_delay`` or ``callback_timeout`` (seconds)."""
        return self.control("POST", "idemia/config", config)

    def idemia_complete(self, session_id: str, outcome: str = "VERIFIED", *, persona: str = "alice",
                        loa: str | None = None, wait: bool = False) -> dict[str, Any]:
        """Finish a session with ``outcome`` and send its callback (``wait``: until delivery ends)."""
        body: dict[str, Any] = {"outcome": outcome, "persona": persona, "wait": wait}
        if loa is not None:
            body["loa"] = loa
        return self.control("POST", f"idemia/sessions/{session_id}/complete", body)

    def idemia_wait_for_callback(self, session_id: str, timeout: float = 15.0) -> dict[str, Any]:
        """Wait until the session's callback delivery is over (delivered, failed or dropped); return the session."""
        deadline = time.monotonic() + timeout
        while True:
            session = self.idemia_session(session_id)
            if session["callback"]["state"] in ("delivered", "failed", "dropped", "none"):
                return session
            if time.monotonic() > deadline:
                raise AssertionError(f"the IDEMIA sandbox's callback for {session_id} is still {session['callback']['state']}")
            time.sleep(0.05)
