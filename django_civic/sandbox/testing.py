"""``SandboxHandle``: drive a running sandbox from tests, over its HTTP control API.

Each emulated service contributes a mixin of helpers (``sip/testing.py``, ``oidc/testing.py``,
``idemia/testing.py``); this module composes them.
"""

from __future__ import annotations

from typing import Any

import requests

from django_civic.sandbox.idemia.testing import IdemiaHelpers
from django_civic.sandbox.oidc.testing import OIDCHelpers
from django_civic.sandbox.sip.testing import SIPHelpers


class SandboxHandle(SIPHelpers, OIDCHelpers, IdemiaHelpers):
    def __init__(self, url: str) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self.http = requests.Session()

    def __repr__(self) -> str:
        return f"<SandboxHandle {self.url}>"

    def control(self, method: str, path: str, json: Any = None,
                expect: int | tuple[int, ...] = (200, 201)) -> Any:
        """Call ``{url}control/{path}`` and return its JSON, asserting the status."""
        response = self.http.request(method, f"{self.url}control/{path}", json=json, timeout=10)
        expected = (expect,) if isinstance(expect, int) else expect
        if response.status_code not in expected:
            raise AssertionError(
                f"sandbox control {method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def inject_fault(self, channel: str, kind: str, count: int = 1, **options: Any) -> None:
        """Queue ``count`` faults on ``channel`` (``sip.exchange``, ``oidc.token``, ``idemia.gips`` ...)."""
        self.control("POST", "faults", {"channel": channel, "kind": kind, "count": count, **options})

    def clear_faults(self) -> None:
        self.control("DELETE", "faults")

    def reset(self) -> None:
        self.control("POST", "reset")

    def civic_settings(self, **overrides: Any) -> dict[str, Any]:
        """A ``CIVIC`` settings dict that points the app at this sandbox."""
        return {"SANDBOX": True, "SANDBOX_URL": self.url, **overrides}
