"""Finish a login in the configured response mode: Django session, DRF token, or simplejwt pair.

Shared by every exchange endpoint (Civic SIP here, Civic Auth in its own module)::

    check_login_csrf(request)                              # first, before the code is spent
    user = authenticate(request, civic_sip_token=...)      # the backend does the exchange
    body = complete_login(request, user, backend)          # {"login_mode": ..., plus the credentials}

or, for the whole success response of an exchange endpoint, ``login_response(request, user, backend, next)``.

``CIVIC["API"]["LOGIN_MODE"]``:

- ``"session"``: ``django.contrib.auth.login()``; the browser keeps the session cookie. The request must
  pass Django's CSRF check even though the user is anonymous: otherwise a hostile page could post its
  *own* Civic code and log the victim's browser into the attacker's account (login CSRF). DRF's
  ``SessionAuthentication`` only checks CSRF for users who are already logged in, so we call Django's
  ``CsrfViewMiddleware`` explicitly, as DRF does internally.
- ``"token"``: a ``rest_framework.authtoken`` token in the body; no cookie is set, no session created.
- ``"jwt"``: a simplejwt ``access``/``refresh`` pair in the body; no cookie either.

Token and JWT modes still send Django's ``user_logged_in`` signal (it updates ``last_login``), so audit
receivers see every login whatever the mode.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login as django_login
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import PermissionDenied

from django_civic.conf import civic_settings
from django_civic.core.labels import provider_name
from django_civic.core.redirects import login_redirect_url, safe_next_url
from django_civic.exceptions import InactiveUser

__all__ = [
    "LOGIN_MODES", "LoginCSRFFailed", "check_login_csrf", "complete_login", "login_mode", "login_response",
    "notify",
]

LOGIN_MODES = ("session", "token", "jwt")


class LoginCSRFFailed(PermissionDenied):
    default_detail = _("The security check of this page failed. Reload the page and try again.")
    default_code = "csrf_failed"


def login_mode() -> str:
    mode = civic_settings.API["LOGIN_MODE"]
    if mode not in LOGIN_MODES:
        raise ImproperlyConfigured(f"CIVIC['API']['LOGIN_MODE'] must be one of {', '.join(LOGIN_MODES)}.")
    return mode


def check_login_csrf(request: Any) -> None:
    """In session mode, refuse a request that fails Django's CSRF check (login CSRF).

    Call it before spending the auth code. Raises :class:`LoginCSRFFailed` (403 ``csrf_failed``).
    Token and JWT modes set no cookie, so a cross-site post gains the attacker nothing: no check there,
    which lets native apps call the endpoint without a CSRF token.
    """
    if login_mode() != "session":
        return
    http_request = _http_request(request)
    check = _CSRFCheck(_no_view)
    # process_request reads the CSRF cookie into request.META; process_view compares it with the header.
    check.process_request(http_request)
    reason = check.process_view(http_request, _no_view, (), {})
    if reason:
        raise LoginCSRFFailed()
    # complete_login() checks again only if nobody did: the exchange views check before spending the code.
    http_request._civic_login_csrf_checked = True  # type: ignore[attr-defined]


def complete_login(request: Any, user: Any, backend: str) -> dict[str, Any]:
    """Log ``user`` in with ``backend`` (a dotted path) in the configured mode.

    Returns the mode-specific part of the response body: ``{"login_mode": "session"}``,
    ``{"login_mode": "token", "token": ...}`` or ``{"login_mode": "jwt", "access": ..., "refresh": ...}``.
    """
    if not getattr(user, "is_active", False):
        # The backend refuses inactive users already (user_can_authenticate); this is the last line.
        raise InactiveUser()
    mode = login_mode()
    http_request = _http_request(request)
    if mode == "session":
        if not getattr(http_request, "_civic_login_csrf_checked", False):
            check_login_csrf(request)
        django_login(http_request, user, backend=backend)
        if http_request is not request:
            request.user = user  # keep the DRF request in step with the Django one
        return {"login_mode": "session"}
    user.backend = backend
    if mode == "token":
        body = {"login_mode": "token", "token": _drf_token(user)}
    else:
        body = {"login_mode": "jwt", **_jwt_pair(user)}
    user_logged_in.send(sender=user.__class__, request=http_request, user=user)
    return body


def login_response(request: Any, user: Any, backend: str, next_url: Any = None) -> JsonResponse:
    """The 200 response of an exchange endpoint, after the backend accepted the login.

    ``complete_login()`` plus what every exchange answers: ``user``, ``civic_user_id``, ``user_created``,
    the identity's ``attributes``, a safe ``next`` and ``connected``. Reads the backend's
    ``request.civic_login_result``. When the backend connected the login to the signed-in user instead
    (``connected: true``), nobody is logged in (``login_mode: null``) and ``next`` defaults to the
    connections page.
    """
    http_request = _http_request(request)
    result = http_request.civic_login_result  # type: ignore[attr-defined]  # set by the backend
    if result.connected:
        # A signed-in user connected another login: nobody logs in, the session stays as it is.
        body: dict[str, Any] = {"login_mode": None, "connected": True}
        default_next = reverse("django_civic:connections")
        notify_connected(http_request, result.identity)
    else:
        body = complete_login(request, user, backend)
        body["connected"] = False
        default_next = None
        if body["login_mode"] == "session":
            notify(http_request, messages.SUCCESS, _("You are signed in."))
    body.update({
        "user": _user_fields(user),
        "civic_user_id": result.identity.subject,
        "user_created": result.user_created,
        "attributes": _stored_attributes(result.attributes),
        "next": safe_next_url(request, next_url) or default_next or login_redirect_url(request),
    })
    return JsonResponse(body)


def notify(request: HttpRequest, level: int, message: Any) -> None:
    """A ``django.contrib.messages`` notice, or nothing on a site without the messages app."""
    messages.add_message(request, level, message, fail_silently=True)


def notify_connected(request: HttpRequest, identity: Any) -> None:
    """The notice of a login connected to the signed-in account instead of logging in."""
    notify(request, messages.SUCCESS, _("Your %(provider)s login is now connected to this account.")
           % {"provider": provider_name(identity.provider)})


# The fixed response shape, built directly: DRF serializers cost about a millisecond per login here.
# The same fields as serializers.UserSerializer and AttributeSerializer, in the same order
# (tests/test_login_response.py compares the two).

def _user_fields(user: Any) -> dict[str, Any]:
    email_field = user.__class__.get_email_field_name()
    return {"id": user.pk, "username": user.get_username(), "email": getattr(user, email_field, "") or ""}


def _stored_attributes(rows: Any) -> list[dict[str, Any]]:
    """Every attribute stored for the identity (``RecordResult.attributes``: not only this login's, by
    label, read by ``record_identity`` already, so no query here)."""
    # str(row.value) decrypts a stored value once (the field caches the plain text on the row).
    return [{"label": str(row.label), "value": str(row.value), "is_valid": bool(row.is_valid),
             "is_owner": bool(row.is_owner)} for row in rows]


def _drf_token(user: Any) -> str:
    try:
        from rest_framework.authtoken.models import Token
    except (ImportError, RuntimeError) as exc:
        raise ImproperlyConfigured(
            "CIVIC['API']['LOGIN_MODE'] = 'token' needs 'rest_framework.authtoken' in INSTALLED_APPS."
        ) from exc
    token, _created = Token.objects.get_or_create(user=user)
    return token.key


def _jwt_pair(user: Any) -> dict[str, str]:
    try:
        from rest_framework_simplejwt.tokens import RefreshToken
    except ImportError as exc:
        raise ImproperlyConfigured(
            "CIVIC['API']['LOGIN_MODE'] = 'jwt' needs djangorestframework-simplejwt "
            "(pip install 'django-civic[jwt]')."
        ) from exc
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def _http_request(request: Any) -> HttpRequest:
    """The Django ``HttpRequest`` behind a DRF ``Request`` (or the request itself)."""
    return getattr(request, "_request", request)


def _no_view(request: HttpRequest) -> HttpResponseBase:
    """The view and the rest of the chain for the CSRF check: it reads their marks (none), never calls."""
    raise AssertionError("the CSRF check never calls through")


class _CSRFCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> str:
        # Return the reason instead of Django's HTML 403 page; the caller raises our JSON error.
        return reason
