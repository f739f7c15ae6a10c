"""The sandbox stays out of production: nothing of it loads in a production configuration, a mounted
sandbox answers nothing unless ``SANDBOX`` and ``DEBUG`` are on, and the URLs the server calls in sandbox
mode come from settings, never from the request's ``Host``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.test import Client

from django_civic.models import CivicIdentity
from django_civic.sandbox import defaults
from django_civic.sandbox.idemia.testing import RecordingServer

PRODUCTION_SITE = textwrap.dedent("""
    import sys
    from django.conf import settings
    settings.configure(
        DEBUG=False, SECRET_KEY="x" * 50, ALLOWED_HOSTS=["example.com"], ROOT_URLCONF="django_civic.urls",
        INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
                        "django.contrib.sessions", "django.contrib.messages", "rest_framework",
                        "django_civic"],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                    "django.contrib.auth.middleware.AuthenticationMiddleware",
                    "django.contrib.messages.middleware.MessageMiddleware"],
        AUTHENTICATION_BACKENDS=["django_civic.backends.CivicSIPBackend",
                                 "django_civic.backends.CivicAuthBackend"],
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
    import django_civic.admin, django_civic.account.urls
    import django_civic.backends, django_civic.templatetags.civic
    from django_civic.sip.client import get_sip_client
    from django_civic.civic_auth.client import oidc_config
    get_resolver().url_patterns
    checks.run_checks()
    get_sip_client()
    oidc_config()
    get_template("django_civic/button.html")
    print(sorted(name for name in sys.modules if name.startswith("django_civic.sandbox")))
