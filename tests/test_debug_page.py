"""With ``DEBUG = True`` a failing login shows Django's technical 500 page, frames and their locals included.

The login path holds the auth code, the ID token and the person's verified values in local variables;
``sensitive_variables`` on the functions that hold them makes Django's reporter print stars instead. The
failure here is a bug in a site's adapter, raised in the middle of recording the identity.
"""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.test import Client

from django_civic.core.adapter import DefaultCivicAdapter
from django_civic.sandbox.oidc.personas import claims as oidc_claims
from django_civic.sandbox.sip.personas import PERSONAS as SIP_PERSONAS

pytestmark = pytest.mark.django_db
# Values from the sandbox's personas, not written here: the page shows this file's source around pre_login.
SECRETS_OF = {
    "alice": tuple(attribute["value"] for attribute in SIP_PERSONAS["alice"].attributes),
    "carol": (oidc_claims("carol")["email"], oidc_claims("carol")["family_name"]),
}


class BrokenAdapter(DefaultCivicAdapter):
    def pre_login(self, request, user, result):
        raise RuntimeError("a bug in the site's adapter")


@pytest.fixture
def debug_client(settings, civic_sandbox):
    caches["default"].clear()
    settings.DEBUG = True
    settings.CIVIC = civic_sandbox.civic_settings(ADAPTER=f"{__name__}.BrokenAdapter",
                                                  API={"THROTTLE_RATE": None})
    return Client(raise_request_exception=False)


def technical_500(response) -> str:
    page = response.content.decode()
    assert response.status_code == 500
    # The page did render the traceback, locals and all, down into the failing frame.
    assert "a bug in the site&#x27;s adapter" in page or "a bug in the site's adapter" in page
    assert "pre_login" in page and "Local vars" in page
    return page


def test_the_debug_page_of_a_failing_sip_login_hides_the_code_and_the_values(debug_client, civic_sandbox):
    code = civic_sandbox.mint_code("alice", "BASIC_SIGNUP")["authToken"]
    page = technical_500(debug_client.post("/civic/sip/exchange/", {"token": code},
                                           content_type="application/json"))
    leaked = [secret for secret in (code, code.split(".")[1], *SECRETS_OF["alice"]) if secret in page]
    assert leaked == []


def test_the_debug_page_of_a_failing_civic_auth_login_hides_the_id_token_and_the_values(debug_client,
                                                                                       civic_sandbox):
    issued = debug_client.post("/civic/auth/nonce/").json()
    id_token = civic_sandbox.mint_oidc_token(persona="carol", nonce=issued["nonce"])
    page = technical_500(debug_client.post("/civic/auth/token/",
                                           {"id_token": id_token, "nonce_id": issued["nonce_id"]},
                                           content_type="application/json"))
    leaked = [secret for secret in (id_token, id_token.split(".")[1], issued["nonce"], *SECRETS_OF["carol"])
              if secret in page]
    assert leaked == []
