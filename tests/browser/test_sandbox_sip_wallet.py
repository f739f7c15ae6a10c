"""The civic.sip.js stand-in and its wallet in a real Chromium, on a partner page of another origin.

No Django site here: the partner page is a static page on its own port that loads the sandbox's script, so
the cross-origin postMessage protocol is exercised exactly as on a real partner site. Uses this folder's
``browser``/``page`` fixtures (``make test-browser``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from django_civic.sandbox import defaults

# The wallet fills itself in from script: assertions go through Playwright's retrying expect().
expect = pytest.importorskip("playwright.sync_api", reason="pip install 'django-civic[browser]'").expect

pytestmark = pytest.mark.browser

EVENTS = ("auth-code-received", "user-cancelled", "read", "civic-sip-error")

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Partner</title>
<link rel="stylesheet" href="{sandbox}sip/css/civic-modal.css">
<script src="{sandbox}sip/js/civic.sip.js"></script>
</head><body>
<button id="signupButton" class="civic-button-a medium" type="button"><span>Log in with Civic</span></button>
<script>
  window.events = [];
  var query = new URLSearchParams(location.search);
  var civicSip = new civic.sip({{appId: query.get("app") || {app_id}}});
  {events}.forEach(function (name) {{
    civicSip.on(name, function (event) {{ window.events.push({{name: name, event: event}}); }});
  }});
  document.getElementById("signupButton").addEventListener("click", function () {{
    var scope = civicSip.ScopeRequests[query.get("scope") || "BASIC_SIGNUP"];
    civicSip.signup({{style: "popup", scopeRequest: scope}});
  }});
</script>
</body></html>
"""


@pytest.fixture
def partner(civic_sandbox) -> Iterator[str]:
    """A partner site on its own origin (another port) whose page loads the sandbox's civic.sip.js."""
    html = PAGE.format(sandbox=civic_sandbox.url, app_id=json.dumps(defaults.SIP_APP_ID),
                       events=json.dumps(list(EVENTS))).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the stdlib's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def events(page) -> list[dict]:
    return page.evaluate("window.events")


def wait_for_event(page, name: str) -> dict:
    page.wait_for_function("name => window.events.some(e => e.name === name)", arg=name)
    return next(e["event"] for e in events(page) if e["name"] == name)


@pytest.fixture(autouse=True)
def no_javascript_errors(page) -> Iterator[None]:
    yield
    assert page.javascript_errors == []


def test_approve_as_a_persona_delivers_an_auth_code_the_server_can_exchange(page, partner, civic_sandbox):
    page.goto(partner)
    page.click("#signupButton")
    expect(page.locator(".civic-modal.civic-show")).to_be_visible()
    assert "civic-hit-the-lights" in page.evaluate("document.body.className")
    wallet = page.frame_locator("#civic-sr-frame")
    expect(wallet.get_by_test_id("sandbox-app")).to_contain_text(defaults.SIP_APP_ID)
    expect(wallet.get_by_test_id("sandbox-persona-anon")).to_be_disabled()  # anon has no email or phone
    wallet.get_by_test_id("sandbox-persona-bob").check()
    wallet.get_by_test_id("sandbox-approve").click()

    event = wait_for_event(page, "auth-code-received")
    assert event["event"] == "scoperequest:data-received" and event["type"] == "code"
    assert wait_for_event(page, "read")["clientVersion"] == "v3"
    expect(page.locator(".civic-modal")).to_be_hidden()
    assert page.locator("#civic-sr-frame").count() == 0
    assert "civic-no-scroll" not in page.evaluate("document.body.className")

    data = civic_sandbox.sip_client().exchange_code(event["response"])
    assert data.email == "bob@example.org"


def test_deny_emits_user_cancelled_and_no_code(page, partner):
    page.goto(partner)
    page.click("#signupButton")
    page.frame_locator("#civic-sr-frame").get_by_test_id("sandbox-deny").click()
    assert wait_for_event(page, "user-cancelled") == {"event": "scoperequest:user-cancelled"}
    expect(page.locator(".civic-modal")).to_be_hidden()
    assert [e["name"] for e in events(page) if e["name"] == "auth-code-received"] == []


