"""Civic Auth for SPAs and mobile apps: trade an ID token for a login, with a server-issued nonce.

``POST civic/auth/nonce/`` -> ``{"nonce_id": ..., "nonce": ..., "expires_in": 600}``
    The app puts ``nonce`` in its Civic authorization request; Civic copies it into the ID token.
    The nonce is kept server-side (shared cache) under ``nonce_id``, for ``CIVIC["AUTH"]["NONCE_TTL"]``.

``POST civic/auth/token/`` with ``{"id_token": ..., "nonce_id": ..., "access_token"?: ..., "next"?: ...}``
    Takes the nonce stored under ``nonce_id`` (single use: of concurrent requests exactly one gets it),
    then ``authenticate(request, civic_auth_id_token=..., nonce=<that nonce>)``: the token must carry
    *our* nonce, so a token captured elsewhere (or one the client made up a nonce for) is refused. The
    response is the same as the SIP exchange's: ``login_mode`` plus credentials, ``user``,
    ``civic_user_id``, ``user_created``, ``attributes``, ``next``.

Why not accept the nonce in the body next to the token? Then whoever holds a token also holds a
matching nonce; the point of a nonce is that the server chose it and can use it once.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django.contrib.auth import authenticate
from django.core.cache import caches
from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny

from django_civic.api.base import CivicAPIView
from django_civic.api.errors import error_response
from django_civic.api.login import check_login_csrf, login_response
from django_civic.api.openapi import error_responses, extend_schema
from django_civic.api.serializers import LoginResponseSerializer, NonceSerializer
from django_civic.api.throttling import CivicExchangeThrottle
from django_civic.conf import civic_settings
from django_civic.core.redirects import MAX_NEXT_LENGTH
from django_civic.core.replay import consume_once
from django_civic.exceptions import CivicLoginError, ReplayCheckUnavailable
from django_civic.protocols.civic_auth import (
    InvalidToken,
    OIDCConfigurationError,
    OIDCError,
    ProviderError,
    ProviderResponseError,
    ProviderUnavailable,
)
from django_civic.protocols.civic_auth.pkce import random_token

BACKEND = "django_civic.backends.CivicAuthBackend"
NONCE_PREFIX = "django_civic:oidc:api-nonce:"
NONCE_REPLAY_NAMESPACE = "oidc-api-nonce"
MAX_TOKEN_LENGTH = 16 * 1024
_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_B64TOKEN = re.compile(r"^[A-Za-z0-9._~+/-]+=*$")

_NONCE_INVALID = _("This sign-in has expired or was already used. Request a new nonce and sign in again.")
_TOKEN_INVALID = _("The Civic ID token is not valid. Please sign in again.")
_UNAVAILABLE = _("Civic could not be reached. Please try again in a moment.")
_NOT_CONFIGURED = _("Sign-in with Civic is not available right now.")


def _nonce_key(nonce_id: str) -> str:
    return NONCE_PREFIX + hashlib.sha256(nonce_id.encode()).hexdigest()


@extend_schema(
    methods=["POST"], tags=["Civic Auth"], request=None,
    responses={200: NonceSerializer, **error_responses(429, 503)},
    description="A fresh nonce for one Civic Auth login: put nonce in the authorization request, send "
                "nonce_id with the ID token to civic/auth/token/.",
)
class NonceView(CivicAPIView):
    """``POST``: a fresh nonce for one Civic Auth login."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [CivicExchangeThrottle]

    @sensitive_variables("nonce_id", "nonce")
    def post(self, request: Any) -> JsonResponse:
        ttl = int(civic_settings.AUTH["NONCE_TTL"])
        nonce_id, nonce = random_token(), random_token()
        try:
            caches[civic_settings.CACHE_ALIAS].set(_nonce_key(nonce_id), nonce, ttl)
        except Exception:  # the cache is down: no nonce could be checked later either
            error = ReplayCheckUnavailable()
            return error_response(error.code, error.detail, error.status, retryable=True)
        response = JsonResponse({"nonce_id": nonce_id, "nonce": nonce, "expires_in": ttl})
        response["Cache-Control"] = "no-store"
        return response


