"""civic.sip.js, its CSS and the wallet, served by the sandbox on its own and mounted in a site."""

from __future__ import annotations

import json
import re

import pytest
import requests
from django.test import Client, override_settings

from django_civic.protocols.sip.crypto import generate_key_pair
from django_civic.sandbox import defaults
from django_civic.sip import SCOPE_REQUESTS

BASIC = ["contact.personal.email", "contact.personal.phoneNumber"]


def test_script_embeds_the_base_url_it_was_served_from(civic_sandbox):
    response = requests.get(f"{civic_sandbox.url}sip/js/civic.sip.js", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert f"var SANDBOX_BASE = {json.dumps(civic_sandbox.url)};" in response.text
    assert "__CIVIC_SANDBOX_BASE_URL__" not in response.text
    via_localhost = requests.get(f"{civic_sandbox.url}sip/js/civic.sip.min.js", timeout=5,
                                 headers={"Host": "localhost:1234"}).text
    assert 'var SANDBOX_BASE = "http://localhost:1234/";' in via_localhost


def test_script_base_url_cannot_break_out_of_its_string(civic_sandbox):
    text = requests.get(f"{civic_sandbox.url}sip/js/civic.sip.js", timeout=5,
                        headers={"Host": 'x";alert(1);"</script>'}).text
    line = next(line for line in text.splitlines() if "var SANDBOX_BASE" in line)
    assert line == r'  var SANDBOX_BASE = "http://x\";alert(1);\"\u003c/script>/";'


def test_script_has_civics_scope_request_names_and_wire_values(civic_sandbox):
    text = requests.get(f"{civic_sandbox.url}sip/js/civic.sip.js", timeout=5).text
    block = re.search(r"var SCOPE_REQUESTS = \{(.*?)\};", text, re.S).group(1)
    pairs = dict(re.findall(r"(\w+): \"([^\"]+)\"", block))
    assert pairs == SCOPE_REQUESTS
    for name in ("auth-code-received", "user-cancelled", "civic-sip-error", "hostedscoperequest:loaded",
                 "qrCode:scopeOptions", "scoperequest:data-received", "config-missing-app-id",
                 "civic-sr-frame",
                 "civic-iframe-zone", "civic-hit-the-lights", "removeAllListeners", "addEventListener"):
        assert name in text


def test_css_and_mark(civic_sandbox):
    for name in ("civic-modal.css", "civic-modal.min.css"):
        response = requests.get(f"{civic_sandbox.url}sip/css/{name}", timeout=5)
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/css")
        assert ".civic-modal.civic-show" in response.text and ".civic-button-a" in response.text
    mark = requests.get(f"{civic_sandbox.url}sip/images/civic-mark.svg", timeout=5)
    assert mark.headers["Content-Type"] == "image/svg+xml" and mark.text.startswith("<svg")


def test_wallet_page_and_its_assets(civic_sandbox):
    page = requests.get(f"{civic_sandbox.url}sip/wallet/", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    for testid in ("sandbox-approve", "sandbox-deny", "sandbox-wallet"):
        assert f'data-testid="{testid}"' in page.text
    assert "<script>" not in page.text  # no inline script: a strict CSP only needs the sandbox origin
    script = requests.get(f"{civic_sandbox.url}sip/wallet/wallet.js", timeout=5).text
    assert '"sandbox-persona-" + persona.name' in script
    assert requests.get(f"{civic_sandbox.url}sip/wallet/wallet.css", timeout=5).status_code == 200


def wallet(sandbox, path, body):
    return requests.post(f"{sandbox.url}sip/wallet/{path}", json=body, timeout=5)


def test_wallet_preview_lists_app_scope_and_who_can_approve(civic_sandbox):
    basic = wallet(civic_sandbox, "preview", {"appId": defaults.SIP_APP_ID, "attributes": BASIC})
    assert basic.status_code == 200
    body = basic.json()
    assert body["app"] == {"appId": defaults.SIP_APP_ID, "name": "Sandbox app"}
    assert body["scope"]["name"] == "BASIC_SIGNUP"
    assert {p["name"]: p["eligible"] for p in body["personas"]} == {
        "alice": True, "bob": True, "anon": False, "carol": True}
    poi = wallet(civic_sandbox, "preview",
                 {"appId": defaults.SIP_APP_ID, "verificationLevel": "proofOfIdentity"})
    assert {p["name"]: p["eligible"] for p in poi.json()["personas"]} == {
        "alice": False, "bob": False, "anon": False, "carol": True}
    anonymous = wallet(civic_sandbox, "preview",
                       {"appId": defaults.SIP_APP_ID, "verificationLevel": "Anonymous_Login"})
    assert all(p["eligible"] for p in anonymous.json()["personas"])


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"appId": "unknown", "verificationLevel": "Anonymous_Login"}, 404, "not registered"),
    ({"verificationLevel": "Anonymous_Login"}, 404, "not registered"),
    ({"appId": defaults.SIP_APP_ID, "verificationLevel": "proofOfAge"}, 400, "does not emulate"),
    ({"appId": defaults.SIP_APP_ID, "verificationLevel": 7}, 400, "unknown scope"),
    ({"appId": defaults.SIP_APP_ID, "attributes": []}, 400, "attributes"),
    ({"appId": defaults.SIP_APP_ID, "attributes": "contact.personal.email"}, 400, "attributes"),
])
def test_wallet_preview_refusals(civic_sandbox, body, status, message):
    response = wallet(civic_sandbox, "preview", body)
    assert response.status_code == status and message in response.json()["message"]


