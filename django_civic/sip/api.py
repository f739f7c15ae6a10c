"""``POST civic/sip/exchange/``: trade the auth code from ``civic.sip.js`` for a login.

Request: ``{"token": "<auth code>", "scope": "BASIC_SIGNUP", "next": "/profile/"}`` as JSON, or the token
in the ``Authorization`` header (raw or ``Bearer <token>``, as Civic's serverless sample sends it).

Response 200::

    {"login_mode": "session", "user": {"id": 1, "username": "...", "email": "..."},
     "civic_user_id": "...", "user_created": true,
     "attributes": [{"label": "contact.personal.email", "value": "...", "is_valid": true, "is_owner": true}],
     "next": "/profile/"}

plus ``token`` (token mode) or ``access``/``refresh`` (jwt mode). Failures are ``{"error", "detail"}``:
400 for a bad request or code, 403/409 for refusals, 429 throttled, 502/503/504 (with ``retryable``)
when Civic or our cache fails.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny

from django_civic import sip
from django_civic.api.base import CivicAPIView
from django_civic.api.errors import error_response
from django_civic.api.login import check_login_csrf, login_response
from django_civic.api.openapi import error_responses, extend_schema
from django_civic.api.serializers import (
    TOKEN_REQUIRED,
    LoginResponseSerializer,
    SIPExchangeInputSerializer,
    looks_like_jwt,
    sip_exchange_input,
)
from django_civic.api.throttling import CivicExchangeThrottle
from django_civic.exceptions import CivicLoginError

BACKEND = "django_civic.backends.CivicSIPBackend"

# SIP error class -> HTTP status and what to tell the user, most specific first. Problems with the
# code itself are the client's (400); Civic's failures are 502/503/504 with "retryable" so a client can
# offer "try again" (with a new code: this one is spent). Our own misconfiguration, Civic refusing our
# credentials and untrustworthy responses are 502 and not retryable.
_SIP_ERRORS: tuple[tuple[type[sip.SIPError], int, Any], ...] = (
    (sip.SIPInvalidAuthToken, 400, _("This sign-in code is not valid. Please sign in again.")),
    (sip.SIPBadRequest, 400, _("Civic did not accept this sign-in code. Please sign in again.")),
    (sip.SIPRateLimited, 503, _("Civic is busy right now. Please try again in a moment.")),
    (sip.SIPGatewayTimeout, 504, _("Civic did not answer in time. Please try again.")),
    (sip.SIPTimeout, 504, _("Civic did not answer in time. Please try again.")),
    (sip.SIPUpstreamError, 502, _("Civic is having trouble right now. Please try again.")),
    (sip.SIPConnectionError, 502, _("Civic could not be reached. Please try again.")),
    (sip.SIPError, 502, _("Sign-in with Civic is not available right now.")),
)


@extend_schema(
    methods=["POST"], tags=["Civic SIP"], request=SIPExchangeInputSerializer,
    responses={200: LoginResponseSerializer, **error_responses(400, 403, 409, 413, 415, 429, 502, 503, 504)},
    description="Trade the auth code from civic.sip.js for a login in the configured mode. The code may "
                "instead come in the Authorization header (raw or Bearer). In session mode the request "
                "must pass Django's CSRF check (X-CSRFToken header and csrftoken cookie): 403 csrf_failed.",
)
@method_decorator(sensitive_post_parameters("token"), name="dispatch")
class SIPExchangeView(CivicAPIView):
    # Anonymous by design: this *is* the login. A signed-in session is read (and so CSRF-checked by DRF,
    # whatever the login mode) because the code then connects a login to that account instead.
    authentication_classes = [SessionAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [CivicExchangeThrottle]

    @sensitive_variables()  # the code, and below it the login response (session key, token or JWTs)
    def post(self, request: Any) -> Any:
        self.check_body_size()
        check_login_csrf(request)
        data = sip_exchange_input(request.data)
        token = data.get("token") or _token_from_header(request)
        if token is None:
            return error_response("token_required", TOKEN_REQUIRED, 400)
        if not looks_like_jwt(token):
            # Not even shaped like a JWT: answer without touching the backend or the network.
            return sip_error_response(sip.SIPInvalidAuthToken())

        http_request = request._request
        user = authenticate(http_request, civic_sip_token=token)
        if user is None:
            return _failure(getattr(http_request, "civic_auth_error", None))
        return login_response(request, user, BACKEND, data.get("next"))


def _token_from_header(request: Any) -> str | None:
    """``Authorization: <token>`` or ``Authorization: Bearer <token>``; any other scheme is not ours."""
    header = request.META.get("HTTP_AUTHORIZATION", "").strip()
    if not header:
        return None
    scheme, _space, rest = header.partition(" ")
    if not rest:
        return scheme
    if scheme.lower() == "bearer":
        return rest.strip()
    return header  # e.g. "Token abc": reported as an invalid token rather than silently ignored


def sip_error_response(error: sip.SIPError) -> JsonResponse:
    """The JSON error for a failed SIP exchange (also used by other views that exchange SIP codes)."""
    status, detail = next((status, detail) for cls, status, detail in _SIP_ERRORS if isinstance(error, cls))
    headers = {}
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    return error_response(error.code, detail, status, headers=headers, retryable=error.retryable)


def _failure(error: Any) -> Any:
    if isinstance(error, sip.SIPError):
        return sip_error_response(error)
    if isinstance(error, CivicLoginError):
        return error_response(error.code, error.detail, error.status, retryable=error.status >= 500)
    # authenticate() found no backend that accepted the code and none said why: the SIP backend is
    # missing from AUTHENTICATION_BACKENDS (the system checks say so) or refused without a reason.
    return error_response("login_failed", CivicLoginError.default_detail, 400)
