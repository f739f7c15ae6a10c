"""System checks of Civic Auth (OIDC). They run when ``CivicAuthBackend`` is in AUTHENTICATION_BACKENDS.

- ``django_civic.E101`` ``AUTH["CLIENT_ID"]`` missing (not with ``SANDBOX``: its default client is used)
- ``django_civic.E102`` ``AUTH["ALGORITHMS"]`` empty or not all asymmetric (``none`` and HS* never are)
- ``django_civic.E103`` ``CIVIC["AUTH"]["ISSUER"]`` not an absolute URL, or not HTTPS outside ``DEBUG``
- ``django_civic.E104`` the cache behind JWKS, cooldowns and single use is a ``DummyCache`` (stores nothing)
- ``django_civic.W101`` ``REDIRECT_URI`` or ``POST_LOGOUT_REDIRECT_URI`` not HTTPS outside ``DEBUG``
- ``django_civic.W102`` ``STORE_TOKENS`` with cookie-based sessions (the tokens would sit in the browser)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

from django_civic.conf import civic_settings
from django_civic.core.checks import _has_subclass

_BACKEND = "django_civic.civic_auth.backend.CivicAuthBackend"
_ASYMMETRIC = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


def _in_use() -> bool:
    return _has_subclass(settings.AUTHENTICATION_BACKENDS, _BACKEND)


@checks.register(checks.Tags.security)
def check_civic_auth(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if not _in_use():
        return []
    auth = civic_settings.AUTH
    messages: list[checks.CheckMessage] = []
    if not auth["CLIENT_ID"] and not civic_settings.SANDBOX:
        messages.append(checks.Error(
            "CIVIC['AUTH']['CLIENT_ID'] is not set.",
            hint="Copy the client id of your application from auth.civic.com, or set CIVIC['SANDBOX'] = True "
                 "in development.",
            id="django_civic.E101",
        ))
    algorithms = auth["ALGORITHMS"]
    if not algorithms or not isinstance(algorithms, (list, tuple)) or not set(algorithms) <= _ASYMMETRIC:
        messages.append(checks.Error(
            "CIVIC['AUTH']['ALGORITHMS'] must be a non-empty list of asymmetric JWS algorithms.",
            hint="Civic signs with RS256; keep the default ['RS256', 'ES256']. "
                 "'none' and HS* are never accepted.",
            id="django_civic.E102",
        ))
    if not civic_settings.SANDBOX:
        issuer = urlsplit(str(auth["ISSUER"] or ""))
        insecure = issuer.scheme != "https" and not settings.DEBUG
        if issuer.scheme not in ("https", "http") or not issuer.netloc or insecure:
            messages.append(checks.Error(
                "CIVIC['AUTH']['ISSUER'] must be an absolute HTTPS URL.",
                hint="Civic's issuer is 'https://auth.civic.com/oauth/'.",
                id="django_civic.E103",
            ))
    messages.extend(_check_cache())
    if not settings.DEBUG:
        for name in ("REDIRECT_URI", "POST_LOGOUT_REDIRECT_URI"):
            value = auth[name]
            if value and urlsplit(str(value)).scheme != "https":
                messages.append(checks.Warning(
                    f"CIVIC['AUTH']['{name}'] is not an HTTPS URL.",
                    hint="Codes and logout redirects must travel over HTTPS in production.",
                    id="django_civic.W101",
                ))
    if auth["STORE_TOKENS"] and settings.SESSION_ENGINE == "django.contrib.sessions.backends.signed_cookies":
        messages.append(checks.Warning(
            "CIVIC['AUTH']['STORE_TOKENS'] is on with cookie-based sessions: Civic tokens would be stored in "
            "the browser (signed, not encrypted).",
            hint="Use a server-side SESSION_ENGINE (db, cache, cached_db) or turn STORE_TOKENS off.",
            id="django_civic.W102",
        ))
    return messages


def _check_cache() -> list[checks.CheckMessage]:
    config = settings.CACHES.get(civic_settings.CACHE_ALIAS)
    if not config:
        return []  # django_civic.E007 reports a missing alias
    if config.get("BACKEND") == "django.core.cache.backends.dummy.DummyCache":
        return [checks.Error(
            f"The cache {civic_settings.CACHE_ALIAS!r} is a DummyCache: Civic Auth would fetch the JWKS on "
            "every request, the refetch cooldown would not hold, and ID tokens would not be single use.",
            hint="Configure a real cache (Redis or Memcached in production) for CIVIC['CACHE_ALIAS'].",
            id="django_civic.E104",
        )]
    return []
