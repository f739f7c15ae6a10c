"""Test settings: the example project's apps on SQLite by default.

CIVIC_TEST_DB=postgres runs on PostgreSQL at 127.0.0.1:5432 (user postgres), CIVIC_TEST_DB=mysql on MariaDB
or MySQL at 127.0.0.1:3306 (user root, no password); CIVIC_TEST_CACHE=redis
uses Redis at 127.0.0.1:6379 as the cache (what replay protection relies on across processes).
MariaDB runs with the server's default collation (case-insensitive, as most sites have it), through
mysqlclient (the ``mysql`` extra).
"""

import os
from typing import Any

SECRET_KEY = "django-civic-tests-not-secret-but-long-enough-for-hs256"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"

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
    "django_tasks_db",  # the task queue a worker process reads (tests/test_proofing_tasks.py)
    "example_project.demo",
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

DATABASES: dict[str, dict[str, Any]]
if os.environ.get("CIVIC_TEST_DB") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("CIVIC_TEST_DB_NAME", "django_civic"),
            "USER": "postgres",
            "HOST": "127.0.0.1",
            "PORT": "5432",
        }
    }
elif os.environ.get("CIVIC_TEST_DB") == "mysql":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": os.environ.get("CIVIC_TEST_DB_NAME", "django_civic"),
            "USER": "root",
            "HOST": "127.0.0.1",
            "PORT": "3306",
            # utf8mb4: attribute values and names may be any Unicode (an emoji needs 4 bytes).
            "OPTIONS": {"charset": "utf8mb4"},
            "TEST": {"CHARSET": "utf8mb4"},
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

if os.environ.get("CIVIC_TEST_CACHE") == "redis":
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("CIVIC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
            "KEY_PREFIX": "django_civic_tests",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

STATIC_URL = "/static/"
LOGIN_URL = "/"
LOGIN_REDIRECT_URL = "/profile/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The sandbox is started by the civic_sandbox fixture; tests point CIVIC at it.
CIVIC = {"SANDBOX": True, "SANDBOX_ALLOW_WITHOUT_DEBUG": True}
SILENCED_SYSTEM_CHECKS = ["django_civic.W003", "django_civic.W004"]
