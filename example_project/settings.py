"""The example site: django_civic with the sandbox on, SQLite, nothing to configure."""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "django-civic-example-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = True

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
    "example_project.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}

STATIC_URL = "/static/"
# django_civic's account pages: sign-in with every enabled way in, and back to the demo's profile.
LOGIN_URL = "django_civic:login"
LOGIN_REDIRECT_URL = "/profile/"
LOGOUT_REDIRECT_URL = "/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The sandbox (mounted at /civic-sandbox/) plays Civic and IDEMIA: no credentials needed. It answers only
# while SANDBOX and DEBUG are on, and the site calls it at CIVIC["SANDBOX_URL"], by default
# http://127.0.0.1:8000/civic-sandbox/ (`make demo`'s address); set it if you run the site elsewhere.
CIVIC = {
    "SANDBOX": True,
    # STORE_TOKENS: the API and hub pages use the Civic token of a Civic Auth login.
    "AUTH": {"STORE_TOKENS": True},
    # The site as an identity provider: password users get Civic tokens by federated exchange (the hub page).
    # The issuer is where django_civic.urls is included; `make demo` creates the signing key
    # (manage.py civic_idp_keys create), and demo/apps.py registers the issuer at the sandbox as Civic's
    # Integration page would.
    "IDP": {"ISSUER": "http://127.0.0.1:8000/civic/"},
}

# runserver is one process, so the local-memory cache does see every use of an auth code. A real site
# runs several workers and must point CIVIC["CACHE_ALIAS"] at Redis, Memcached or the database cache.
SILENCED_SYSTEM_CHECKS = ["django_civic.W004"]

# Show django_civic's own log lines (refusal codes, never tokens or personal data) in the console.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_civic": {"handlers": ["console"], "level": "INFO"}},
}
