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
        """Wait until the session's callback delivery is over (delivered, failed, dropped); return it."""
        deadline = time.monotonic() + timeout
        while True:
            session = self.idemia_session(session_id)
            if session["callback"]["state"] in ("delivered", "failed", "dropped", "none"):
                return session
            if time.monotonic() > deadline:
                state = session["callback"]["state"]
                raise AssertionError(f"the IDEMIA sandbox's callback for {session_id} is still {state}")
            time.sleep(0.05)


class RecordingServer:
    """A local HTTP server that records every request and answers with scripted statuses.

    For tests that must prove a URL is *never* requested (a forged callback's ``proofUrl``), or that need a
    callback receiver answering 500 twice then 204 (IDEMIA's retries)::

        with RecordingServer(statuses=[500, 500, 204]) as server:
            ...                       # point something at server.url
            assert len(server.requests) == 3
    """

    def __init__(self, statuses: list[int] | None = None, default_status: int = 200, body: bytes = b"",
                 headers: dict[str, str] | None = None) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict[str, Any]] = []
        self._statuses = list(statuses or [])
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length) if length else b""
                with recorder._lock:
                    recorder.requests.append({"method": self.command, "path": self.path,
                                              "headers": dict(self.headers), "body": payload})
                    status = recorder._statuses.pop(0) if recorder._statuses else default_status
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _answer  # http.server's naming

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name="recording-server")
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
