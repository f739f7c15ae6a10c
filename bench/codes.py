"""Auth codes minted in advance through the sandbox's control API, so minting is never measured."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django_civic.sandbox.testing import SandboxHandle


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
