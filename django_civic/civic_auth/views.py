"""Civic Auth (OIDC) browser views: the authorization code flow with PKCE, and logout.

``civic/auth/login/``     GET: a small page with a "Continue with Civic" button; POST: start the login
``civic/auth/callback/``  where Civic sends the browser back (``code`` + ``state``)
``civic/auth/logout/``    POST only: log out here, and at Civic too with ``CIVIC["AUTH"]["PROVIDER_LOGOUT"]``

The login starts with a POST carrying Django's CSRF token, so another site cannot start a login (or
complete one with its own account) in a victim's browser (allauth's 2021 notice). The pending login's
``state``, ``nonce`` and PKCE verifier live in the session
(:class:`~django_civic.protocols.civic_auth.StateStore`): bounded, timestamped, single use. A callback
whose state is missing, stale or from another session gets a page that explains and offers to start
again, not a bare 400 (mozilla-django-oidc #435).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from django_civic.api.login import notify, notify_connected
from django_civic.civic_auth.client import get_oidc_client, redirect_uri
from django_civic.conf import civic_settings
from django_civic.core.debug import hide_secrets_in_error_reports
from django_civic.core.redirects import login_redirect_url, safe_next_url
from django_civic.exceptions import CivicLoginError
from django_civic.protocols.civic_auth import OIDCError, ProviderUnavailable, StateError, StateStore
from django_civic.protocols.civic_auth.session import TokenStore

logger = logging.getLogger(__name__)

BACKEND = "django_civic.backends.CivicAuthBackend"
_MAX_HINT = 254

# Error code -> what the person is told; codes are stable, texts translatable and free of details.
_MESSAGES: dict[str, Any] = {
    "state_mismatch": _("This sign-in link has expired or was already used. Please start again."),
    "access_denied": _("You cancelled the sign-in with Civic."),
    "provider_unavailable": _("Civic could not be reached. Please try again in a moment."),
    "provider_error": _("Civic refused the sign-in. Please start again."),
    "invalid_token": _("Civic's answer could not be verified. Please start again."),
    "token_replayed": _("This sign-in was already completed. Please start again."),
    "identity_changed": _("Civic's answer could not be verified. Please start again."),
}
_DEFAULT_MESSAGE = _("The sign-in with Civic failed. Please try again.")


def _unavailable(error: Any) -> bool:
    """Civic down, too slow, or throttling us (429, retryable): "try again in a moment", not "refused"."""
    return isinstance(error, ProviderUnavailable) or bool(getattr(error, "retryable", False))


def _state_store(request: HttpRequest) -> StateStore:
    return StateStore(request.session, ttl=float(civic_settings.AUTH["STATE_TTL"]))


def _error_page(request: HttpRequest, code: str, *, status: int, next_url: str | None = None,
                detail: Any = None) -> HttpResponse:
    response = render(request, "django_civic/civic_auth/error.html", {
        "error_code": code,
        "message": detail or _MESSAGES.get(code, _DEFAULT_MESSAGE),
        "next": next_url or "",
        "cancelled": code == "access_denied",
    }, status=status)
    if status >= 400:
        # Django's own log line for an error answer carries the request, and the callback's query string
        # holds the authorization code and state (error report e-mails, Sentry): log it without them.
        logger.log(logging.ERROR if status >= 500 else logging.WARNING, "Civic Auth sign-in failed: %s (%s)",
                   status, code)
        response._has_been_logged = True  # type: ignore[attr-defined]
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else request.GET
    next_url = safe_next_url(request, data.get("next"))
    if request.method == "GET":
        # A GET must not start a login (a link or <img> on another site could); it shows the button.
        return render(request, "django_civic/civic_auth/login.html", {"next": next_url or ""})
    hint = request.POST.get("login_hint")
    try:
        client = get_oidc_client()
        pending = _state_store(request).begin(redirect_uri=redirect_uri(request), next_url=next_url)
        auth_request = client.authorization_request(
            redirect_uri=pending.redirect_uri, state=pending.state, nonce=pending.nonce,
            code_verifier=pending.code_verifier,
            login_hint=hint if isinstance(hint, str) and 0 < len(hint) <= _MAX_HINT else None,
        )
    except OIDCError as exc:
        logger.warning("Civic Auth login could not start: %s", exc.code)
        return _error_page(request, "provider_unavailable", status=503, next_url=next_url)
    return HttpResponseRedirect(auth_request.url)


@hide_secrets_in_error_reports
@never_cache
@require_GET
@sensitive_variables()  # the code, the tokens, and below them the person's values
def callback(request: HttpRequest) -> HttpResponse:
    params = request.GET
    try:
        pending = _state_store(request).consume(params.get("state"))
    except StateError as exc:
        logger.info("Civic Auth callback refused: %s", exc)
        # Usually harmless (back button, an expired or another tab's login): explain and offer a retry.
        return _error_page(request, exc.code, status=200)
    if params.get("error"):
        code = "access_denied" if params["error"] == "access_denied" else "provider_error"
        status = 200 if code == "access_denied" else 400
        return _error_page(request, code, status=status, next_url=pending.next_url)
    try:
        client = get_oidc_client()
        # RFC 9207: an authorization response that names its issuer must name ours (mix-up attacks).
        if "iss" in params and params["iss"] != client.issuer:
            return _error_page(request, "provider_error", status=400, next_url=pending.next_url)
        tokens = client.exchange_code(params.get("code"), redirect_uri=pending.redirect_uri,
                                      code_verifier=pending.code_verifier)
    except OIDCError as exc:
        logger.info("Civic Auth code exchange failed: %s", exc.code)
        if _unavailable(exc):
            return _error_page(request, "provider_unavailable", status=503, next_url=pending.next_url)
        code = exc.code if exc.code in _MESSAGES else "provider_error"
        return _error_page(request, code, status=400, next_url=pending.next_url)

    connecting = request.user.is_authenticated
    user = authenticate(request, civic_auth_id_token=tokens.id_token, nonce=pending.nonce,
                        civic_auth_access_token=tokens.access_token, scope=tokens.scope or "")
    if user is None:
        error = getattr(request, "civic_auth_error", None)
        if connecting and isinstance(error, CivicLoginError):
            # Still signed in as before: say why on the connections page, never switch accounts.
            notify(request, messages.ERROR, error.detail)
            return HttpResponseRedirect(reverse("django_civic:connections"))
        if isinstance(error, CivicLoginError):
            return _error_page(request, error.code, status=error.status, next_url=pending.next_url,
                               detail=error.detail)
        if _unavailable(error):
            return _error_page(request, "provider_unavailable", status=503, next_url=pending.next_url)
        code = getattr(error, "code", "login_failed")
        return _error_page(request, code, status=400, next_url=pending.next_url)

    result = request.civic_login_result  # type: ignore[attr-defined]
    if result.connected:
        notify_connected(request, result.identity)
        target = pending.next_url or reverse("django_civic:connections")
    else:
        auth_login(request, user, backend=BACKEND)
        notify(request, messages.SUCCESS, _("You are signed in."))
        target = pending.next_url or login_redirect_url(request)
    auth = civic_settings.AUTH
    if auth["STORE_TOKENS"] or auth["PROVIDER_LOGOUT"]:
        TokenStore(request.session).save(tokens, request.civic_auth_claims,  # type: ignore[attr-defined]
                                         keep_tokens=bool(auth["STORE_TOKENS"]))
    return HttpResponseRedirect(target)


@never_cache
@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    next_url = safe_next_url(request, request.POST.get("next"))
    target = next_url or resolve_url(settings.LOGOUT_REDIRECT_URL or "/")
    return HttpResponseRedirect(log_out(request, target))


def log_out(request: HttpRequest, target: str) -> str:
    """Log out here (the session is flushed, stored tokens included), and where to send the browser next.

    With ``CIVIC["AUTH"]["PROVIDER_LOGOUT"]`` and a Civic Auth login in the session, that is Civic's
    end-session URL (which comes back to ``target``), so Civic's session ends too; otherwise ``target``.
    """
    id_token = TokenStore(request.session).id_token()
    auth_logout(request)
    auth = civic_settings.AUTH
    if not auth["PROVIDER_LOGOUT"]:
        return target
    try:
        back = auth["POST_LOGOUT_REDIRECT_URI"] or request.build_absolute_uri(target)
        url = get_oidc_client().end_session_url(id_token_hint=id_token, post_logout_redirect_uri=back)
    except OIDCError as exc:
        # Logged out here already; Civic's session simply stays until it expires.
        logger.warning("Civic Auth end-session URL unavailable: %s", exc.code)
        url = None
    return url or target