class TokenLoginInput(serializers.Serializer):
    id_token = serializers.CharField(max_length=MAX_TOKEN_LENGTH, trim_whitespace=True)
    nonce_id = serializers.CharField(max_length=128, trim_whitespace=True)
    # RFC 6750 b64token: what can be sent as "Authorization: Bearer" to userinfo, and hashed for at_hash.
    access_token = serializers.RegexField(_B64TOKEN, max_length=MAX_TOKEN_LENGTH, required=False,
                                          trim_whitespace=True,
                                          error_messages={"invalid": _("This is not an access token.")})
    next = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                 max_length=MAX_NEXT_LENGTH)


@extend_schema(
    methods=["POST"], tags=["Civic Auth"], request=TokenLoginInput,
    responses={200: LoginResponseSerializer, **error_responses(400, 403, 409, 413, 415, 429, 502, 503)},
    description="Log in with a Civic ID token that carries the nonce issued under nonce_id (single use). "
                "In session mode the request must pass Django's CSRF check: 403 csrf_failed.",
)
@method_decorator(sensitive_post_parameters("id_token", "access_token"), name="dispatch")
class TokenLoginView(CivicAPIView):
    """``POST``: log in with a Civic ID token that carries a nonce from :class:`NonceView`."""

    # Anonymous by design: this *is* the login. A signed-in session is read (and so CSRF-checked by DRF,
    # whatever the login mode) because the token then connects a login to that account instead.
    authentication_classes = [SessionAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [CivicExchangeThrottle]

    @sensitive_variables()  # the tokens, the nonce, and below it the login response
    def post(self, request: Any) -> JsonResponse:
        self.check_body_size()
        check_login_csrf(request)
        serializer = TokenLoginInput(data=request.data)
        if not serializer.is_valid():
            raise ValidationError(serializer.errors)
        data = serializer.validated_data
        if not _JWS.match(data["id_token"]):
            # Not even shaped like a JWT: answer without touching the nonce, the backend or the network.
            return error_response("invalid_token", _TOKEN_INVALID, 400)
        try:
            nonce = self._take_nonce(data["nonce_id"])
        except CivicLoginError as exc:
            return oidc_failure(exc)
        if nonce is None:
            return error_response("nonce_invalid", _NONCE_INVALID, 400)

        http_request = request._request
        user = authenticate(http_request, civic_auth_id_token=data["id_token"], nonce=nonce,
                            civic_auth_access_token=data.get("access_token"))
        if user is None:
            return oidc_failure(getattr(http_request, "civic_auth_error", None))
        return login_response(request, user, BACKEND, data.get("next"))

    @staticmethod
    def _take_nonce(nonce_id: str) -> str | None:
        """The nonce issued under ``nonce_id``, at most once (a second, even concurrent, call gets None)."""
        key = _nonce_key(nonce_id)
        try:
            cache = caches[civic_settings.CACHE_ALIAS]
            nonce = cache.get(key)
        except Exception:  # any backend failure: fail closed, like consume_once
            raise ReplayCheckUnavailable() from None
        if not isinstance(nonce, str):
            return None
        # get + delete is not atomic; consume_once is (cache.add), and fails closed (503) if the cache fails.
        if not consume_once(NONCE_REPLAY_NAMESPACE, nonce_id, float(civic_settings.AUTH["NONCE_TTL"])):
            return None
        try:
            cache.delete(key)
        except Exception:
            pass  # consumed already; the entry expires by itself
        return nonce


def oidc_failure(error: Any) -> JsonResponse:
    """The JSON error for a refused Civic Auth login."""
    if isinstance(error, CivicLoginError):
        return error_response(error.code, error.detail, error.status, retryable=error.status >= 500)
    if isinstance(error, ProviderUnavailable):
        return error_response(error.code, _UNAVAILABLE, 503, retryable=True)
    if isinstance(error, OIDCConfigurationError):
        return error_response("civic_auth_unavailable", _NOT_CONFIGURED, 503, retryable=False)
    if isinstance(error, (ProviderError, ProviderResponseError)):
        return error_response(error.code, _UNAVAILABLE, 502, retryable=error.retryable)
    if isinstance(error, InvalidToken):
        # invalid_token, token_replayed or identity_changed; the failed rule is logged, not disclosed.
        return error_response(error.code, _TOKEN_INVALID, 400)
    if isinstance(error, OIDCError):
        return error_response("invalid_token", _TOKEN_INVALID, 400)
    return error_response("login_failed", CivicLoginError.default_detail, 400)
