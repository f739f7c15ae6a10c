"""The account pages in a real browser (Debian's Chromium through Playwright): sign in on the login page,
connect a second login, disconnect one, see the profile, sign out, with the messages each step shows;
the pages at 1280 px and on a 390 px phone, and the admin at 1280 px.

Nothing is stubbed: the wallet, the Civic Auth provider and the exchange run in the sandbox mounted in
the same live server, over HTTP. Screenshots go to docs/screenshots/ (committed, shown in docs/account.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from django_civic.models import CivicIdentity

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# The changelist's table does not scroll sideways in its box (+1: sub-pixel rounding).
TABLE_FITS = ("(() => { const t = document.querySelector('#result_list');"
              " return t.scrollWidth <= t.parentElement.clientWidth + 1; })()")


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def fits(page):
    """Nothing wider than the window: no sideways scrolling."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def notice(page):
    return page.get_by_test_id("civic-messages")


def test_sign_in_connect_disconnect_and_sign_out(page, site):
    from playwright.sync_api import expect

    page.goto(f"{site}/civic/account/login/?next=/civic/account/connections/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("textbox", name="Password")).to_be_visible()  # the password form has real labels
    assert fits(page)
    shot(page, "account-login")

    # Sign in with Civic SIP: the wallet, alice, approve; the connections page says so.
    page.locator("#civic-basic-signup").click()
    wallet = page.frame_locator("#civic-sr-frame")
    wallet.get_by_test_id("sandbox-persona-alice").check()
    wallet.get_by_test_id("sandbox-approve").click()
    page.wait_for_url(f"{site}/civic/account/connections/")
    expect(notice(page)).to_contain_text("You are signed in.")
    expect(page.locator("[data-provider=civic_sip]")).to_contain_text("Your only way to sign in")

    # Connect Civic Auth to the same account.
    page.locator("#civic-auth").click()
    page.get_by_test_id("oidc-persona-alice").click()
    page.wait_for_url(f"{site}/civic/account/connections/")
    expect(notice(page)).to_contain_text("Your Civic Auth login is now connected to this account.")
    expect(page.locator("[data-provider=civic_auth]")).to_be_visible()
    assert get_user_model().objects.count() == 1 and CivicIdentity.objects.count() == 2
    assert fits(page)
    shot(page, "account-connections")

    # Disconnect Civic SIP; Civic Auth stays, now the only way in.
    sip = CivicIdentity.objects.get(provider="civic_sip")
    page.locator(f"#civic-disconnect-{sip.pk}").click()
    expect(notice(page)).to_contain_text("Your Civic SIP login was disconnected.")
    expect(page.locator("[data-provider=civic_sip]")).to_have_count(0)
    expect(page.locator("[data-provider=civic_auth]")).to_contain_text("Your only way to sign in")

    # The profile: human labels, validity, where each came from.
    page.goto(f"{site}/civic/account/profile/")
    expect(page.get_by_role("heading", name="From Civic Auth")).to_be_visible()
    expect(page.get_by_role("row", name="Given name Alice Verified")).to_be_visible()
    expect(page.get_by_test_id("civic-profile-name")).to_have_text("Alice Walker")
    shot(page, "account-profile")

    # Sign out: the page asks, the button signs out, the login page says so.
    page.get_by_role("link", name="Sign out").click()
    expect(page.locator("#civic-logout")).to_be_focused()
    shot(page, "account-logout")
    page.locator("#civic-logout").click()
    page.wait_for_url(f"{site}/civic/account/login/")
    expect(notice(page)).to_contain_text("You have signed out.")
    assert page.javascript_errors == []


def test_a_login_of_another_account_is_refused_in_the_browser(page, site):
    from playwright.sync_api import expect

    # carol's account exists through Civic Auth; alice, signed in, tries carol's Civic Auth login.
    page.goto(f"{site}/civic/account/login/")
    page.locator("#civic-auth").click()
    page.get_by_test_id("oidc-persona-carol").click()
    page.context.clear_cookies()
    page.goto(f"{site}/civic/account/login/?next=/civic/account/connections/")
    page.locator("#civic-basic-signup").click()
    wallet = page.frame_locator("#civic-sr-frame")
    wallet.get_by_test_id("sandbox-persona-alice").check()
    wallet.get_by_test_id("sandbox-approve").click()
    page.wait_for_url(f"{site}/civic/account/connections/")
    page.locator("#civic-auth").click()
    page.get_by_test_id("oidc-persona-carol").click()
    page.wait_for_url(f"{site}/civic/account/connections/")
    expect(notice(page)).to_contain_text("This login belongs to another account.")
    expect(page.locator("[data-provider=civic_auth]")).to_have_count(0)
    assert get_user_model().objects.count() == 2
    shot(page, "account-connect-refused")


def test_the_pages_fit_a_phone(browser, site):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=PHONE, locale="en-US", is_mobile=True)
    page = context.new_page()
    try:
        page.goto(f"{site}/civic/account/login/")
        assert fits(page)
        shot(page, "account-login-phone")
        page.locator("#civic-auth").click()
        page.get_by_test_id("oidc-persona-carol").click()
        for path in ("connections", "profile"):
            name = f"account-{path}-phone"
            page.goto(f"{site}/civic/account/{path}/")
            expect(page.locator("h1")).to_be_visible()
            assert fits(page), path
            shot(page, name)
    finally:
        context.close()


def test_the_admin_shows_verification_at_a_glance_at_1280(browser, site):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    page = context.new_page()
    try:
        # Two people signed in through Civic Auth (its provider is an issuer URL), one through Civic SIP.
        for persona in ("alice", "carol"):
            page.goto(f"{site}/civic/account/login/")
            page.locator("#civic-auth").click()
            page.get_by_test_id(f"oidc-persona-{persona}").click()
            page.context.clear_cookies()
        get_user_model().objects.create_superuser("admin", "admin@example.com", "civic-demo")
        page.goto(f"{site}/admin/login/")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill("civic-demo")
        page.get_by_role("button", name="Log in").click()

        page.goto(f"{site}/admin/auth/user/")
        expect(page.get_by_role("link", name="Civic SIP")).to_be_visible()  # the provider filter
        alice = page.locator("#result_list tr", has=page.get_by_role("link", name="alice", exact=True))
        expect(alice.locator("td.field-civic_verification")).to_have_text("Civic Authemail ✓")
        # Every column visible beside the filters: the table does not scroll sideways in its box.
        assert page.evaluate(TABLE_FITS)
        assert fits(page)
        shot(page, "admin-users")

        page.goto(f"{site}/admin/django_civic/civicidentity/")
        expect(page.locator("td.field-provider_display").first).to_have_text("Civic Auth")
        assert page.evaluate(TABLE_FITS)
        assert "/oauth/" not in page.locator("#result_list").inner_text()
        assert fits(page)
        shot(page, "admin-identities")

        page.locator("th.field-short_subject a").first.click()
        expect(page.get_by_text("Given name", exact=True)).to_have_count(1)
        assert fits(page)
        shot(page, "admin-identity")
    finally:
        context.close()
