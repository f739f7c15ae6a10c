"""Auth codes minted in advance through the sandbox's control API, so minting is never measured."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django_civic.protocols.sip.crypto import compact_json, load_private_key
from django_civic.protocols.sip.tokens import authorization_header
from django_civic.sandbox.testing import SandboxHandle

from .load import Prepared


def mint(handle: SandboxHandle, count: int, *, threads: int = 4, **options: Any) -> list[str]:
    """``count`` approved auth codes (``mint_code`` options: persona, scope, data, userId, ...)."""

    def one(_: int) -> str:
        # One session per thread: requests.Session is not thread-safe.
        return SandboxHandle(handle.url).mint_code(**options)["authToken"]

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


def mint_for_users(
    handle: SandboxHandle, user_ids: list[str], *, threads: int = 4, **options: Any
) -> list[str]:
    """One code per entry of ``user_ids`` (repeat an id for a returning user)."""

    def one(user_id: str) -> str:
        return SandboxHandle(handle.url).mint_code(userId=user_id, **options)["authToken"]

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, user_ids))


def feeder(codes: list[str]) -> Iterator[str]:
    """Hand out each code once (a code is single use)."""
    yield from codes


def signed_exchanges(handle: SandboxHandle, sip: dict[str, Any], codes: list[str]) -> list[Prepared]:
    """Exchange requests for ``codes`` exactly as ``SIPClient`` sends them, partner-signed now (a partner
    token lives 3 minutes): the sandbox's own work, without a client's."""
    key = load_private_key(sip["private_key"])
    url = handle.sip_exchange_url()
    prepared = []
    for code in codes:
        body = {"authToken": code, "allowS3UploadedPayload": True}
        headers = {
            "Accept": "*/*",
            "Content-Type": "application/json",
            "Authorization": authorization_header(
                sip["app_id"], key, sip["app_secret"], sip["api_url"], body
            ),
        }
        prepared.append(Prepared(url, compact_json(body).encode(), headers))
    return prepared
