"""In-memory state of the sandbox OIDC provider: registered clients, codes, refresh tokens, counters.

Thread-safe (the sandbox server is threaded). ``reset()`` (registered with the control API's reset)
forgets everything but the default client and restores the start-up signing key.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django_civic.sandbox import defaults
from django_civic.sandbox.oidc.keys import keyring

CODE_LIFETIME = 60
ACCESS_TOKEN_LIFETIME = 3600
ID_TOKEN_LIFETIME = 3600
REFRESH_TOKEN_LIFETIME = 14 * 24 * 3600


@dataclass
class Client:
    client_id: str
    client_secret: str | None  # None: a public client (PKCE only)
    redirect_uris: list[str] = field(default_factory=list)
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    # The default client accepts any redirect URI on localhost/127.0.0.1, so a developer's site works
    # whatever port it runs on.
    allow_localhost: bool = False
    # Like a Civic Auth app used by a browser or mobile SDK (civic-auth-py sends no secret): the code and
    # refresh grants are also accepted without the secret when the login used PKCE.
    pkce_without_secret: bool = False

    @property
    def public(self) -> bool:
        return self.client_secret is None

    def accepts_redirect(self, uri: str, registered: list[str]) -> bool:
        if uri in registered:
            return True
        if not self.allow_localhost:
            return False
        parts = urlsplit(uri)
        return parts.scheme in ("http", "https") and parts.hostname in ("localhost", "127.0.0.1") \
            and not parts.fragment

    def describe(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "client_secret": self.client_secret, "public": self.public,
                "redirect_uris": self.redirect_uris,
                "post_logout_redirect_uris": self.post_logout_redirect_uris,
                "allow_localhost": self.allow_localhost, "pkce_without_secret": self.pkce_without_secret}


@dataclass
class Grant:
    """What a code or refresh token stands for: who approved what, for which client."""

    client_id: str
    persona: str
    sub: str
    scopes: list[str]
    auth_time: int
    nonce: str | None = None
    redirect_uri: str | None = None
    code_challenge: str | None = None
    expires_at: float = 0.0
    used: bool = False
    family: str = ""


class ProviderState:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.revoked_families: set[str] = set()
        self.requests: Counter[str] = Counter()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            default = Client(defaults.OIDC_CLIENT_ID, defaults.OIDC_CLIENT_SECRET, allow_localhost=True,
                             pkce_without_secret=True)
            self.clients = {default.client_id: default}
            self.codes.clear()
            self.refresh_tokens.clear()
            self.revoked_families.clear()
            self.requests.clear()
        keyring.reset()

    # -- counters (the tests' proof that a cached path makes no request) ----------------------------

    def count(self, endpoint: str) -> None:
        with self._lock:
            self.requests[endpoint] += 1

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self.requests)

    def clear_stats(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- clients -----------------------------------------------------------------------------------

    def register(self, client: Client) -> Client:
        with self._lock:
            self.clients[client.client_id] = client
        return client

    def client(self, client_id: Any) -> Client | None:
        if not isinstance(client_id, str):
            return None
        with self._lock:
            return self.clients.get(client_id)

    # -- codes and refresh tokens (single use) -----------------------------------------------------

    def issue_code(self, grant: Grant) -> str:
        code = secrets.token_urlsafe(32)
        grant.expires_at = time.time() + CODE_LIFETIME
        with self._lock:
            self.codes[code] = grant
        return code

    def take_code(self, code: str) -> tuple[Grant | None, str]:
        """The grant for ``code`` (marking it used), or ``(None, reason)``."""
        with self._lock:
            grant = self.codes.get(code)
            if grant is None:
                return None, "the authorization code is unknown"
            if grant.used:
                # RFC 6749 4.1.2: a code used twice revokes what it issued.
                self.revoked_families.add(grant.family)
                return None, "the authorization code was already used"
            grant.used = True
            if time.time() > grant.expires_at:
                return None, "the authorization code has expired"
            return grant, ""

    def issue_refresh_token(self, grant: Grant) -> str:
        token = secrets.token_urlsafe(32)
        fresh = Grant(**{**grant.__dict__, "used": False, "expires_at": time.time() + REFRESH_TOKEN_LIFETIME})
        with self._lock:
            self.refresh_tokens[token] = fresh
        return token

    def take_refresh_token(self, token: str, client_id: str) -> tuple[Grant | None, str]:
        """Rotation: a refresh token works once; presenting a used one revokes its whole family."""
        with self._lock:
            grant = self.refresh_tokens.get(token)
            if grant is None or grant.client_id != client_id:
                return None, "the refresh token is unknown"
            if grant.family in self.revoked_families:
                return None, "the refresh token was revoked"
            if grant.used:
                self.revoked_families.add(grant.family)
                return None, "the refresh token was already used; its family is revoked"
            grant.used = True
            if time.time() > grant.expires_at:
                return None, "the refresh token has expired"
            return grant, ""


provider = ProviderState()


def new_client(data: dict[str, Any]) -> Client:
    """A client from the control API's JSON (``ValueError`` on bad input)."""
    client_id = data.get("client_id") or f"client-{secrets.token_hex(6)}"
    public = data.get("public", False)
    secret = data.get("client_secret")
    if not isinstance(client_id, str) or not 0 < len(client_id) <= 200:
        raise ValueError("client_id must be a string")
    if not isinstance(public, bool):
        raise ValueError("public must be a boolean")
    if public:
        secret = None
    elif secret is None:
        secret = secrets.token_urlsafe(24)
    elif not isinstance(secret, str) or not secret:
        raise ValueError("client_secret must be a non-empty string")
    lists = {}
    for name in ("redirect_uris", "post_logout_redirect_uris"):
        value = data.get(name, [])
        urls = isinstance(value, list) and all(isinstance(v, str) and urlsplit(v).scheme in ("http", "https")
                                               for v in value)
        if not urls:
            raise ValueError(f"{name} must be a list of http(s) URLs")
        lists[name] = value
    flags = {}
    for name in ("allow_localhost", "pkce_without_secret"):
        flags[name] = data.get(name, False)
        if not isinstance(flags[name], bool):
            raise ValueError(f"{name} must be a boolean")
    return Client(client_id, secret, lists["redirect_uris"], lists["post_logout_redirect_uris"], **flags)
