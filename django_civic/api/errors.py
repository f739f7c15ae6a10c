"""One error shape for the whole API: ``{"error": <code>, "detail": <message>}``.

``error_response()`` builds it; ``exception_handler()`` is the DRF exception handler of our views and maps
DRF's and Django's own errors (parse errors, wrong content type, oversized body, method not allowed,
throttling, authentication) to the same shape, so a client never has to parse two formats. Codes are
stable API; details are translatable text safe to show to the user (never a token or personal data).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent
from django.http import Http404, JsonResponse
from django.utils.encoding import force_str
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, serializers
from rest_framework.views import set_rollback

__all__ = ["ErrorSerializer", "PayloadTooLarge", "error_response", "exception_handler"]


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = _("The request body is too large.")
    default_code = "payload_too_large"


# DRF's own exception classes -> our stable codes. Matched on the exact class: a subclass (ours, or a
# site's) brings its own ``default_code`` and detail, e.g. ``csrf_failed`` for a PermissionDenied.
_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "parse_error",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.Throttled: "throttled",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.ValidationError: "invalid",
}

# Our own wording for DRF's errors: DRF's defaults are fine English but name internals ("JSON parse error
# - Expecting value: line 1 column 1 (char 0)") that a user should not see.
_DETAILS: dict[str, Any] = {
    "parse_error": _("The request body could not be parsed."),
    "unsupported_media_type": _("Send the request body as JSON (Content-Type: application/json)."),
    "not_acceptable": _("This endpoint only answers in JSON."),
    "method_not_allowed": _("This method is not allowed here."),
    "throttled": _("Too many attempts. Please wait a moment and try again."),
    "not_authenticated": _("You need to log in first."),
    "authentication_failed": _("The credentials are not valid."),
    "permission_denied": _("You are not allowed to do this."),
    "not_found": _("Not found."),
}


class ErrorSerializer(serializers.Serializer):
    """What :func:`error_response` answers, for the OpenAPI schema (``extra`` fields are optional)."""

    error = serializers.CharField(help_text=_("A stable code, e.g. invalid_token, csrf_failed, throttled."))
    detail = serializers.CharField(help_text=_("A translated message, safe to show to the user."))
    retryable = serializers.BooleanField(required=False, help_text=_(
        "Whether trying again may succeed (a login: with a new code)."))
    retry_after = serializers.IntegerField(required=False, help_text=_("Seconds to wait (429)."))
    # Named as the response names it: DRF still collects it, although Serializer has a ``fields`` property.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text=_("The messages by field (error invalid)."))


def error_response(code: str, detail: Any, status: int, *, headers: Mapping[str, str] | None = None,
                   **extra: Any) -> JsonResponse:
    """A ``{"error": code, "detail": detail, **extra}`` JSON response with the given 4xx/5xx status.

    ``extra`` adds fields a client can act on (``retryable``, ``fields``); it must never carry secrets.
    """
    response = JsonResponse({"error": code, "detail": force_str(detail), **extra}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> JsonResponse | None:
    """DRF ``EXCEPTION_HANDLER`` for django_civic's views (set per view through ``CivicAPIView``).

    Unknown exceptions return ``None`` so DRF re-raises them: a bug should be loud, not disguised as 400.
    """
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, (RequestDataTooBig, TooManyFieldsSent)):
        # Django raises these when a form-encoded body exceeds DATA_UPLOAD_MAX_* limits.
        exc = PayloadTooLarge()
    if not isinstance(exc, exceptions.APIException):
        return None

    code = _CODES.get(type(exc)) or _code_of(exc)
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if isinstance(exc, exceptions.Throttled):
        # DRF already rounds the wait up to whole seconds; its stubs lack Throttled.wait.
        wait = max(1, int(exc.wait or 1))  # type: ignore[attr-defined]
        headers["Retry-After"] = str(wait)
        extra["retry_after"] = wait
    detail: Any
    if isinstance(exc, exceptions.ValidationError):
        detail, extra["fields"] = _validation_detail(exc.detail)
    elif type(exc) in _CODES:
        detail = _DETAILS.get(code) or exc.detail
    else:
        detail = exc.detail
    set_rollback()
    return error_response(code, detail, exc.status_code, headers=headers, **extra)


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def _validation_detail(detail: Any) -> tuple[str, dict[str, list[str]]]:
    """The first message (for people) and every message by field (for forms)."""
    if isinstance(detail, dict):
        fields = {str(key): [force_str(m) for m in _flatten(value)] for key, value in detail.items()}
    else:
        fields = {"non_field_errors": [force_str(m) for m in _flatten(detail)]}
    first = next((messages[0] for messages in fields.values() if messages), force_str(_("Invalid input.")))
    return first, fields


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [m for v in value.values() for m in _flatten(v)]
    if isinstance(value, (list, tuple)):
        return [m for v in value for m in _flatten(v)]
    return [value]
