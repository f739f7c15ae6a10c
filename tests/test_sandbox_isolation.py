"""Nothing of the sandbox loads in a production configuration (SANDBOX off, sandbox URLs not mounted)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PRODUCTION_SITE = textwrap.dedent("""
    import sys
    from django.conf import settings
    settings.configure(
        DEBUG=False, SECRET_KEY="x" * 50, ALLOWED_HOSTS=["example.com"], ROOT_URLCONF="django_civic.urls",
        INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
                        "django.contrib.sessions", "django.contrib.messages", "rest_framework", "django_civic"],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                    "django.contrib.auth.middleware.AuthenticationMiddleware",
                    "django.contrib.messages.middleware.MessageMiddleware"],
        AUTHENTICATION_BACKENDS=["django_civic.backends.CivicSIPBackend", "django_civic.backends.CivicAuthBackend"],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        CIVIC={"SIP": {"APP_ID": "app", "APP_SECRET": "00" * 16, "PRIVATE_KEY": "11" * 32},
               "AUTH": {"CLIENT_ID": "client"}},
    )
    import django
    django.setup()
    from django.core import checks
    from django.urls import get_resolver
    from django.template.loader import get_template
    import django_civic.admin, django_civic.api.urls, django_civic.backends, django_civic.templatetags.civic
    from django_civic.clients.sip import get_sip_client
    from django_civic.clients.oidc import oidc_config
    get_resolver().url_patterns
    checks.run_checks()
    get_sip_client()
    oidc_config()
    get_template("django_civic/button.html")
    print(sorted(name for name in sys.modules if name.startswith("django_civic.sandbox")))
""")


def test_production_site_never_imports_the_sandbox():
    result = subprocess.run([sys.executable, "-c", PRODUCTION_SITE], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
