"""``{% load civic %}``: put Civic login buttons on a page.

    {% civic_scripts %}                                   once per page, anywhere in <head> or <body>
    {% civic_button scope="BASIC_SIGNUP" next="/" %}      as many buttons as you like

``civic_scripts`` loads Civic's ``civic.sip.js`` and CSS (``CIVIC["SIP"]["SCRIPT_URL"]``/``CSS_URL``), or the
sandbox's stand-in when ``CIVIC["SANDBOX"]`` is on, then django_civic's small ``civic.js``, which wires every
button: it starts the scope request, posts the auth code to the exchange endpoint with the CSRF token and
follows the safe ``next`` the server answers with. Both tags render overridable templates
(``django_civic/scripts.html`` and ``django_civic/button.html``).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from django_civic.conf import civic_settings, sandbox_url
from django_civic.core.labels import attribute_label, provider_name
from django_civic.core.redirects import safe_next_url
from django_civic.protocols.sip import SCOPE_REQUESTS
from django_civic.sip.client import sip_config

register = template.Library()

# Default button texts, by scope (Civic's documented wording for the basic login).
BUTTON_LABELS: dict[str, Any] = {
    "BASIC_SIGNUP": _("Log in with Civic"),
    "BASIC_LOGIN": _("Log in with Civic"),
    "CIVIC_BASIC": _("Log in with Civic"),
    "ANONYMOUS_LOGIN": _("Log in anonymously with Civic"),
    "PROOF_OF_IDENTITY": _("Verify your identity with Civic"),
}
DEFAULT_LABEL = _("Continue with Civic")
SIZES = ("small", "medium", "large")

# Buttons counted per request (on the request object), so ids are unique on a page and the same on
# every load of it: tests, CSS and analytics can rely on them.
_COUNTS = "_civic_button_ids"


@register.inclusion_tag("django_civic/scripts.html", takes_context=True)
def civic_scripts(context: template.Context) -> dict[str, Any]:
    """Civic's browser library (or the sandbox's stand-in), its CSS, and django_civic's button script."""
    if civic_settings.SANDBOX:
        base = sandbox_url()
        return {"script_url": f"{base}sip/js/civic.sip.js", "css_url": f"{base}sip/css/civic-modal.css",
                "sandbox": True}
    return {"script_url": civic_settings.SIP["SCRIPT_URL"], "css_url": civic_settings.SIP["CSS_URL"],
            "sandbox": False}


@register.inclusion_tag("django_civic/button.html", takes_context=True)
def civic_button(context: template.Context, scope: str = "BASIC_SIGNUP", next: str | None = None,
                 label: str | None = None, size: str = "medium", id: str | None = None) -> dict[str, Any]:
    """A ``<button class="civic-button-a medium">`` that logs the user in with the given scope request.

    ``next`` is where to go afterwards; it defaults to the page's ``?next=`` and is dropped if unsafe (the
    server then answers with ``LOGIN_REDIRECT_URL``). ``label`` replaces the default text, ``size`` is
    ``small``, ``medium`` or ``large``, ``id`` sets the button's HTML id.
    """
    if scope not in SCOPE_REQUESTS:
        raise template.TemplateSyntaxError(
            f"civic_button: unknown scope {scope!r}; use one of {', '.join(sorted(SCOPE_REQUESTS))}."
        )
    if size not in SIZES:
        raise template.TemplateSyntaxError(f"civic_button: size must be one of {', '.join(SIZES)}.")
    request, safe_next = _request_and_next(context, next, "civic_button")
    button_id = id or stable_id(request, "civic-" + scope.lower().replace("_", "-"))
    return {
        "app_id": sip_app_id(),
        "scope": scope,
        "next": safe_next,
        "label": label or BUTTON_LABELS.get(scope, DEFAULT_LABEL),
        "size": size,
        "button_id": button_id,
        "status_id": f"{button_id}-status",
        "exchange_url": reverse("django_civic:sip_exchange"),
        "csrf_token": get_token(request),
        "csrf_cookie_name": "" if settings.CSRF_USE_SESSIONS else settings.CSRF_COOKIE_NAME,
    }


def _request_and_next(context: template.Context, next: str | None, tag: str) -> tuple[Any, str]:
    """The request (which the tags need) and a safe ``next``: the tag's, else the page's ``?next=``, or ""."""
    request = context.get("request")
    if request is None:
        raise ImproperlyConfigured(
            f"{tag} needs the request in the template context: add "
            "'django.template.context_processors.request' to your TEMPLATES context processors."
        )
    if next is None:
        next = request.GET.get("next")
    return request, safe_next_url(request, next) or ""


def stable_id(request: Any, base: str) -> str:
    """``base`` the first time this request asks for it, then ``base-2``, ``base-3``...: the same ids on
    every load of a page, unique within it."""
    counts = getattr(request, _COUNTS, None)
    if counts is None:
        counts = {}
        setattr(request, _COUNTS, counts)
    counts[base] = counts.get(base, 0) + 1
    return base if counts[base] == 1 else f"{base}-{counts[base]}"


def sip_app_id() -> str:
    """The app id the browser library must use: the one the server-side client exchanges codes for."""
    return sip_config()["app_id"]


@register.inclusion_tag("django_civic/civic_auth/button.html", takes_context=True)
def civic_auth_button(context: template.Context, next: str | None = None, label: str | None = None,
                      id: str | None = None, login_hint: str | None = None) -> dict[str, Any]:
    """"Continue with Civic" for Civic Auth (OIDC).

    A POST form (with the CSRF token) to ``civic/auth/login/``.

    ``next`` defaults to the page's ``?next=`` and is dropped if unsafe; ``label`` replaces the text;
    ``id`` sets the button's HTML id; ``login_hint`` is passed to Civic (in the sandbox, a persona name
    signs in at once). Renders ``django_civic/civic_auth/button.html``.
    """
    request, safe_next = _request_and_next(context, next, "civic_auth_button")
    return {"action": reverse("django_civic:civic_auth_login"), "next": safe_next,
            "label": label, "button_id": id or stable_id(request, "civic-auth"), "login_hint": login_hint}


@register.filter
def civic_label(label: str) -> str:
    """``{{ attribute.label|civic_label }}``: the human name of an attribute label (core/labels.py)."""
    return attribute_label(str(label))


@register.filter
def civic_provider(provider: str) -> str:
    """``{{ identity.provider|civic_provider }}``: Civic SIP, Civic Auth or IDEMIA, never an issuer URL."""
    return provider_name(str(provider))
