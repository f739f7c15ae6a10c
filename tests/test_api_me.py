"""``GET civic/me/`` and ``DELETE civic/me/identities/<id>/``: a user's own identities, and only theirs."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.test import Client
from django.urls import URLResolver, get_resolver
from rest_framework.authentication import BasicAuthentication

from django_civic import signals
from django_civic.core.identities import record_identity
from django_civic.models import CivicIdentity
from django_civic.protocols.sip.types import Attribute

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def sandbox(civic_sandbox, settings):
    caches["default"].clear()
    settings.CIVIC = civic_sandbox.civic_settings(API={"THROTTLE_RATE": None})
    return civic_sandbox


def login(client, sandbox, persona="alice", scope="BASIC_SIGNUP"):
    response = client.post("/civic/sip/exchange/", {"token": sandbox.mint_code(persona, scope)["authToken"]},
                           content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def identity_url(pk):
    return f"/civic/me/identities/{pk}/"


def test_me_lists_identities_and_attributes_without_image_values(client, sandbox):
    body = login(client, sandbox, "carol", "PROOF_OF_IDENTITY")
    me = client.get("/civic/me/")
    assert me.status_code == 200
    data = me.json()
    assert data["user"] == body["user"]
    [identity] = data["identities"]
    assert identity["provider"] == "civic_sip" and identity["subject"] == body["civic_user_id"]
    by_label = {a["label"]: a for a in identity["attributes"]}
    assert by_label["documents.genericId.number"]["value"] == "P12345678"
    assert by_label["documents.genericId.number"]["is_valid"] is True
    image = by_label["documents.genericId.image"]
    assert image["is_image"] is True and image["value"] is None and image["value_size"] > 0

    # The identity's own page includes the image.
    detail = client.get(identity_url(identity["id"])).json()
    image = next(a for a in detail["attributes"] if a["label"] == "documents.genericId.image")
    assert image["value"].startswith("/9j/")


def test_other_users_identities_are_404_like_missing_ones(client, sandbox):
    login(client, sandbox, "alice")
    other = record_identity(provider="civic_sip", subject="someone-else", attributes=[], scope="")
    missing = CivicIdentity.objects.order_by("-pk").first().pk + 100
    for pk in (other.identity.pk, missing):
        assert client.get(identity_url(pk)).status_code == 404
        response = client.delete(identity_url(pk))
        assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert CivicIdentity.objects.filter(pk=other.identity.pk).exists()


def test_the_only_way_to_log_in_cannot_be_unlinked(client, sandbox):
    body = login(client, sandbox, "alice")
    user = User.objects.get(pk=body["user"]["id"])
    assert not user.has_usable_password()
    identity = CivicIdentity.objects.get(user=user)
    response = client.delete(identity_url(identity.pk))
    assert response.status_code == 409
    assert response.json()["error"] == "last_login_method"
    assert CivicIdentity.objects.filter(pk=identity.pk).exists()


def test_an_idemia_identity_is_not_a_way_to_log_in(client, sandbox):
    body = login(client, sandbox, "alice")
    user = User.objects.get(pk=body["user"]["id"])
    proofing = record_identity(provider="idemia", subject="idemia-123", user=user,
                               attributes=[Attribute("idemia.givenName", "Alice", True, True)])
    sip_identity = CivicIdentity.objects.get(user=user, provider="civic_sip")
    assert client.delete(identity_url(sip_identity.pk)).status_code == 409
    # Removing the proofing identity itself is always fine.
    assert client.delete(identity_url(proofing.identity.pk)).status_code == 200


def test_unlink_works_with_a_password_and_sends_the_signal(client, sandbox,
                                                            django_capture_on_commit_callbacks):
    body = login(client, sandbox, "alice")
    user = User.objects.get(pk=body["user"]["id"])
    user.set_password("a long enough password")
    user.save()
    client.force_login(user)  # the password change ended the old session
    identity = CivicIdentity.objects.get(user=user)
    received = []

    def receiver(sender, identity, user, request, **kwargs):
        received.append((identity.pk, identity.provider, identity.subject, user.pk))

    signals.identity_unlinked.connect(receiver)
    try:
        # The signal goes out once the deletion is committed.
        with django_capture_on_commit_callbacks(execute=True):
            response = client.delete(identity_url(identity.pk))
    finally:
        signals.identity_unlinked.disconnect(receiver)
    assert response.status_code == 200 and response.json() == {"deleted": True, "id": identity.pk}
    assert not CivicIdentity.objects.filter(pk=identity.pk).exists()
    assert received == [(None, "civic_sip", body["civic_user_id"], user.pk)]


def test_unlink_works_when_another_identity_remains(client, sandbox):
    body = login(client, sandbox, "alice")
    user = User.objects.get(pk=body["user"]["id"])
    record_identity(provider="https://auth.civic.com/oauth/", subject="oidc-sub", user=user, attributes=[])
    sip_identity = CivicIdentity.objects.get(user=user, provider="civic_sip")
    assert client.delete(identity_url(sip_identity.pk)).status_code == 200
    last = CivicIdentity.objects.get(user=user)
    assert client.delete(identity_url(last.pk)).status_code == 409


def test_session_delete_needs_the_csrf_token(sandbox, settings):
    browser = Client(enforce_csrf_checks=True)
    browser.get("/")
    token = browser.cookies[settings.CSRF_COOKIE_NAME].value
    response = browser.post("/civic/sip/exchange/", {"token": sandbox.mint_code("alice")["authToken"]},
                            content_type="application/json", HTTP_X_CSRFTOKEN=token)
    user = User.objects.get(pk=response.json()["user"]["id"])
    user.set_password("a long enough password")
    user.save()
    browser.force_login(user)
    identity = CivicIdentity.objects.get(user=user)
    response = browser.delete(identity_url(identity.pk))
    assert response.status_code == 403
    assert set(response.json()) >= {"error", "detail"}
    assert CivicIdentity.objects.filter(pk=identity.pk).exists()
    token = browser.cookies[settings.CSRF_COOKIE_NAME].value
    assert browser.delete(identity_url(identity.pk), HTTP_X_CSRFTOKEN=token).status_code == 200


def test_token_auth_reaches_me_and_unlink(sandbox, settings):
    settings.CIVIC = {**settings.CIVIC, "API": {"THROTTLE_RATE": None, "LOGIN_MODE": "token"}}
    body = login(Client(), sandbox, "alice")
    app = Client(HTTP_AUTHORIZATION=f"Token {body['token']}")
    me = app.get("/civic/me/").json()
    [identity] = me["identities"]
    assert app.delete(identity_url(identity["id"])).status_code == 409


def test_http_basic_credentials_are_refused(client, sandbox):
    """DRF's default authentication includes HTTP Basic: on civic/me/ an unthrottled password oracle."""
    User.objects.create_user("mallory", password="correct horse")
    basic = "Basic " + base64.b64encode(b"mallory:correct horse").decode()
    response = client.get("/civic/me/", HTTP_AUTHORIZATION=basic)
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def _drf_views(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _drf_views(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(getattr(pattern.callback, "cls", None), type):
            yield prefix + str(pattern.pattern), pattern.callback.cls


def _declared_by(cls, name):
    return next(klass for klass in cls.__mro__ if name in vars(klass)).__module__


def test_every_api_view_names_its_own_authentication_permissions_and_throttles():
    """REST_FRAMEWORK's defaults belong to the project; none of our views may inherit them."""
    views = dict(_drf_views(get_resolver("django_civic.urls").url_patterns))
    assert {"me/", "sip/exchange/", "auth/nonce/", "auth/token/"} <= set(views)
    inherited = {(path, name) for path, view in views.items()
                 for name in ("authentication_classes", "permission_classes", "throttle_classes")
                 if not _declared_by(view, name).startswith("django_civic.")}
    assert inherited == set()
    assert BasicAuthentication not in {cls for view in views.values() for cls in view.authentication_classes}
