"""System checks of the core: wiring, sandbox, encryption keys, cache (each system checks its own settings).

Stable ids (documented in docs/settings.md):

- ``django_civic.E002`` no django_civic backend in ``AUTHENTICATION_BACKENDS``
- ``django_civic.E003`` ``SessionMiddleware`` or ``AuthenticationMiddleware`` missing
- ``django_civic.E004`` ``SANDBOX`` on with ``DEBUG = False`` (unless ``SANDBOX_ALLOW_WITHOUT_DEBUG``)
- ``django_civic.E006`` ``ENCRYPTION_KEYS`` or ``DIGEST_KEY`` malformed
- ``django_civic.E007`` ``CACHE_ALIAS`` names no configured cache
- ``django_civic.E008`` (deploy) the sandbox's URLconf is mounted in the site's URLs
- ``django_civic.E009`` ``SANDBOX`` on without an absolute http(s) ``SANDBOX_URL``
- ``django_civic.E010`` the ``CACHE_ALIAS`` cache cannot be created (its backend or client library is missing)
- ``django_civic.W003`` encryption and digest keys derived from ``SECRET_KEY`` in production
- ``django_civic.W004`` a per-process cache behind replay protection
- ``django_civic.W005`` (deploy) the ``CACHE_ALIAS`` cache fails a set/get round trip
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.cache import InvalidCacheBackendError, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.urls import URLResolver, get_resolver
from django.utils.module_loading import import_string

from django_civic.conf import civic_settings

_SIP_BACKEND = "django_civic.sip.backend.CivicSIPBackend"
_ANY_BACKENDS = (_SIP_BACKEND, "django_civic.civic_auth.backend.CivicAuthBackend")
_MIDDLEWARE = (
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
)
_PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
)


def _classes(paths: Any) -> list[type]:
    found = []
    for path in paths or ():
        try:
            found.append(import_string(path) if isinstance(path, str) else path)
        except ImportError:
            continue  # Django reports unimportable entries itself
    return [cls for cls in found if isinstance(cls, type)]


def _has_subclass(paths: Any, base_path: str) -> bool:
    base = import_string(base_path)
    return any(issubclass(cls, base) for cls in _classes(paths))


def sip_backend_in_use() -> bool:
    return _has_subclass(settings.AUTHENTICATION_BACKENDS, _SIP_BACKEND)


@checks.register()
def check_backends(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E002: no django_civic backend, or SIP configured without the SIP backend."""
    backends = settings.AUTHENTICATION_BACKENDS
    if not any(_has_subclass(backends, path) for path in _ANY_BACKENDS):
        message = "No django_civic authentication backend is in AUTHENTICATION_BACKENDS."
    elif civic_settings.SIP["APP_ID"] and not sip_backend_in_use():
        message = "CIVIC['SIP'] is configured but CivicSIPBackend is not in AUTHENTICATION_BACKENDS."
    else:
        return []
    return [checks.Error(
        message,
        hint="Add 'django_civic.backends.CivicSIPBackend' (and/or 'django_civic.backends.CivicAuthBackend') "
             "to AUTHENTICATION_BACKENDS, before ModelBackend.",
        id="django_civic.E002",
    )]


@checks.register()
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E003: logins need sessions and request.user."""
    missing = [path for path in _MIDDLEWARE if not _has_subclass(settings.MIDDLEWARE, path)]
    if not missing:
        return []
    return [checks.Error(
        f"django_civic needs {', '.join(missing)} in MIDDLEWARE.",
        hint="Add it after SecurityMiddleware (sessions) and after SessionMiddleware (authentication).",
        id="django_civic.E003",
    )]


@checks.register(checks.Tags.security)
def check_sandbox(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E004: the sandbox's keys are public; a production site must never trust them."""
    if not civic_settings.SANDBOX or settings.DEBUG or civic_settings.SANDBOX_ALLOW_WITHOUT_DEBUG:
        return []
    return [checks.Error(
        "CIVIC['SANDBOX'] is on while DEBUG is False: anyone can mint logins with the sandbox's public keys.",
        hint="Turn SANDBOX off in production. For a deliberate staging or CI setup, set "
             "CIVIC['SANDBOX_ALLOW_WITHOUT_DEBUG'] = True.",
        id="django_civic.E004",
    )]


