"""Calling Civic's hub (``https://app.civic.com/hub/mcp``) with a user's Civic access token.

Every request carries ``Authorization: Bearer <token>`` and, when the account has several profiles,
``x-civic-profile-id`` (civic-protocols.md B4; seeds/civic-auth-app-integration.txt). The hub speaks
MCP's streamable HTTP (JSON-RPC 2.0); this helper sends one request and leaves the protocol to you.
"""

from __future__ import annotations

from typing import Any

import requests

from django_civic.protocols.civic_auth.http import send
from django_civic.protocols.http import ProcessSession

DEFAULT_HUB_URL = "https://app.civic.com/hub/mcp"
USER_AGENT = "django-civic"


def hub_headers(access_token: str, profile_id: str | None = None, *,
                session_id: str | None = None) -> dict[str, str]:
    if not isinstance(access_token, str) or not access_token:
        raise ValueError("a Civic access token is required")
    headers = {
        "Authorization": f"Bearer {access_token}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    if profile_id:
        headers["x-civic-profile-id"] = profile_id
    if session_id:
        headers["mcp-session-id"] = session_id
    return headers


_default_session = ProcessSession()


def call_hub(access_token: str, payload: Any, *, url: str = DEFAULT_HUB_URL, profile_id: str | None = None,
             session_id: str | None = None, timeout: float = 15.0,
             session: requests.Session | None = None) -> requests.Response:
    """POST one JSON-RPC message to the hub and return the response (read it, then close it).

    Raises :class:`~django_civic.protocols.civic_auth.errors.ProviderUnavailable` when the hub cannot be
    reached.
    """
    return send(session or _default_session.get(), "POST", url, timeout=timeout, what="hub", json=payload,
                headers=hub_headers(access_token, profile_id, session_id=session_id))
