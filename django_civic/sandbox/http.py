"""Small JSON helpers for the sandbox's views."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse

from django_civic.api.base import is_utf8

MAX_BODY = 1024 * 1024


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object, or :class:`BadRequest`.

    UTF-8 only, as the app's own API (RFC 8259): another ``charset`` is refused, and ``json.loads`` is
    given text, not bytes, which it would also read as UTF-16 or UTF-32.
    """
    charset = (request.content_params or {}).get("charset")
    if charset is not None and not is_utf8(charset):
        raise BadRequest("send JSON in UTF-8", 415)
    if len(request.body) > MAX_BODY:
        raise BadRequest("body too large", 413)
    try:
        data = json.loads(request.body.decode("utf-8") or "{}")
    except (ValueError, RecursionError):  # RecursionError: deeply nested JSON
        raise BadRequest("body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body is not a JSON object")
    return data


def error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"message": message}, status=status)


def base_url(request: HttpRequest) -> str:
    """This sandbox's base URL as the caller reached it, with a trailing slash.

    Built from the raw Host header on purpose: the sandbox is a development tool that must answer on
    whatever host a test or a browser uses, whatever the host project's ALLOWED_HOSTS say.
    """
    from django.urls import reverse

    meta = request.META
    host = meta.get("HTTP_HOST") or f"{meta.get('SERVER_NAME')}:{meta.get('SERVER_PORT')}"
    return f"{request.scheme}://{host}{reverse('civic_sandbox:root')}"
