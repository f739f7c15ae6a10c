"""IDEMIA identity proofing in a real browser, on the demo site with its own sandbox.

Log in with Civic (sandbox wallet), press "Start the identity check", get the QR code page, follow the
link to the (simulated) IDEMIA journey, pick a persona and an outcome, come back to the site, which learns
the result from IDEMIA's callback and GIPS, and find the verified attributes on the profile and in the admin.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from django_civic.models import ProofingSession

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT_QR = "/tmp/django_civic_demo_proofing_qr.png"
SCREENSHOT_JOURNEY = "/tmp/django_civic_demo_proofing_journey.png"
SCREENSHOT_PROFILE = "/tmp/django_civic_demo_proofing_profile.png"


def log_in_with_civic(page, site):
    page.goto(f"{site}/")
    page.locator("#civic-basic-signup").click()
    wallet = page.frame_locator("#civic-sr-frame")
    wallet.get_by_test_id("sandbox-persona-alice").check()
    wallet.get_by_test_id("sandbox-approve").click()
    page.wait_for_url(f"{site}/profile/")


def start_identity_check(page, site):
    from playwright.sync_api import expect

    page.goto(f"{site}/")
    page.get_by_test_id("proofing-start").click()
    page.wait_for_url(re.compile(rf"{re.escape(site)}/civic/proofing/[0-9a-f-]+/$"))
    expect(page.get_by_test_id("proofing-qr").locator("svg")).to_be_visible()
    expect(page.get_by_test_id("proofing-status")).to_have_attribute("data-status", "started")
    page.screenshot(path=SCREENSHOT_QR, full_page=True)


def test_prove_identity_and_see_it_on_the_profile_and_in_the_admin(page, site, browser):
    from playwright.sync_api import expect

    log_in_with_civic(page, site)
    start_identity_check(page, site)

    page.get_by_test_id("proofing-start-link").click()
    expect(page.get_by_test_id("idemia-sandbox-banner")).to_be_visible()
    page.get_by_test_id("idemia-persona-bob").check()
    page.screenshot(path=SCREENSHOT_JOURNEY, full_page=True)
    page.get_by_test_id("idemia-outcome-verified").click()

    # IDEMIA sends the browser back; the page follows the status until the callback and GIPS fetch are done.
    page.wait_for_url(re.compile(r".*/civic/proofing/[0-9a-f-]+/done/$"))
    expect(page.get_by_test_id("proofing-status")).to_have_attribute("data-status", "verified")
    expect(page.get_by_test_id("proofing-loa")).to_contain_text("LOA3")

    page.goto(f"{site}/profile/")
    expect(page.get_by_role("heading", name="IDEMIA", exact=True)).to_be_visible()  # core/labels.py
    expect(page.get_by_role("cell", name="Stone", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="FR9988776", exact=True)).to_be_visible()
    page.screenshot(path=SCREENSHOT_PROFILE, full_page=True)
    assert page.javascript_errors == []

    session = ProofingSession.objects.get()
    assert session.status == ProofingSession.Status.VERIFIED
    assert session.identity.user == get_user_model().objects.get(email="alice@example.com")

    # The admin: the session under the "verified" filter, its identity with masked attribute values.
    get_user_model().objects.create_superuser("root", "root@example.com", "admin-pw-123")
    admin_page = browser.new_context().new_page()
    admin_page.goto(f"{site}/admin/login/")
    admin_page.fill("#id_username", "root")
    admin_page.fill("#id_password", "admin-pw-123")
    admin_page.click("input[type=submit]")
    admin_page.goto(f"{site}/admin/django_civic/proofingsession/?status__exact=verified&loa=LOA3")
    expect(admin_page.get_by_role("link", name=str(session.public_id))).to_be_visible()
    admin_page.get_by_role("link", name=str(session.public_id)).click()
    admin_page.get_by_role("link", name="view the identity and its attributes").click()
    expect(admin_page.locator("body")).to_contain_text("ID document number")  # the label catalogue
    expect(admin_page.locator("body")).not_to_contain_text("FR9988776")
    admin_page.context.close()


def test_a_failed_check_offers_to_try_again(page, site):
    from playwright.sync_api import expect

    log_in_with_civic(page, site)
    start_identity_check(page, site)
    page.get_by_test_id("proofing-start-link").click()
    page.get_by_test_id("idemia-outcome-not-verified").click()
    page.wait_for_url(re.compile(r".*/done/$"))
    expect(page.get_by_test_id("proofing-status")).to_have_attribute("data-status", "not_verified")
    expect(page.get_by_test_id("proofing-start")).to_have_text("Try again")
    assert page.javascript_errors == []