def test_proof_of_identity_only_carol_can_approve(page, partner, civic_sandbox):
    page.goto(partner + "?scope=PROOF_OF_IDENTITY")
    page.click("#signupButton")
    wallet = page.frame_locator("#civic-sr-frame")
    for name in ("alice", "bob", "anon"):
        expect(wallet.get_by_test_id(f"sandbox-persona-{name}")).to_be_disabled()
    expect(wallet.get_by_test_id("sandbox-persona-carol")).to_be_checked()
    wallet.get_by_test_id("sandbox-approve").click()
    data = civic_sandbox.sip_client().exchange_code(wait_for_event(page, "auth-code-received")["response"])
    assert data.get("documents.genericId.type").value == "Passport"


def test_messages_not_from_the_wallet_frame_are_ignored(page, partner, civic_sandbox):
    page.goto(partner)
    page.click("#signupButton")
    wallet = page.frame_locator("#civic-sr-frame")
    wallet.get_by_test_id("sandbox-persona-alice").wait_for()
    # A message claiming to be Civic's, posted by the page itself (wrong source and origin).
    page.evaluate("""() => new Promise(resolve => {
        window.postMessage({event: "scoperequest:data-received", type: "code", response: "forged"}, "*");
        setTimeout(resolve, 300);
    })""")
    assert [e for e in events(page) if e["name"] == "auth-code-received"] == []
    expect(page.locator(".civic-modal.civic-show")).to_be_visible()
    wallet.get_by_test_id("sandbox-approve").click()
    assert wait_for_event(page, "auth-code-received")["response"] != "forged"


def test_uuid_in_the_page_url_starts_the_login_like_the_mobile_return(page, partner):
    page.goto(partner + "?uuid=4f1c-uuid-from-the-app")
    wallet = page.frame_locator("#civic-sr-frame")
    expect(wallet.locator("#uuid-note")).to_contain_text("4f1c-uuid-from-the-app")
    expect(page.locator(".civic-modal.civic-show")).to_be_visible()


def test_unknown_app_reports_a_civic_sip_error(page, partner):
    page.goto(partner + "?app=not-registered")
    page.click("#signupButton")
    error = wait_for_event(page, "civic-sip-error")
    assert error["type"] == "runtime-error" and "not registered" in error["message"]
    expect(page.frame_locator("#civic-sr-frame").get_by_test_id("sandbox-approve")).to_be_disabled()


def test_emitter_api_and_constructor_contract(page, partner):
    page.goto(partner)
    result = page.evaluate("""() => {
        var sip = new civic.sip({appId: "x"}), calls = [];
        function f(tag) { calls.push(tag); }
        sip.once("a", f); sip.emit("a", 1); sip.emit("a", 2);
        sip.on("b", f); sip.off("b", f); sip.emit("b", 3);
        sip.addEventListener("c", f); sip.removeAllListeners("c"); sip.emit("c", 4);
        sip.on("d", f); sip.removeEventListener("d", f); sip.emit("d", 5);
        sip.on("e", f); sip.removeAllListeners(); sip.emit("e", 6);
        var error = null;
        try { new civic.sip({}); } catch (e) { error = e.message; }
        var link = civic.sip.injectButton("body", "Sign in");
        return {calls: calls, error: error, hasListeners: sip.hasListeners("e"),
                button: [link.className, link.id, link.querySelector(".civic-login").textContent],
                signupIsLogin: typeof sip.signup === "function" && typeof sip.login === "function",
                scope: sip.ScopeRequests.PROOF_OF_IDENTITY};
    }""")
    assert result == {"calls": [1], "error": "config-missing-app-id", "hasListeners": False,
                      "button": ["civic-button-a", "show-qrcode", "Sign in"], "signupIsLogin": True,
                      "scope": "proofOfIdentity"}
