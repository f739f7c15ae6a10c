"""What every client of this app does alike with an HTTP answer: read ``Retry-After``, and (for the OIDC
and IDEMIA clients, both on requests) read the body under a size cap. Each client maps the failures to
its own error types. Pure Python, no Django."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests

_CHUNK = 64 * 1024


def retry_after(value: str | None) -> int | None:
    """``Retry-After`` in whole seconds, or None (absent, or an HTTP date, which we do not wait on)."""
    if value and value.strip().isdigit():
        return int(value.strip())
    return None


def read_capped(response: requests.Response, limit: int, too_large: Callable[[str], Exception]) -> bytes:
    """The streamed body of ``response``, refusing more than ``limit`` bytes: ``Content-Length`` may lie or
    be absent, so the bytes received are counted too. Raises ``too_large(message)`` then; requests' own
    failures (``Timeout``, ``RequestException``) and an unparsable ``Content-Length`` (``ValueError``) are
    left to the caller. The response is closed in every case."""
    try:
        declared = int(response.headers.get("Content-Length") or 0)
        if declared > limit:
            raise too_large(f"the response is larger than {limit} bytes")
        chunks, size = [], 0
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise too_large(f"the response is larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        response.close()
