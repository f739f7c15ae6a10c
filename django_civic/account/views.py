"""The account pages a Django site expects, for verified identity (allauth's ``account/`` pages).

``login``        every enabled way in: Civic SIP buttons (``CIVIC["SIP"]["LOGIN_SCOPES"]``), Civic Auth,
                 and the site's password form when ``ModelBackend`` is on. Usable as ``LOGIN_URL``; its
                 ``next`` goes through the one safe-redirect helper (``core/redirects.py``).
``logout``       GET asks, POST logs out (CSRF-protected; a link or an ``<img>`` elsewhere cannot log anyone
                 out), ending the Civic Auth session too with ``CIVIC["AUTH"]["PROVIDER_LOGOUT"]``.
``connections``  the signed-in person's logins: connect another (the Civic buttons, which connect when
                 someone is signed in, see ``core.identities.signed_in_user``), disconnect one (POST,
                 CSRF-protected, never the last way in).
``profile``      the person's own verified attributes, with human labels, validity and where each came from.

Every page extends ``django_civic/base.html`` and reports what happened with ``django.contrib.messages``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_backends
from django.contrib.auth import views as auth_views
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods

from django_civic.api.login import notify
from django_civic.civic_auth.backend import CivicAuthBackend
from django_civic.civic_auth.client import oidc_config
from django_civic.civic_auth.views import log_out
from django_civic.conf import civic_settings
from django_civic.core.identities import can_disconnect, disconnect_identity
from django_civic.core.labels import attribute_label, provider_kind, provider_name
from django_civic.core.redirects import login_redirect_url, safe_next_url
from django_civic.exceptions import CivicLoginError
from django_civic.idemia.client import is_configured as proofing_configured
from django_civic.models import CivicIdentity
from django_civic.sip.backend import CivicSIPBackend
from django_civic.sip.client import sip_config

__all__ = ["LoginView", "LogoutView", "connections", "profile", "ways_in"]


@dataclass(frozen=True)
class WaysIn:
    sip_scopes: tuple[str, ...]
    civic_auth: bool
    password: bool


def ways_in() -> WaysIn:
    """What the login page offers: the Civic systems that are configured *and* whose backend is enabled,
    and the password form when a plain ``ModelBackend`` is in ``AUTHENTICATION_BACKENDS``."""
    backends = get_backends()
    civic = (CivicSIPBackend, CivicAuthBackend)
    sip = any(isinstance(b, CivicSIPBackend) for b in backends) and bool(sip_config()["app_id"])
    auth = any(isinstance(b, CivicAuthBackend) for b in backends) and bool(oidc_config()["client_id"])
    password = any(isinstance(b, ModelBackend) and not isinstance(b, civic) for b in backends)
    return WaysIn(tuple(civic_settings.SIP["LOGIN_SCOPES"]) if sip else (), auth, password)


class _SafeNext:
    """Django's ``next`` handling, through the one safe-redirect helper instead of Django's check alone."""

    request: HttpRequest
    redirect_field_name = "next"

    def get_redirect_url(self, request: HttpRequest | None = None) -> str:
        request = request or self.request
        name = self.redirect_field_name
        return safe_next_url(request, request.POST.get(name, request.GET.get(name))) or ""


class LoginView(_SafeNext, auth_views.LoginView):
    """Django's ``LoginView`` (the password form, ``next``, ``redirect_authenticated_user``) plus the Civic
    ways in."""

    template_name = "django_civic/account/login.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.ways = ways_in()
        if request.method == "POST" and not self.ways.password:
            # No password login on this site: a posted form is refused, never checked against anything.
            return render(request, self.template_name, {**self._context(request), "form": None}, status=405)
        return super().dispatch(request, *args, **kwargs)

    def get_default_redirect_url(self) -> str:
        return login_redirect_url(self.request)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(self._context(self.request))
        return context

    def _context(self, request: HttpRequest) -> dict[str, Any]:
        return {"ways": self.ways, "next": self.get_redirect_url(request)}

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        notify(self.request, messages.SUCCESS, _("You are signed in."))
        return response


class LogoutView(_SafeNext, auth_views.LogoutView):
    """GET: "Sign out?" with a button; POST (CSRF-protected by Django's ``LogoutView``): sign out."""

    http_method_names = ["get", "post", "options"]
    template_name = "django_civic/account/logout.html"

    def get_default_redirect_url(self) -> str:
        return resolve_url(settings.LOGOUT_REDIRECT_URL or "django_civic:login")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        was_signed_in = request.user.is_authenticated
        target = log_out(request, self.get_success_url())
        if was_signed_in:
            notify(request, messages.SUCCESS, _("You have signed out."))
        return HttpResponseRedirect(target)


@dataclass(frozen=True)
class Connection:
    identity: CivicIdentity
    name: str
    kind: str
    removable: bool


@never_cache
@csrf_protect
@login_required
@require_http_methods(["GET", "POST"])
def connections(request: HttpRequest) -> HttpResponse:
    """The signed-in person's logins; POST ``identity=<id>`` disconnects one."""
    if request.method == "POST":
        try:
            pk = int(request.POST.get("identity", ""))
            identity = disconnect_identity(request.user, pk, request=request)
        except ValueError:
            return _connections_page(request, status=400, error=_("Choose a login to disconnect."))
        except CivicLoginError as exc:
            notify(request, messages.ERROR, exc.detail)
            return _connections_page(request, status=exc.status, error=exc.detail)
        notify(request, messages.SUCCESS, _("Your %(provider)s login was disconnected.")
               % {"provider": provider_name(identity.provider)})
        return HttpResponseRedirect(request.path)
    return _connections_page(request)


def _connections_page(request: HttpRequest, *, status: int = 200, error: Any = None) -> HttpResponse:
    user = request.user
    assert user.is_authenticated  # login_required
    identities = list(CivicIdentity.objects.filter(user_id=user.pk).order_by("created_at", "pk"))
    rows = [Connection(row, provider_name(row.provider), provider_kind(row.provider),
                       can_disconnect(user, row, identities)) for row in identities]
    here = request.path
    return render(request, "django_civic/account/connections.html", {
        "connections": rows, "ways": ways_in(), "here": here, "error": error,
        "proofing": proofing_configured(),
    }, status=status)


@dataclass(frozen=True)
class AttributeRow:
    label: str
    name: str
    value: str
    image_src: str | None
    is_valid: bool
    is_owner: bool
    last_verified_at: Any
    #: The value as a moment, for labels that hold one as seconds since 1970 (shown as a date).
    value_time: datetime | None = None


_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
# The first bytes of an image, in Base64: JPEG (FF D8 FF), PNG (89 50 4E 47).
_IMAGE_TYPES = {"/9j/": "image/jpeg", "iVBORw0KGgo": "image/png"}


@never_cache
@login_required
@require_GET
@sensitive_variables()  # the person's values
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert user.is_authenticated  # login_required
    identities = (CivicIdentity.objects.filter(user_id=user.pk)
                  .prefetch_related("attributes").order_by("created_at", "pk"))
    sections = [{"identity": identity, "name": provider_name(identity.provider), "rows": _rows(identity)}
                for identity in identities]
    return render(request, "django_civic/account/profile.html", {"sections": sections})


def _rows(identity: CivicIdentity) -> list[AttributeRow]:
    # Civic Auth records a verified email twice (oidc.email, and contact.personal.email for the linking
    # rule): the person sees it once.
    rows, seen = [], set()
    for attribute in sorted(identity.attributes.all(), key=lambda a: a.label):
        row = _row(attribute)
        if (row.name, row.value, row.is_valid, row.is_owner) not in seen:
            seen.add((row.name, row.value, row.is_valid, row.is_owner))
            rows.append(row)
    return rows


def _row(attribute: Any) -> AttributeRow:
    image = attribute.is_image
    return AttributeRow(
        label=attribute.label, name=attribute_label(attribute.label),
        # An image we do not recognise is not shown at all, not even as text.
        value="" if image else attribute.value,
        image_src=image_data_url(attribute.value) if image else None,
        is_valid=attribute.is_valid, is_owner=attribute.is_owner, last_verified_at=attribute.last_verified_at,
        value_time=_moment(attribute.value) if attribute.label in _MOMENT_LABELS else None,
    )


# Claims whose value is a NumericDate, seconds since 1970 (OIDC Core 5.1: updated_at): a person reads a date.
_MOMENT_LABELS = frozenset({"oidc.updated_at"})


def _moment(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=dt_timezone.utc)
    except (ValueError, OverflowError, OSError):  # not a whole number, or beyond what a date can hold
        return None


def image_data_url(value: str) -> str | None:
    """A ``data:`` URL for a Base64 JPEG or PNG, or None for anything else (never an arbitrary URL)."""
    compact = "".join(value.split())
    if not compact or not _BASE64.match(compact):
        return None
    for prefix, mime in _IMAGE_TYPES.items():
        if compact.startswith(prefix):
            return f"data:{mime};base64,{compact}"
    return None