def test_wallet_approve_mints_a_code_for_the_chosen_persona(civic_sandbox):
    request = {"appId": defaults.SIP_APP_ID, "attributes": BASIC}
    approved = wallet(civic_sandbox, "approve", {**request, "persona": "bob"})
    assert approved.status_code == 200 and list(approved.json()) == ["authToken"]  # the code, never the data
    data = civic_sandbox.sip_client().exchange_code(approved.json()["authToken"])
    assert data.email == "bob@example.org" and not data.get("contact.personal.email").is_valid
    # Asking for one attribute releases only that one.
    only_phone = wallet(civic_sandbox, "approve", {"appId": defaults.SIP_APP_ID, "persona": "alice",
                                                   "attributes": ["contact.personal.phoneNumber"]})
    released = civic_sandbox.sip_client().exchange_code(only_phone.json()["authToken"]).attributes
    assert [a.label for a in released] == ["contact.personal.phoneNumber"]


@pytest.mark.parametrize(("persona", "status"), [("anon", 400), ("mallory", 400), (None, 400)])
def test_wallet_approve_refusals(civic_sandbox, persona, status):
    response = wallet(civic_sandbox, "approve", {"appId": defaults.SIP_APP_ID, "persona": persona,
                                                 "attributes": ["contact.personal.email"]})
    assert response.status_code == status and response.json()["message"]


# -- mounted in a site (the example project mounts it at civic-sandbox/) ---------------------------------


FRAMING_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


# A mounted sandbox answers only in development: CIVIC["SANDBOX"] (the tests' settings) and DEBUG.
@override_settings(MIDDLEWARE=FRAMING_MIDDLEWARE, DEBUG=True)
def test_mounted_wallet_may_be_framed_while_the_rest_of_the_site_may_not(db):
    client = Client()
    wallet_page = client.get("/civic-sandbox/sip/wallet/")
    assert wallet_page.status_code == 200
    assert not wallet_page.has_header("X-Frame-Options")
    script = client.get("/civic-sandbox/sip/js/civic.sip.js", HTTP_HOST="site.test")
    assert script["X-Frame-Options"] == "DENY"  # the middleware is active; only the wallet is exempt
    assert 'var SANDBOX_BASE = "http://site.test/civic-sandbox/";' in script.content.decode()


@override_settings(MIDDLEWARE=FRAMING_MIDDLEWARE, DEBUG=True)
def test_mounted_sandbox_posts_need_no_csrf_token(db):
    client = Client(enforce_csrf_checks=True)
    # CSRF is enforced on this site...
    assert client.post("/admin/login/", {"username": "x", "password": "y"}).status_code == 403
    # ...but the sandbox's POST endpoints are server-to-server or sandbox-internal.
    exchange = client.post("/civic-sandbox/sip/prod/scopeRequest/authCode", b"{}",
                           content_type="application/json")
    assert exchange.status_code == 401 and exchange.content == b"Unauthorized"
    request = {"appId": defaults.SIP_APP_ID, "verificationLevel": "Anonymous_Login"}
    preview = client.post("/civic-sandbox/sip/wallet/preview", request, content_type="application/json")
    assert preview.status_code == 200
    approved = client.post("/civic-sandbox/sip/wallet/approve", {**request, "persona": "anon"},
                           content_type="application/json")
    assert approved.status_code == 200 and approved.json()["authToken"].count(".") == 2
    minted = client.post("/civic-sandbox/control/sip/codes", {"persona": "alice"},
                         content_type="application/json")
    assert minted.status_code == 201
    _, public = generate_key_pair()
    registered = client.post("/civic-sandbox/control/sip/apps",
                             {"appId": "mounted-app", "appSecret": "A" * 32, "publicKey": public},
                             content_type="application/json")
    assert registered.status_code == 201
    client.post("/civic-sandbox/control/reset")
