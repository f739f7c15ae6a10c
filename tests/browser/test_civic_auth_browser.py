"""Civic Auth in a real browser: the demo's "Continue with Civic" -> the sandbox provider's persona chooser
-> back on the site, logged in; then the API page calls the API with the Civic access token only.

Nothing is stubbed: the site runs the authorization code flow with PKCE against the sandbox mounted in the
same live server, over HTTP, and the API call carries no cookie.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT_HOME = "/tmp/django_civic_civic_auth_home.png"
SCREENSHOT_CHOOSER = "/tmp/django_civic_civic_auth_chooser.png"
SCREENSHOT_API = "/tmp/django_civic_civic_auth_api.png"


@pytest.fixture
def civic_auth_site(site, settings):
    settings.CIVIC = {**settings.CIVIC, "AUTH": {"STORE_TOKENS": True}}
    return site


def test_continue_with_civic_logs_alice_in_and_the_api_accepts_her_token(page, civic_auth_site):
    from playwright.sync_api import expect

    site = civic_auth_site
    page.goto(f"{site}/")
    page.locator("#civic-auth").screenshot(path=SCREENSHOT_HOME)
    page.locator("#civic-auth-login").click()
    expect(page.get_by_test_id("oidc-chooser")).to_be_visible()
    assert page.url.startswith(f"{site}/civic-sandbox/oauth/auth?")
    page.screenshot(path=SCREENSHOT_CHOOSER)
    page.get_by_test_id("oidc-persona-alice").click()

    page.wait_for_url(f"{site}/profile/")
    expect(page.get_by_test_id("profile-email")).to_have_text("alice@example.com")
    user = get_user_model().objects.get(email="alice@example.com")
    assert user.civic_identities.get().provider == f"{site}/civic-sandbox/oauth/"

    page.goto(f"{site}/api-demo/")
    page.get_by_test_id("call-api").click()
    expect(page.get_by_test_id("api-result")).to_contain_text("200")
    expect(page.get_by_test_id("api-result")).to_contain_text('"email": "alice@example.com"')
    page.screenshot(path=SCREENSHOT_API, full_page=True)
    assert page.javascript_errors == []


def test_cancelling_at_civic_shows_a_retry(page, civic_auth_site):
    from playwright.sync_api import expect

    site = civic_auth_site
    page.goto(f"{site}/")
    page.locator("#civic-auth-login").click()
    page.get_by_test_id("oidc-deny").click()
    expect(page.get_by_test_id("civic-auth-error")).to_have_attribute("data-error-code", "access_denied")
    page.get_by_test_id("civic-auth-login").click()  # "Try again" starts a new login
    expect(page.get_by_test_id("oidc-chooser")).to_be_visible()
    page.get_by_test_id("oidc-persona-bob").click()
    page.wait_for_url(f"{site}/profile/")
    assert get_user_model().objects.count() == 1


def test_the_api_page_asks_for_a_civic_auth_login_first(page, civic_auth_site):
    from playwright.sync_api import expect

    page.goto(f"{civic_auth_site}/api-demo/")
    expect(page.get_by_test_id("api-needs-login")).to_be_visible()
