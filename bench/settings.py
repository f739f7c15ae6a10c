"""Django settings for the benchmark's in-process rows and its app servers.

Close to a production site: DEBUG off (so Django keeps no query log), the default password hasher
(PBKDF2, which row 4 compares against), sessions in the cache (Redis for row 5's app servers), as
Django's deployment documentation suggests for performance, and the sandbox in another process at
``CIVIC_BENCH_SANDBOX_URL``. Environment variables choose the database, cache and session store:

  CIVIC_BENCH_DB=sqlite (default: an in-memory database created per process) or postgres (the
  ``civic_bench`` database on 127.0.0.1, which the benchmark creates); CIVIC_BENCH_SCHEMA picks the
  PostgreSQL schema, CIVIC_BENCH_EXTRA_SCHEMAS adds one database alias per schema (row 7 keeps its
  10k and 1M data sets side by side in two schemas).
  CIVIC_BENCH_CACHE=locmem (default) or redis (127.0.0.1:6379 db 14, shared by the app servers).
  CIVIC_BENCH_SESSIONS=cache (default) or db (Django's default session store; row 4 reports both).
  CIVIC_BENCH_PEERS=1 installs the peers of rows 1 and 2 in the same site, each configured as its
  documentation says against the sandbox's provider: mozilla-django-oidc (``/oidc/``), django-allauth's
  ``openid_connect`` provider (``/accounts/oidc/civic/``) and djangorestframework-simplejwt. The other
  rows leave them out, so that allauth's middleware costs neither side of their comparisons.
"""

from __future__ import annotations

import os

SECRET_KEY = "django-civic-bench-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "bench.urls"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_civic",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "django_civic.backends.CivicSIPBackend",
    "django_civic.backends.CivicAuthBackend",
    "django.contrib.auth.backends.ModelBackend",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

BENCH_DATABASE_NAME = "civic_bench"


def _postgres(schema: str) -> dict:
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": BENCH_DATABASE_NAME,
        "USER": os.environ.get("CIVIC_BENCH_PGUSER", "postgres"),
        "HOST": "127.0.0.1",
        "PORT": "5432",
        "CONN_MAX_AGE": 600,
        "OPTIONS": {"options": f"-c search_path={schema}"},
    }


if os.environ.get("CIVIC_BENCH_DB") == "postgres":
    DATABASES = {"default": _postgres(os.environ.get("CIVIC_BENCH_SCHEMA", "public"))}
    # More schemas, each an alias of its own name, chosen per block with bench.router.use_database().
    for _schema in filter(None, os.environ.get("CIVIC_BENCH_EXTRA_SCHEMAS", "").split(",")):
        DATABASES[_schema] = _postgres(_schema)
    if len(DATABASES) > 1:
        DATABASE_ROUTERS = ["bench.router.ChosenDatabaseRouter"]
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

if os.environ.get("CIVIC_BENCH_CACHE") == "redis":
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/14",
            "KEY_PREFIX": "django_civic_bench",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

SESSION_ENGINE = {
    "cache": "django.contrib.sessions.backends.cache",
    "db": "django.contrib.sessions.backends.db",
}[os.environ.get("CIVIC_BENCH_SESSIONS", "cache")]

PEERS = os.environ.get("CIVIC_BENCH_PEERS") == "1"
if PEERS:
    _ISSUER = os.environ.get("CIVIC_BENCH_SANDBOX_URL", "http://127.0.0.1:8765/") + "oauth/"
    # The sandbox's default client (django_civic.core.sandbox_credentials) accepts any redirect URI on
    # localhost: the rows call the site as http://localhost/.
    from django_civic.core.sandbox_credentials import OIDC_CLIENT_ID, OIDC_CLIENT_SECRET

    INSTALLED_APPS += [
        "mozilla_django_oidc",
        "allauth",
        "allauth.account",
        "allauth.socialaccount",
        "allauth.socialaccount.providers.openid_connect",
        "rest_framework_simplejwt",
    ]
    MIDDLEWARE += ["allauth.account.middleware.AccountMiddleware"]
    # After ours: Django asks each backend in turn, and these accept any keyword arguments.
    AUTHENTICATION_BACKENDS += [
        "mozilla_django_oidc.auth.OIDCAuthenticationBackend",
        "allauth.account.auth_backends.AuthenticationBackend",
    ]
    # mozilla-django-oidc: https://mozilla-django-oidc.readthedocs.io/en/stable/installation.html
    OIDC_RP_CLIENT_ID = OIDC_CLIENT_ID
    OIDC_RP_CLIENT_SECRET = OIDC_CLIENT_SECRET
    OIDC_RP_SIGN_ALGO = "RS256"
    OIDC_OP_AUTHORIZATION_ENDPOINT = _ISSUER + "auth"
    OIDC_OP_TOKEN_ENDPOINT = _ISSUER + "token"
    OIDC_OP_USER_ENDPOINT = _ISSUER + "userinfo"
    OIDC_OP_JWKS_ENDPOINT = _ISSUER + "jwks"
    OIDC_RP_SCOPES = "openid email profile"
    LOGIN_REDIRECT_URL = "/"
    # django-allauth: https://docs.allauth.org/en/latest/socialaccount/providers/openid_connect.html
    SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "APPS": [
                {
                    "provider_id": "civic",
                    "name": "Civic",
                    "client_id": OIDC_CLIENT_ID,
                    "secret": OIDC_CLIENT_SECRET,
                    # allauth appends "/.well-known/openid-configuration" itself (OIDC Discovery 4.1
                    # wants the issuer's trailing slash removed first): the issuer without it.
                    "settings": {"server_url": _ISSUER.rstrip("/")},
                }
            ],
            "SCOPE": ["openid", "email", "profile"],
        }
    }
    SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
    ACCOUNT_EMAIL_VERIFICATION = "none"
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # simplejwt: https://django-rest-framework-simplejwt.readthedocs.io/en/latest/getting_started.html
    SIMPLE_JWT = {"SIGNING_KEY": "django-civic-bench-simplejwt-signing-key-0123456789"}

STATIC_URL = "/static/"
LOGIN_URL = "/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CIVIC = {
    "SANDBOX": True,
    "SANDBOX_URL": os.environ.get("CIVIC_BENCH_SANDBOX_URL", "http://127.0.0.1:8765/"),
    # The sandbox check refuses SANDBOX without DEBUG; the benchmark wants production-like DEBUG=False.
    "SANDBOX_ALLOW_WITHOUT_DEBUG": True,
    # Fixed keys, so that data generated once for row 7 stays readable in later runs.
    "ENCRYPTION_KEYS": ["django-civic-bench-encryption-key"],
    "DIGEST_KEY": "django-civic-bench-digest-key",
    # A load test is by definition over any sane per-client rate limit.
    "API": {"THROTTLE_RATE": "1000000/second"},
}
SILENCED_SYSTEM_CHECKS = ["django_civic.W004"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