""")


def test_production_site_never_imports_the_sandbox():
    result = subprocess.run([sys.executable, "-c", PRODUCTION_SITE], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


# -- a mounted sandbox answers nothing outside development (issue 13, item 3) ------------------------------
#
# The tests' URLconf is the example project's, which mounts django_civic.sandbox.urls at civic-sandbox/, as
# the README tells sites to. The attack: a production site (DEBUG off, real credentials) that kept that
# line. Every request below is what an outsider sends: read the test credentials, mint a SIP code, register
# an app, queue a fault, and make the server post JSON to a URL of their choosing (an IDEMIA session whose
# callback is the attacker's, completed through the control API).

MOUNT = "/civic-sandbox/"
PRODUCTION_CIVIC = {"SIP": {"APP_ID": "app", "APP_SECRET": "00" * 16, "PRIVATE_KEY": "11" * 32},
                    "AUTH": {"CLIENT_ID": "client"}}


def _attacks(callback_url: str) -> list[tuple[str, str, dict]]:
    session = "00000000-0000-4000-8000-000000000000"
    return [
        ("get", "", {}),
        ("get", "sip/js/civic.sip.js", {}),
        ("get", "sip/wallet/", {}),
        ("get", "oauth/.well-known/openid-configuration", {}),
        ("get", "oauth/jwks", {}),
        ("get", "control/oidc/clients", {}),
        ("post", "control/sip/codes", {"persona": "alice"}),
        ("post", "control/sip/apps", {"appId": "mine", "appSecret": "A" * 32}),
        ("post", "control/oidc/tokens", {"type": "id", "persona": "alice"}),
        ("post", "control/faults", {"channel": "sip.exchange", "kind": "status", "status": 500}),
        ("post", "sip/wallet/approve", {"appId": defaults.SIP_APP_ID, "verificationLevel": "Anonymous_Login",
                                        "persona": "anon"}),
        ("post", "idemia/oauth2/token", {"grant_type": "client_credentials"}),
        ("post", "idemia/rp/api/v1/sessions", {"callbackUrl": callback_url, "gotoUrl": callback_url}),
        ("post", f"control/idemia/sessions/{session}/complete", {"outcome": "VERIFIED", "wait": True}),
        ("post", "control/reset", {}),
    ]


def _sandbox_state(civic_sandbox) -> dict:
    """What the sandbox holds, read through the stand-alone fixture (one state per process)."""
    return {path: civic_sandbox.control("GET", path)
            for path in ("faults", "sip/apps", "oidc/clients", "oidc/keys", "idemia/state",
                         "idemia/sessions")}


@pytest.mark.parametrize("name, debug, civic", [
    ("production", False, PRODUCTION_CIVIC),                                       # the reported attack
    ("sandbox_without_debug", False, {"SANDBOX": True, "SANDBOX_ALLOW_WITHOUT_DEBUG": True}),  # staging
    ("debug_without_sandbox", True, PRODUCTION_CIVIC),                             # DEBUG alone is not enough
])
def test_a_mounted_sandbox_answers_nothing_unless_sandbox_and_debug_are_on(
        db, settings, civic_sandbox, name, debug, civic, record_figure):
    settings.DEBUG, settings.CIVIC = debug, civic
    civic_sandbox.reset()
    before = _sandbox_state(civic_sandbox)
    client = Client()
    never_mounted = client.get("/no-such-mount/")
    with RecordingServer() as attacker:
        attacks = _attacks(attacker.url + "callback")
        for method, path, body in attacks:
            if method == "get":
                response = client.get(MOUNT + path)
            else:
                response = client.post(MOUNT + path, body, content_type="application/json")
            # The site's own 404: without DEBUG byte for byte the answer of a path that was never mounted
            # (with DEBUG, Django's technical 404 page, which names the path it was asked for).
            assert response.status_code == 404, (path, response.status_code, response.content[:200])
            assert response["Content-Type"] == never_mounted["Content-Type"], path
            assert debug or response.content == never_mounted.content, path
            assert defaults.SIP_APP_SECRET.encode() not in response.content
        assert attacker.requests == []  # the server posted nothing to the attacker's URL
    assert _sandbox_state(civic_sandbox) == before
    record_figure(f"sandbox_exposure.{name}", requests=len(attacks), answered=0, calls_to_attacker_url=0,
                  state_changes=0)


def test_a_mounted_sandbox_answers_in_development(db, settings):
    settings.DEBUG, settings.CIVIC = True, {"SANDBOX": True}
    response = Client().get(MOUNT)
    assert response.status_code == 200 and response.json()["sandbox"] == "django_civic"
    # Settings are read on every request: switching the sandbox off closes the mount at once.
    settings.CIVIC = {"SANDBOX": False}
    assert Client().get(MOUNT).status_code == 404


# -- the URLs the server calls come from settings, never from the request's Host ---------------------------


@pytest.fixture
def decoy():
    """A server on a local port that an attacker names in the Host header: it must never be called."""
    with RecordingServer() as server:
        yield server


def _host_of(server) -> str:
    return server.url.split("//", 1)[1].rstrip("/")


def test_the_host_header_never_chooses_where_the_server_calls(db, settings, civic_sandbox, decoy):
    """``CIVIC = {"SANDBOX": True}`` as in the README; the site reached as ``Host: 127.0.0.1:<decoy port>``.

    The SIP exchange, the OIDC discovery behind a Civic Auth login and IDEMIA's token and session calls all
    go to ``CIVIC["SANDBOX_URL"]`` (here its default, where nothing of this test listens); before the fix
    they went to the port the Host header named.
    """
    caches["default"].clear()
    settings.DEBUG = True
    settings.CIVIC = {"SANDBOX": True, "HTTP_TIMEOUT": 2.0, "API": {"THROTTLE_RATE": None}}
    host = _host_of(decoy)
    web = Client(HTTP_HOST=host)
    code = civic_sandbox.mint_code("alice", "BASIC_SIGNUP")["authToken"]
    exchanged = web.post("/civic/sip/exchange/", {"token": code}, content_type="application/json")
    web.post("/civic/auth/login/", {"next": "/profile/"})
    user = get_user_model().objects.create_user("ada", password="pw")
    web.force_login(user)
    web.post("/civic/proofing/start/")
    assert decoy.requests == [], [(r["method"], r["path"]) for r in decoy.requests]
    assert exchanged.status_code >= 400  # the configured sandbox is not running: an error, never a login
    assert CivicIdentity.objects.count() == 0


def test_sandbox_calls_go_to_the_configured_url_whatever_the_host(db, settings, civic_sandbox, decoy):
    """With ``SANDBOX_URL`` set (the fixture's sandbox), a login through a Host naming another port works
    against the configured sandbox, and the other port hears nothing."""
    caches["default"].clear()
    settings.DEBUG = True
    settings.CIVIC = civic_sandbox.civic_settings(API={"THROTTLE_RATE": None})
    web = Client(HTTP_HOST=_host_of(decoy))
    code = civic_sandbox.mint_code("alice", "BASIC_SIGNUP")["authToken"]
    response = web.post("/civic/sip/exchange/", {"token": code}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert CivicIdentity.objects.count() == 1 and decoy.requests == []


def test_one_persona_is_one_user_whether_the_site_is_localhost_or_127_0_0_1(db, settings, civic_sandbox):
    """The OIDC issuer, which is the provider of every Civic Auth identity, is ``SANDBOX_URL + "oauth/"``
    however the browser reached the site: the same persona is the same user on both names."""
    caches["default"].clear()
    settings.DEBUG = True
    settings.CIVIC = civic_sandbox.civic_settings(API={"THROTTLE_RATE": None})
    users = set()
    for name in ("localhost", "127.0.0.1"):
        web = Client(SERVER_NAME=name)
        location = web.post("/civic/auth/login/", {"next": "/profile/"})["Location"]
        callback = urlsplit(civic_sandbox.oidc_approve(location, "alice")["redirect"])
        assert web.get(f"{callback.path}?{callback.query}").status_code == 302
        users.add(web.session["_auth_user_id"])
    assert len(users) == 1
    assert list(CivicIdentity.objects.values_list("provider", flat=True)) == [civic_sandbox.url + "oauth/"]
