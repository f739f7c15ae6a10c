"""What the SIP sandbox remembers: registered apps, issued auth codes, and S3-style payloads.

All of it lives in memory in this process, behind one lock, and ``control/reset`` clears it (the default
app from ``defaults.py`` is registered again). Codes and payloads expire, so a long benchmark run
against the sandbox does not grow without bound.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from django_civic.protocols.sip.crypto import load_private_key, load_public_key, public_key_hex
from django_civic.sandbox import defaults

PAYLOAD_LIFETIME = 15 * 60  # an S3 presigned URL's life, roughly
MAX_PAYLOAD_BYTES = 256 * 1024 * 1024  # all stored payloads together
MAX_APPS = 1000


class StateError(ValueError):
    """An auth code that cannot be exchanged (unknown, used, or for another app)."""


@dataclass(frozen=True)
class App:
    app_id: str
    app_secret: str = field(repr=False)
    public_key: ec.EllipticCurvePublicKey = field(repr=False)
    name: str = ""

    @property
    def public_key_hex(self) -> str:
        return public_key_hex(self.public_key)

    def describe(self) -> dict[str, Any]:
        return {"appId": self.app_id, "name": self.name, "publicKey": self.public_key_hex}


@dataclass
class IssuedCode:
    """An approved scope request waiting for its single exchange."""

    code_token: str
    app_id: str
    user_id: str
    attributes: list[dict[str, Any]] = field(repr=False)
    scope: str
    expires_at: float
    used: bool = False


def default_app() -> App:
    return App(defaults.SIP_APP_ID, defaults.SIP_APP_SECRET, load_public_key(defaults.SIP_APP_PUBLIC_KEY),
               "Sandbox app")


class SIPState:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # The key the sandbox signs as "Civic" with; its public half is defaults.SIP_CIVIC_PUBLIC_KEY.
        self.civic_key = load_private_key(defaults.SIP_CIVIC_PRIVATE_KEY)
        self._apps: dict[str, App] = {}
        self._codes: dict[str, IssuedCode] = {}
        self._payloads: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._payload_bytes = 0
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._apps = {defaults.SIP_APP_ID: default_app()}
            self._codes.clear()
            self._payloads.clear()
            self._payload_bytes = 0

    # -- apps ----------------------------------------------------------------------------------------

    def register_app(self, app: App) -> None:
        with self._lock:
            if app.app_id not in self._apps and len(self._apps) >= MAX_APPS:
                raise StateError(f"the sandbox holds at most {MAX_APPS} apps; reset it")
            self._apps[app.app_id] = app

    def get_app(self, app_id: str) -> App | None:
        with self._lock:
            return self._apps.get(app_id)

    def apps(self) -> list[App]:
        with self._lock:
            return list(self._apps.values())

    # -- auth codes ----------------------------------------------------------------------------------

    def issue(self, app_id: str, user_id: str, attributes: list[dict[str, Any]], scope: str,
              expires_at: float, *, now: float) -> str:
        """Remember an approved request; returns its ``codeToken`` (the auth code JWT carries it)."""
        code_token = str(uuid.uuid4())
        with self._lock:
            self._prune_codes(now)
            self._codes[code_token] = IssuedCode(code_token, app_id, user_id, attributes, scope, expires_at)
        return code_token

    def redeem(self, code_token: Any, app_id: str) -> IssuedCode:
        """Mark a code used and return it; at most one caller ever gets a given code."""
        with self._lock:
            code = self._codes.get(code_token) if isinstance(code_token, str) else None
            if code is None:
                raise StateError("Auth token is unknown")
            if code.app_id != app_id:
                raise StateError("Auth token was issued for another app")
            if code.used:
                raise StateError("Auth token has already been used")
            code.used = True
            return code

    def _prune_codes(self, now: float) -> None:
        # An expired code is refused on its JWT's exp before it is looked up, so forgetting it is safe.
        # Pruning runs only when the table is large, to keep issue() cheap.
        if len(self._codes) >= 10_000:
            for token in [t for t, c in self._codes.items() if c.expires_at + 120 < now]:
                del self._codes[token]

    # -- S3-style payloads ---------------------------------------------------------------------------

    def store_payload(self, token: str, *, now: float) -> str:
        payload_id = secrets.token_urlsafe(24)
        with self._lock:
            self._payloads[payload_id] = (now + PAYLOAD_LIFETIME, token)
            self._payload_bytes += len(token)
            # Oldest first: drop what has expired, then whatever exceeds the memory budget.
            while len(self._payloads) > 1:
                expires_at, oldest = next(iter(self._payloads.values()))
                if expires_at >= now and self._payload_bytes <= MAX_PAYLOAD_BYTES:
                    break
                self._payloads.popitem(last=False)
                self._payload_bytes -= len(oldest)
        return payload_id

    def get_payload(self, payload_id: str, *, now: float) -> str | None:
        with self._lock:
            entry = self._payloads.get(payload_id)
            if entry is None or entry[0] < now:
                return None
            return entry[1]


state = SIPState()  # control.py registers state.reset with the sandbox's control/reset
