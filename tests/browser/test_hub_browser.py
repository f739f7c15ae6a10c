"""Civic's hub for every user, in a real browser: someone signs up on the example site with a password (no
Civic login at all), opens "Your Civic tools" and calls one. The site issues an identity token of its own,
the sandbox's Civic fetches the site's JWKS over HTTP and exchanges the token (RFC 8693, federated), and the
page talks to the sandbox's hub through Civic's own Python client, civic-mcp-client. Nothing is stubbed.
"""

from __future__ import annotations

import io

import pytest
import requests
from django.core.management import call_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT_TOOLS = "/tmp/django_civic_hub_tools.png"
SCREENSHOT_RESULT = "/tmp/django_civic_hub_result.png"


@pytest.fixture
def hub_site(site, settings):
    issuer = f"{site}/civic/"
    settings.CIVIC = {**settings.CIVIC, "IDP": {"ISSUER": issuer}}
    call_command("civic_idp_keys", "create", stdout=io.StringIO())
    # What the site's owner does once on Civic's Integration page: trust the site's issuer and JWKS.
    response = requests.post(f"{site}/civic-sandbox/control/oidc/providers", timeout=10, json={
        "issuer": issuer, "audience": "sandbox-client", "jwks_uri": issuer + ".well-known/jwks.json"})
    assert response.status_code == 201, response.text
    return site


def test_a_password_user_calls_a_hub_tool(page, hub_site):
    from playwright.sync_api import expect

    page.goto(f"{hub_site}/")
    page.get_by_test_id("signup-link").click()
    page.fill("#id_username", "pat")
    page.fill("#id_password1", "a long demo password")
    page.fill("#id_password2", "a long demo password")
    page.get_by_test_id("signup-submit").click()

    page.wait_for_url(f"{hub_site}/hub/")
    expect(page.get_by_test_id("hub-via")).to_have_attribute("data-via", "exchange")
    expect(page.get_by_test_id("hub-tool-whoami")).to_be_visible()
    expect(page.get_by_test_id("hub-tool-echo")).to_be_visible()
    page.screenshot(path=SCREENSHOT_TOOLS, full_page=True)

    page.get_by_test_id("call-whoami").click()
    expect(page.get_by_test_id("hub-result")).to_contain_text('"sub": "fed_')
    expect(page.get_by_test_id("hub-result")).to_contain_text(f'"federated_iss": "{hub_site}/civic/"')
    page.screenshot(path=SCREENSHOT_RESULT, full_page=True)
    assert page.javascript_errors == []
