"""System checks of Civic Auth (OIDC). They run when ``CivicAuthBackend`` is in AUTHENTICATION_BACKENDS.

- ``django_civic.E101`` ``AUTH["CLIENT_ID"]`` missing (not with ``SANDBOX``: its default client is used)
- ``django_civic.E102`` ``AUTH["ALGORITHMS"]`` empty or not all asymmetric (``none`` and HS* never are)
- ``django_civic.E103`` ``CIVIC["AUTH"]["ISSUER"]`` not an absolute URL, or not HTTPS outside ``DEBUG``
- ``django_civic.E104`` the cache behind JWKS, cooldowns and single use is a ``DummyCache`` (stores nothing)
- ``django_civic.W101`` ``REDIRECT_URI`` or ``POST_LOGOUT_REDIRECT_URI`` not HTTPS outside ``DEBUG``
- ``django_civic.W102`` ``STORE_TOKENS`` with cookie-based sessions (the tokens would sit in the browser)

The site as an identity provider (``CIVIC["IDP"]``), checked whenever ``IDP["ISSUER"]`` is set:

- ``django_civic.E110`` ``IDP["ISSUER"]`` not an absolute URL, or not HTTPS outside ``DEBUG``
- ``django_civic.E111`` no active site signing key outside ``DEBUG`` (``manage.py civic_idp_keys create``)
- ``django_civic.E112`` a published site key that is weak or unusable (RSA under 2048 bits, a key that does
  not fit its algorithm, one that no longer decrypts)
- ``django_civic.W110`` the issuer's path is not where ``django_civic.urls`` is included
- ``django_civic.W111`` ``DIGEST_KEY`` unset: the users' ``sub`` at Civic would change with ``SECRET_KEY``
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


@checks.register(checks.Tags.security)
def check_site_identity_provider(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    site_issuer = civic_settings.IDP["ISSUER"]
    if not site_issuer:
        return []
    from django_civic.civic_auth import idp

    messages: list[checks.CheckMessage] = []
    parts = urlsplit(str(site_issuer))
    insecure = parts.scheme != "https" and not settings.DEBUG
    if parts.scheme not in ("https", "http") or not parts.netloc or insecure:
        messages.append(checks.Error(
            "CIVIC['IDP']['ISSUER'] must be the site's absolute HTTPS URL where django_civic.urls is "
            "included.",
            hint="For example 'https://example.com/civic/'.", id="django_civic.E110"))
    else:
        try:
            mounted = idp.mounted_issuer_path()
        except Exception:
            mounted = None
        if mounted is not None and (parts.path or "/").rstrip("/") + "/" != mounted:
            messages.append(checks.Warning(
                f"CIVIC['IDP']['ISSUER'] has the path {parts.path or '/'!r} but django_civic.urls is "
                f"included at {mounted!r}: Civic would not find the discovery document under the issuer.",
                hint="Make the issuer the URL of the include, with a trailing slash.",
                id="django_civic.W110"))
    if civic_settings.DIGEST_KEY is None and not settings.DEBUG:
        messages.append(checks.Warning(
            "CIVIC['DIGEST_KEY'] is not set: the sub of your users at Civic is derived from SECRET_KEY and "
            "would change (new, empty Civic accounts) when SECRET_KEY is rotated.",
            hint="Set CIVIC['DIGEST_KEY'] to a secret of its own and never change it.",
            id="django_civic.W111"))
    messages.extend(_check_site_keys())
    return messages


def _check_site_keys() -> list[checks.CheckMessage]:
    from django.db import DatabaseError

    from django_civic.civic_auth import idp
    from django_civic.core.encryption import DecryptionError
    from django_civic.models import SiteSigningKey
    from django_civic.protocols.civic_auth.idp import key_problem

    try:
        keys = list(SiteSigningKey.objects.exclude(status=SiteSigningKey.Status.RETIRED))
    except DatabaseError:  # not migrated yet: migrate runs the checks before it creates the table
        return []
    messages: list[checks.CheckMessage] = []
    if not any(key.status == SiteSigningKey.Status.ACTIVE for key in keys) and not settings.DEBUG:
        messages.append(checks.Error(
            "CIVIC['IDP']['ISSUER'] is set but the site has no signing key: no user can get a Civic token.",
            hint="Run `manage.py civic_idp_keys create`.", id="django_civic.E111"))
    for key in keys:
        try:
            problem = key_problem(idp.load_private_key(key.private_key), key.algorithm)
        except (DecryptionError, ValueError, TypeError):
            problem = "it does not decrypt with CIVIC['ENCRYPTION_KEYS'] or is not a PEM private key"
        if problem:
            messages.append(checks.Error(
                f"The site signing key {key.kid} cannot be used: {problem}.",
                hint="Rotate it (`manage.py civic_idp_keys rotate`), then retire it.",
                id="django_civic.E112"))
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