@checks.register(checks.Tags.security)
def check_sandbox_url(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E009: in sandbox mode the server calls SANDBOX_URL; it comes from settings, never from a request."""
    url = civic_settings.SANDBOX_URL
    if not civic_settings.SANDBOX or (isinstance(url, str) and url.startswith(("http://", "https://"))):
        return []
    return [checks.Error(
        f"CIVIC['SANDBOX_URL'] = {url!r} is not an absolute http(s) URL.",
        hint="Set it to where the sandbox answers: this site's mount "
             "(e.g. 'http://127.0.0.1:8000/civic-sandbox/' under runserver) or a stand-alone sandbox "
             "('python -m django_civic.sandbox').",
        id="django_civic.E009",
    )]


# The namespace of django_civic.sandbox.urls (and of the stand-alone server's routes): found by name so
# that this check never imports the sandbox itself.
_SANDBOX_NAMESPACE = "civic_sandbox"


def _sandbox_mounts(patterns: Any, prefix: str = "") -> list[str]:
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            route = prefix + str(pattern.pattern)
            if pattern.app_name == _SANDBOX_NAMESPACE:
                found.append(route)
            else:
                found.extend(_sandbox_mounts(pattern.url_patterns, route))
    return found


@checks.register(checks.Tags.security, deploy=True)
def check_sandbox_mounted(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E008: a production URLconf should not carry the sandbox, even though it answers nothing
    without DEBUG."""
    mounts = _sandbox_mounts(get_resolver().url_patterns)
    if not mounts:
        return []
    return [checks.Error(
        f"The sandbox (django_civic.sandbox.urls) is mounted at {', '.join(repr(m) for m in mounts)}: "
        "its test credentials and control API must never be part of a production site.",
        hint="Remove the include('django_civic.sandbox.urls') line from the URLconf of production, "
             "or include it only under DEBUG. It answers 404 unless CIVIC['SANDBOX'] and DEBUG are both on.",
        id="django_civic.E008",
    )]


@checks.register(checks.Tags.security)
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E006 (malformed keys) and W003 (keys derived from SECRET_KEY in production)."""
    from django_civic.core.encryption import configured_key_strings, digest_key

    try:
        _keys, derived = configured_key_strings()
        digest_key()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), hint="A list of long random strings, the newest first.",
                             id="django_civic.E006")]
    derived_digest = civic_settings.DIGEST_KEY is None
    if settings.DEBUG or not (derived or derived_digest):
        return []
    which = " and ".join(name for name, flag in (("ENCRYPTION_KEYS", derived), ("DIGEST_KEY", derived_digest))
                         if flag)
    return [checks.Warning(
        f"CIVIC[{which}] not set: the keys protecting verified attributes are derived from SECRET_KEY.",
        hint="Set CIVIC['ENCRYPTION_KEYS'] and CIVIC['DIGEST_KEY'] to their own secrets; otherwise rotating "
             "SECRET_KEY (without SECRET_KEY_FALLBACKS) makes stored attributes unreadable and unsearchable.",
        id="django_civic.W003",
    )]


def _configured_caches() -> dict[str, Any]:
    return getattr(settings, "CACHES", {}) or {}


@checks.register(checks.Tags.caches)
def check_replay_cache(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E007 (no such cache) and W004 (a cache other processes cannot see)."""
    alias = civic_settings.CACHE_ALIAS
    configured = _configured_caches()
    if alias not in configured:
        return [checks.Error(
            f"CIVIC['CACHE_ALIAS'] = {alias!r} is not in CACHES.",
            hint="Name a shared cache (Redis, Memcached or the database cache).",
            id="django_civic.E007",
        )]
    backend = configured[alias].get("BACKEND", "")
    if not any(_has_subclass([backend], path) for path in _PER_PROCESS_CACHES):
        return []
    return [checks.Warning(
        f"The cache {alias!r} ({backend.rsplit('.', 1)[-1]}) is per process: single-use auth codes and "
        "tokens could be replayed against another worker or server.",
        hint="Point CIVIC['CACHE_ALIAS'] at a shared cache: Redis, Memcached or the database cache.",
        id="django_civic.W004",
    )]


_REPLAY_DOWN = "every Civic login would be refused (503 replay_check_unavailable)"


@checks.register(checks.Tags.caches)
def check_cache_usable(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E010: the cache cannot even be created, found without connecting (this runs on every command).

    Creating a cache imports its ``BACKEND`` and, for most backends, their client library. Django's
    ``RedisCache`` imports redis-py only when it first builds its client, so that client is built here
    too: building it does not connect.
    """
    alias = civic_settings.CACHE_ALIAS
    if alias not in _configured_caches():
        return []  # E007
    try:
        cache = caches[alias]
        if isinstance(cache, RedisCache):
            _client = cache._cache  # builds the client, which imports redis-py
    except (ImportError, InvalidCacheBackendError) as exc:
        return [checks.Error(
            f"The cache {alias!r} (CIVIC['CACHE_ALIAS']) cannot be used: {exc}. Until it can, "
            f"{_REPLAY_DOWN}.",
            hint="Install the cache's client library (for Redis: pip install 'django-civic[redis]'), or fix "
                 "its BACKEND in CACHES.",
            id="django_civic.E010",
        )]
    return []


@checks.register(checks.Tags.caches, deploy=True)
def check_cache_answers(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """W005 (``check --deploy`` only: it talks to the cache server): a set/get round trip fails."""
    alias = civic_settings.CACHE_ALIAS
    if alias not in _configured_caches() or check_cache_usable():
        return []  # E007 or E010 said why already
    key, value = f"django_civic:check:{secrets.token_hex(8)}", secrets.token_hex(8)
    cache = caches[alias]
    try:
        cache.set(key, value, 10)
        answered = cache.get(key)
        cache.delete(key)
    except Exception as exc:  # any backend failure: that is what this check is for
        problem = f"failed ({type(exc).__name__}: {exc})"
    else:
        if answered == value:
            return []
        problem = "did not keep a value for the next read"
    return [checks.Warning(
        f"A set/get round trip with the cache {alias!r} (CIVIC['CACHE_ALIAS']) {problem}: while it does, "
        f"{_REPLAY_DOWN}.",
        hint="Start the cache server (the README's settings: Redis at 127.0.0.1:6379) or fix its LOCATION.",
        id="django_civic.W005",
    )]
