"""``login_response``: the exchange endpoints' success body, built without DRF serializers, is exactly what
the serializers give; login CSRF is checked once, before the code is spent, and still when nobody did."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.test import Client

from django_civic.api import login as login_module
from django_civic.api.serializers import AttributeSerializer, UserSerializer
from django_civic.models import CivicIdentity

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox(civic_sandbox, settings):
    caches["default"].clear()
    settings.CIVIC = civic_sandbox.civic_settings(API={"THROTTLE_RATE": None})
    return civic_sandbox


def test_the_body_is_what_the_serializers_give(client, sandbox):
    code = sandbox.mint_code("carol", "PROOF_OF_IDENTITY")["authToken"]
    response = client.post("/civic/sip/exchange/", {"token": code}, content_type="application/json")
    assert response.status_code == 200
    body = response.json()
    user = get_user_model().objects.get(pk=body["user"]["id"])
    identity = CivicIdentity.objects.get(provider="civic_sip", subject=body["civic_user_id"])
    rows = sorted(identity.attributes.all(), key=lambda row: row.label)
    assert len(rows) > 2
    expected_user = json.loads(json.dumps(UserSerializer(user).data))
    expected_attributes = json.loads(json.dumps(AttributeSerializer(rows, many=True).data))
    assert body["user"] == expected_user and list(body["user"]) == ["id", "username", "email"]
    assert body["attributes"] == expected_attributes
    assert [list(a) for a in body["attributes"]] == [["label", "value", "is_valid", "is_owner"]] * len(rows)


def test_csrf_is_checked_once_per_login(sandbox, monkeypatch):
    calls = []
    real = login_module._CSRFCheck.process_view

    def counting(self, *args, **kwargs):
        calls.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(login_module._CSRFCheck, "process_view", counting)
    browser = Client(enforce_csrf_checks=True)
    browser.cookies["csrftoken"] = "c" * 32
    response = browser.post("/civic/sip/exchange/", {"token": sandbox.mint_code("alice")["authToken"]},
                            content_type="application/json", HTTP_X_CSRFTOKEN="c" * 32)
    assert response.status_code == 200 and calls == [1]


def test_without_a_csrf_token_nothing_is_spent(sandbox):
    code = sandbox.mint_code("alice")["authToken"]
    response = Client(enforce_csrf_checks=True).post("/civic/sip/exchange/", {"token": code},
                                                     content_type="application/json")
    assert response.status_code == 403 and response.json()["error"] == "csrf_failed"
    assert not CivicIdentity.objects.exists()
    # The code was not spent: the same code still logs in with the CSRF token.
    assert Client().post("/civic/sip/exchange/", {"token": code},
                         content_type="application/json").status_code == 200


def test_complete_login_still_checks_when_the_caller_did_not(sandbox, rf):
    from django.contrib.sessions.backends.db import SessionStore

    user = get_user_model().objects.create_user("direct")
    request = rf.post("/somewhere/", data="{}", content_type="application/json")
    request.session = SessionStore()
    with pytest.raises(login_module.LoginCSRFFailed):
        login_module.complete_login(request, user, "django.contrib.auth.backends.ModelBackend")
    assert "_auth_user_id" not in request.session
