"""The demo in a real browser: button -> sandbox wallet -> approve -> logged in on the profile page.

Nothing is stubbed: the page loads the sandbox's civic.sip.js, the wallet runs in its iframe, civic.js
posts the code to /civic/sip/exchange/ with the CSRF token, and the site exchanges it with the sandbox
mounted in the same live server, over HTTP.
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from django.contrib.auth import get_user_model

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/django_civic_demo_profile.png"
SCREENSHOT_WALLET = "/tmp/django_civic_demo_wallet.png"


def approve_in_wallet(page, persona):
    wallet = page.frame_locator("#civic-sr-frame")
    wallet.get_by_test_id(f"sandbox-persona-{persona}").check()
    wallet.get_by_test_id("sandbox-approve").click()


def inject_fault(site, **fault):
    request = urllib.request.Request(f"{site}/civic-sandbox/control/faults", data=json.dumps(fault).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


def status_of(page, button_id):
    described_by = page.locator(f"#{button_id}").get_attribute("aria-describedby")
    return page.locator(f"#{described_by}")


def test_basic_signup_logs_alice_in(page, site):
    from playwright.sync_api import expect

    page.goto(f"{site}/")
    page.locator("#civic-basic-signup").click()
    expect(page.locator("#civic-sr-frame")).to_be_visible()
    expect(page.frame_locator("#civic-sr-frame").get_by_test_id("sandbox-persona-alice")).to_be_visible()
    expect(status_of(page, "civic-basic-signup")).to_have_text("Waiting for Civic…")
    page.screenshot(path=SCREENSHOT_WALLET)
    approve_in_wallet(page, "alice")

    page.wait_for_url(f"{site}/profile/")
    expect(page.get_by_test_id("profile-email")).to_have_text("alice@example.com")
    expect(page.get_by_role("cell", name="+1 5556187380")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert page.javascript_errors == []

    user = get_user_model().objects.get(email="alice@example.com")
    assert user.civic_identities.get().provider == "civic_sip"

    # Logging out is a POST from the page; afterwards the profile needs a login again.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{site}/")
    page.goto(f"{site}/profile/")
    assert page.url.startswith(f"{site}/?next=")


def test_cancel_shows_the_cancel_message(page, site):
    from playwright.sync_api import expect

    page.goto(f"{site}/")
    page.locator("#civic-anonymous-login").click()
    page.frame_locator("#civic-sr-frame").get_by_test_id("sandbox-deny").click()

    status = status_of(page, "civic-anonymous-login")
    expect(status).to_have_text("Sign-in with Civic was cancelled.")
    expect(status).to_have_attribute("role", "status")
    expect(page.locator("#civic-anonymous-login")).to_be_enabled()
    expect(page.locator("#civic-sr-frame")).to_have_count(0)
    assert page.url == f"{site}/"
    assert get_user_model().objects.count() == 0


def test_a_civic_timeout_is_shown_as_a_message(page, site):
    from playwright.sync_api import expect

    page.goto(f"{site}/")
    inject_fault(site, channel="sip.exchange", kind="status", status=504, count=1)
    page.locator("#civic-basic-signup").click()
    approve_in_wallet(page, "alice")

    status = status_of(page, "civic-basic-signup")
    expect(status).to_have_text("Civic did not answer in time. Please try again.")
    expect(status).to_have_attribute("data-state", "error")
    assert page.url == f"{site}/"
    assert get_user_model().objects.count() == 0

    # The button works again straight away, with a new code.
    page.locator("#civic-basic-signup").click()
    approve_in_wallet(page, "alice")
    page.wait_for_url(f"{site}/profile/")


def test_proof_of_identity_shows_the_document_thumbnail(page, site):
    from playwright.sync_api import expect

    page.goto(f"{site}/")
    page.locator("#civic-proof-of-identity").click()
    approve_in_wallet(page, "carol")
    page.wait_for_url(f"{site}/profile/")
    expect(page.get_by_role("cell", name="P12345678")).to_be_visible()
    thumbnail = page.locator("img.thumbnail")
    expect(thumbnail).to_have_count(1)
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth > 0")
    box = thumbnail.bounding_box()
    assert box["width"] <= 96 and box["height"] <= 96


def test_mobile_return_with_uuid_resumes_the_request(page, site):
    """Civic's app reopens the page with ?uuid=...: civic.sip.js resumes on its own, civic.js finishes it."""
    from playwright.sync_api import expect

    # The request was started on this device from the anonymous button (civic.js remembers it).
    page.goto(f"{site}/")
    page.locator("#civic-anonymous-login").click()
    page.frame_locator("#civic-sr-frame").get_by_test_id("sandbox-persona-alice").wait_for()
    assert "ANONYMOUS_LOGIN" in page.evaluate("localStorage.getItem('django_civic:pending')")

    # The app opens a new tab on the partner page with the uuid appended.
    mobile_tab = page.context.new_page()
    mobile_tab.goto(f"{site}/?uuid=0f7a3c2e-5b8d-4e1a-9c6f-2d4b8e1a7c3f")
    expect(mobile_tab.locator("#civic-sr-frame")).to_be_visible()
    expect(status_of(mobile_tab, "civic-anonymous-login")).to_have_text("Waiting for Civic…")
    approve_in_wallet(mobile_tab, "alice")
    mobile_tab.wait_for_url(f"{site}/profile/")
    expect(mobile_tab.get_by_test_id("profile-email")).to_have_text("alice@example.com")
    assert mobile_tab.evaluate("localStorage.getItem('django_civic:pending')") is None
