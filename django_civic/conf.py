"""The ``CIVIC`` settings dict, read through one object.

``from django_civic.conf import civic_settings`` then ``civic_settings.SIP["APP_ID"]``. Defaults are
merged one level deep (``SIP``, ``AUTH``, ``IDEMIA``, ``API`` are dicts of their own), unknown or removed
keys raise ``ImproperlyConfigured`` with a pointer to the README, and the object reloads whenever
``override_settings`` changes ``CIVIC`` so tests can switch configurations freely.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

# Civic's published SIP signing key (civic-protocols.md A4): every Civic-issued token verifies with it.
CIVIC_SIP_PUBLIC_KEY = (
    "049a45998638cfb3c4b211d72030d9ae8329a242db63bfb0076a54e7647370a8ac"
    "5708b57af6065805d5a6be72332620932dbb35e8d318fce18e7c980a0eb26aa1"
)

DEFAULTS: dict[str, Any] = {
    # Point every endpoint and key at the bundled sandbox (development and tests only).
    "SANDBOX": False,
    # Base URL of the sandbox, used when SANDBOX is on. Fixed, never derived from a request (the server calls
    # it). The default is the sandbox mounted at ``civic-sandbox/`` under ``runserver``'s default address.
    "SANDBOX_URL": "http://127.0.0.1:8000/civic-sandbox/",
    # The system check refuses SANDBOX with DEBUG=False unless this is set on purpose.
    "SANDBOX_ALLOW_WITHOUT_DEBUG": False,
    "SIP": {
        "APP_ID": "",
        "APP_SECRET": "",
        # Civic's 64-hex private scalar or a PEM private key.
        "PRIVATE_KEY": "",
        "API_URL": "https://api.civic.com/sip/",
        "ENV": "prod",
        "CIVIC_PUBLIC_KEY": CIVIC_SIP_PUBLIC_KEY,
        "SCRIPT_URL": "https://hosted-sip.civic.com/js/civic.sip.min.js",
        "CSS_URL": "https://hosted-sip.civic.com/css/civic-modal.min.css",
        # Cap on the S3 "processed" payload that a large exchange downloads.
        "MAX_PAYLOAD_BYTES": 16 * 1024 * 1024,
        # The scope requests the login and connections pages offer, one button each.
        "LOGIN_SCOPES": ["BASIC_SIGNUP"],
    },
    "AUTH": {
        "CLIENT_ID": "",
        "CLIENT_SECRET": "",
        "ISSUER": "https://auth.civic.com/oauth/",
        "SCOPES": "openid email profile",
        "ALGORITHMS": ["RS256", "ES256"],
        "REDIRECT_URI": None,
        "POST_LOGOUT_REDIRECT_URI": None,
        "PROVIDER_LOGOUT": False,
        "LEEWAY": 60,
        "MAX_TOKEN_AGE": 3600,
        "JWKS_CACHE_SECONDS": 3600,
        "JWKS_REFETCH_COOLDOWN": 30,
        "ACCESS_TOKEN_AUDIENCE": None,
        # Bearer API requests: seconds this process remembers which user a verified (iss, sub) maps to,
        # so requests skip the database lookup. A user deactivated or unlinked in *another* process keeps
        # bearer access here for at most this long (in this process: at once). 0 disables the cache.
        "BEARER_USER_CACHE_SECONDS": 30,
        "HUB_URL": "https://app.civic.com/hub/mcp",
        # Discovery document lifetime in the shared cache (bounded by the provider's Cache-Control).
        "DISCOVERY_CACHE_SECONDS": 3600,
        # Redirect flow: after the ID token, also fetch userinfo (its sub must match) and record its claims.
        "FETCH_USERINFO": True,
        # Keep the Civic access/refresh tokens in the (server-side) session after a redirect login.
        "STORE_TOKENS": False,
        # Seconds a started login (state) or an API-issued nonce stays usable.
        "STATE_TTL": 600,
        "NONCE_TTL": 600,
        # Token exchange: the Civic profile to lock exchanged tokens to (civic_profile), and how long
        # before expiry a cached exchanged token is renewed (at most half its lifetime).
        "PROFILE_ID": None,
        "EXCHANGE_EXPIRY_MARGIN": 30,
    },
    # The site as an identity provider Civic trusts, so that every user (password logins included) can get a
    # Civic access token by federated token exchange (docs/civic-auth.md, "Civic's hub for every user").
    "IDP": {
        # The issuer URL Civic knows the site by: where django_civic.urls is included, e.g.
        # "https://example.com/civic/" (discovery at <issuer>.well-known/openid-configuration). None: off.
        "ISSUER": None,
        # The "aud" of the site's identity tokens, as registered at Civic. None: CIVIC["AUTH"]["CLIENT_ID"].
        "AUDIENCE": None,
        # Seconds an identity token is valid: it is exchanged at once, so keep it short.
        "TOKEN_LIFETIME": 300,
        # Cache-Control max-age of the JWKS and discovery document.
        "JWKS_MAX_AGE": 600,
    },
    "IDEMIA": {
        # Cognito token URL ("[COGNITO_URL]/oauth2/token"), IPA client id and secret (IDEMIA's portal).
        "TOKEN_URL": "",
        "CLIENT_ID": "",
        "CLIENT_SECRET": "",
        # rp-handler base URL ("https://rp-handler.did.idemia.io/"); sessions at api/v1/sessions under it.
        "RP_HANDLER_URL": "",
        # GIPS base URL ("https://<IDV host>/gips/") and the GIPS-RS (backend) API key.
        "GIPS_URL": "",
        "API_KEY": "",
        # IPA application id; when set, callbacks with another applicationId are refused.
        "APPLICATION_ID": "",
        # Public base URL of this site for the callback and return URLs (None: from the request's host).
        "CALLBACK_BASE_URL": None,
        # Seconds to wait for IDEMIA's callback before civic_reconcile_proofing marks a session timed out.
        "SESSION_TIMEOUT": 3600,
        # The lowest level of assurance counted as verified (LOA2: a document plus a matching face).
        "MIN_LEVEL_OF_ASSURANCE": "LOA2",
        # Proofing sessions a user may start per 24 hours.
        "MAX_SESSIONS_PER_DAY": 10,
        # Fetch IDEMIA's proof archive and keep it encrypted in the PROOF_STORAGE storage (an alias of
        # STORAGES).
        "STORE_PROOF": False,
        "PROOF_STORAGE": "default",
        # Days to keep finished proofing sessions and their proof archives (civic_purge_proofing);
        # None: forever.
        "RETENTION_DAYS": 365,
    },
    "API": {
        # How the exchange endpoints log the user in: "session", "token" (DRF authtoken) or "jwt" (simplejwt).
        "LOGIN_MODE": "session",
        "THROTTLE_RATE": "30/min",
    },
    # Fernet keys (any strings; each is stretched to a key). The first encrypts, all decrypt.
    # Empty: one key derived from SECRET_KEY (a warning in production, see django_civic.W003).
    "ENCRYPTION_KEYS": [],
    # Key for the searchable digest of attribute values. Must not change when encryption keys rotate.
    "DIGEST_KEY": None,
    "ADAPTER": "django_civic.core.adapter.DefaultCivicAdapter",
    "SIGNUP_OPEN": True,
    "LINK_BY_EMAIL": False,
    # Django user field <- verified attribute label, synced on each login.
    "USER_FIELD_MAP": {"email": "contact.personal.email"},
    "PROTECTED_USER_FIELDS": ["username", "password", "is_staff", "is_superuser", "is_active"],
    "LOGIN_REDIRECT_URL": None,
    "ALLOWED_REDIRECT_HOSTS": [],
    # How many reverse proxies in front of the site append to X-Forwarded-For (0: use REMOTE_ADDR).
    "TRUSTED_PROXY_COUNT": 0,
    "HTTP_TIMEOUT": 10.0,
    # Cache alias used for single-use codes, OIDC state, JWKS and token caches.
    "CACHE_ALIAS": "default",
    # Days to keep stored document images (image/portrait/selfie labels) after they were last verified;
    # None keeps them. Applied by django_civic.core.identities.purge_document_images() (run it periodically).
    "DOCUMENT_IMAGE_RETENTION_DAYS": None,
}

# Dicts whose keys are merged with the defaults instead of replacing them.
NESTED = ("SIP", "AUTH", "IDP", "IDEMIA", "API")

# Keys that existed once; using them is an error that says what replaced them.
REMOVED: dict[str, str] = {
    "IDEMIA.TASK_RUNNER": "the fetch after a callback is a task of Django's Tasks framework "
                          "(django_civic.idemia.tasks.fetch_proofing_result); choose its backend with "
                          "the TASKS setting (docs/proofing.md, \"Running the fetch\").",
}

# Keys whose value is a user-chosen dict, so unknown sub-keys are fine.
FREE_FORM = ("USER_FIELD_MAP",)


class CivicSettings:
    """Attribute access to ``settings.CIVIC`` merged over :data:`DEFAULTS`."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        user = getattr(settings, "CIVIC", {}) or {}
        if not isinstance(user, dict):
            raise ImproperlyConfigured("settings.CIVIC must be a dict.")
        merged: dict[str, Any] = {}
        for key in user:
            if key in REMOVED:
                raise ImproperlyConfigured(f"CIVIC[{key!r}] was removed: {REMOVED[key]}")
            if key not in DEFAULTS:
                raise ImproperlyConfigured(
                    f"Unknown setting CIVIC[{key!r}]. See the settings reference in django_civic's README."
                )
        for key, default in DEFAULTS.items():
            value = user.get(key, default)
            if key in NESTED:
                value = value or {}
                unknown = set(value) - set(default)
                for sub in sorted(unknown):
                    reason = REMOVED.get(f"{key}.{sub}")
                    if reason:
                        raise ImproperlyConfigured(f"CIVIC[{key!r}][{sub!r}] was removed: {reason}")
                if unknown:
                    raise ImproperlyConfigured(
                        f"Unknown setting(s) CIVIC[{key!r}]: {', '.join(sorted(unknown))}. "
                        "See the settings reference in django_civic's README."
                    )
                value = {**default, **value}
            merged[key] = value
        return merged

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._cache is None:
            self._cache = self._load()
        try:
            return self._cache[name]
        except KeyError:
            raise AttributeError(f"Invalid django_civic setting: {name!r}") from None

    def reload(self) -> None:
        self._cache = None


civic_settings = CivicSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting in ("CIVIC", "SECRET_KEY", "DEBUG"):
        civic_settings.reload()


setting_changed.connect(_reload)


def sandbox_url() -> str:
    """``CIVIC["SANDBOX_URL"]``, the sandbox's base URL, with a trailing slash.

    Always from settings, never from a request: the server calls this URL (SIP exchange, OIDC discovery,
    IDEMIA), so a ``Host`` header must not choose where those calls go, and the OIDC issuer (the provider
    of every sandbox identity) must be one string however the site was reached (``localhost`` or
    ``127.0.0.1``).
    """
    configured = civic_settings.SANDBOX_URL
    if not isinstance(configured, str) or not configured.startswith(("http://", "https://")):
        raise ImproperlyConfigured(
            "CIVIC['SANDBOX_URL'] must be the sandbox's absolute http(s) base URL, e.g. "
            "'http://127.0.0.1:8000/civic-sandbox/' (see django_civic.E009)."
        )
    return configured if configured.endswith("/") else configured + "/"
