"""The OIDC client's HTTP.

Its error mapping over the shared sessions of :mod:`django_civic.protocols.http`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import requests

from django_civic.protocols import http, strict_json
from django_civic.protocols.civic_auth.errors import ProviderError, ProviderResponseError, ProviderUnavailable

MAX_RESPONSE_BYTES = 1024 * 1024
_MAX_MESSAGE = 200


def send(session: requests.Session, method: str, url: str, *, timeout: Any, what: str,
         **kwargs: Any) -> requests.Response:
    """Send a request; transport failures become :class:`ProviderUnavailable` naming ``what``."""
    try:
        return http.send(session, method, url, timeout=timeout, **kwargs)
    except requests.Timeout:
        raise ProviderUnavailable(f"Civic Auth did not answer the {what} request in time") from None
    except OSError as exc:  # requests' own errors, and a CA bundle that cannot be read
        raise ProviderUnavailable(
            f"Civic Auth could not be reached for the {what} ({type(exc).__name__})") from None


def read_body(response: requests.Response, limit: int = MAX_RESPONSE_BYTES) -> bytes:
    """Read a streamed body, refusing more than ``limit`` bytes (the header may lie or be absent)."""
    try:
        return http.read_capped(response, limit)
    except http.BodyTooLarge:
        raise ProviderResponseError(f"the response is larger than {limit} bytes") from None
    except requests.Timeout:
        raise ProviderUnavailable("Civic Auth's response did not arrive in time") from None
    except OSError as exc:
        raise ProviderUnavailable(f"Civic Auth's response broke off ({type(exc).__name__})") from None


def read_json(response: requests.Response, what: str) -> dict[str, Any]:
    raw = read_body(response)
    try:
        payload = strict_json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
        raise ProviderResponseError(f"the {what} response is not JSON") from None
    if not isinstance(payload, dict):
        raise ProviderResponseError(f"the {what} response is not a JSON object")
    return payload


def raise_for_status(response: requests.Response, what: str,
                     error_class: type[ProviderError] = ProviderError) -> None:
    """Map a non-200 answer to a typed error; OAuth error bodies (RFC 6749 5.2) keep their ``error`` code."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if status >= 500 or status == 408:
        response.close()
        raise ProviderUnavailable(f"Civic Auth failed the {what} request ({status})", status=status)
    try:
        body = json.loads(read_body(response, 64 * 1024))
    except (ValueError, ProviderResponseError, ProviderUnavailable):
        body = None
    error = description = ""
    if isinstance(body, dict):
        error = _clean(body.get("error"), 64)
        description = _clean(body.get("error_description") or body.get("message"), _MAX_MESSAGE)
    detail = f": {error}" if error else ""
    if description:
        detail += f" ({description})"
    raise error_class(f"Civic Auth refused the {what} request ({status}){detail}", status=status,
                      error=error, retry_after=http.retry_after(response.headers.get("Retry-After")))


def _clean(value: Any, limit: int) -> str:
    """Provider text for a message: printable, one line, bounded (it may end up in logs)."""
    if not isinstance(value, str):
        return ""
    return re.sub(r"[^\x20-\x7e]+", " ", value).strip()[:limit]


def max_age(response: requests.Response) -> int | None:
    """``Cache-Control: max-age`` of a response (``no-store``/``no-cache`` count as 0), else None."""
    header = response.headers.get("Cache-Control", "")
    if re.search(r"\bno-(store|cache)\b", header):
        return 0
    match = re.search(r"\bmax-age=(\d+)", header)
    return int(match.group(1)) if match else None
