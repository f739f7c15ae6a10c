"""Test helpers for the sandbox's Civic Auth provider, mixed into ``SandboxHandle``.

>>> civic_sandbox.oidc_issuer                                  # doctest: +SKIP
'http://127.0.0.1:PORT/oauth/'
>>> civic_sandbox.mint_oidc_token(persona="bob", claims={"aud": "someone-else"})  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from django_civic.sandbox import defaults


class OIDCHelpers:
    url: str
    control: Callable[..., Any]  # SandboxHandle.control

    @property
    def oidc_issuer(self) -> str:
        return self.url + "oauth/"

    @property
    def oidc_client_id(self) -> str:
        return defaults.OIDC_CLIENT_ID

    @property
    def oidc_client_secret(self) -> str:
        return defaults.OIDC_CLIENT_SECRET

    def oidc_personas(self) -> list[dict[str, Any]]:
        return self.control("GET", "oidc/personas")["personas"]

    def oidc_subject(self, persona: str) -> str:
        """The ``sub`` the sandbox gives ``persona``."""
        return next(p["sub"] for p in self.oidc_personas() if p["name"] == persona)

    def register_oidc_client(self, *, redirect_uris: list[str] | None = None, public: bool = False,
                             **options: Any) -> dict[str, Any]:
        """Register a client; returns it (``client_id``, ``client_secret`` (None when public), ...)."""
        return self.control("POST", "oidc/clients",
                            {"redirect_uris": redirect_uris or [], "public": public, **options})

    def rotate_oidc_keys(self, *, retire_previous: bool = False) -> str:
        """Start signing with a new key; returns its ``kid``."""
        return self.control("POST", "oidc/keys/rotate", {"retire_previous": retire_previous})["kid"]

    def oidc_kids(self) -> list[str]:
        return self.control("GET", "oidc/keys")["kids"]

    def mint_oidc_token(self, *, type: str = "id", persona: str = "alice",
                        client_id: str | None = None, nonce: str | None = None,
                        claims: dict[str, Any] | None = None, remove: list[str] | None = None,
                        fault: str | None = None, access_token: str | None = None) -> str:
        """A token signed by the sandbox's current key (or broken by ``fault``), for tests."""
        body: dict[str, Any] = {"type": type, "persona": persona, "claims": claims or {},
                                "remove": remove or [], "client_id": client_id or self.oidc_client_id}
        if nonce is not None:
            body["nonce"] = nonce
        if fault is not None:
            body["fault"] = fault
        if access_token is not None:
            body["access_token"] = access_token
        return self.control("POST", "oidc/tokens", body)["token"]

    def register_identity_provider(self, issuer: str, audience: str, *, jwks_uri: str | None = None,
                                   public_key: str | None = None, **options: Any) -> dict[str, Any]:
        """Trust an external identity provider for federated token exchange, as Civic's Integration page
        does (``algorithms``, ``max_ttl`` in ``options``)."""
        body: dict[str, Any] = {"issuer": issuer, "audience": audience, **options}
        if jwks_uri is not None:
            body["jwks_uri"] = jwks_uri
        if public_key is not None:
            body["public_key"] = public_key
        return self.control("POST", "oidc/providers", body)

    def set_access_policy(self, public_access: bool, invited: list[dict[str, str]] | None = None) -> None:
        """Public access on, or off with only these ``{"email", "client_id"}`` invited."""
        self.control("POST", "oidc/access", {"public_access": public_access, "invited": invited or []})

    @property
    def hub_url(self) -> str:
        return self.url + "hub/mcp"

    def oidc_stats(self) -> dict[str, int]:
        """Requests the provider received per endpoint since the last reset."""
        return self.control("GET", "oidc/stats")["requests"]

    def clear_oidc_stats(self) -> None:
        self.control("DELETE", "oidc/stats")

    def oidc_approve(self, authorization_url: str, persona: str = "alice", *,
                     deny: bool = False) -> dict[str, str]:
        """Play the user at the sandbox's login page: pick ``persona`` (or cancel, with ``deny``).

        Returns the query parameters the browser is sent back with (``code``, ``state``, ``iss`` or
        ``error``), plus ``redirect`` (the whole callback URL).
        """
        import requests

        parts = urlsplit(authorization_url)
        params = dict(parse_qsl(parts.query))
        form = {**params, **({"action": "deny"} if deny else {"persona": persona})}
        endpoint = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        response = requests.post(endpoint, data=form, allow_redirects=False, timeout=10)
        if response.status_code != 302:
            raise AssertionError(f"sandbox login page: {response.status_code} {response.text[:300]}")
        location = response.headers["Location"]
        return {**dict(parse_qsl(urlsplit(location).query)), "redirect": location}
