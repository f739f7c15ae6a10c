"""The benchmark site in this process: Django set up against a sandbox in another process.

Rows 2, 4 and 5 run the real request path in-process with Django's test client (middleware, DRF view,
backend, SIP client, identities service, session login), so ``process_time`` of this process is the
server's CPU while the sandbox's CPU stays in its own process.
"""

from __future__ import annotations

import json
from typing import Any

from . import django_env

EXCHANGE_URL = "/civic/sip/exchange/"


def start(sandbox_url: str, *, database: str = "sqlite", cache: str = "locmem") -> None:
    django_env.setup(database=database, sandbox_url=sandbox_url, cache=cache)


def civic_login(client: Any, code: str) -> dict[str, Any]:
    """POST an auth code to the exchange endpoint as ``civic.sip.js`` would; the login must succeed."""
    response = client.post(EXCHANGE_URL, data=json.dumps({"token": code}), content_type="application/json")
    if response.status_code != 200:
        raise RuntimeError(f"the Civic login failed: {response.status_code} {response.content[:300]!r}")
    return response.json()
