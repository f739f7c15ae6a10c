"""The example project: its pages, its settings, and ``create_demo_admin`` (what ``make demo`` runs)."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.management import CommandError, call_command

from django_civic.core.identities import record_identity
from django_civic.protocols.sip.types import Attribute
from django_civic.sandbox.sip.personas import ID_IMAGE

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def sandbox(civic_sandbox, settings):
    caches["default"].clear()
    settings.CIVIC = civic_sandbox.civic_settings(API={"THROTTLE_RATE": None})
    return civic_sandbox


def test_home_has_the_three_scope_buttons_and_the_other_parts(client):
    html = client.get("/").content.decode()
    scopes = re.findall(r'data-civic-scope="([A-Z_]+)"', html)
    assert scopes == ["BASIC_SIGNUP", "ANONYMOUS_LOGIN", "PROOF_OF_IDENTITY"]
    assert html.count('data-civic-next="/profile/"') == 3
    assert "/civic-sandbox/sip/js/civic.sip.js" in html
    assert "/static/django_civic/civic.js" in html
    assert "Log out" not in html


def test_profile_needs_a_login(client):
    response = client.get("/profile/")
    assert response.status_code == 302 and response["Location"] == "/?next=/profile/"


def test_profile_lists_what_civic_verified(client, sandbox):
    response = client.post("/civic/sip/exchange/", {"token": sandbox.mint_code("bob")["authToken"]},
                           content_type="application/json")
    assert response.status_code == 200
    html = client.get("/profile/").content.decode()
    assert "+44 7700900123" in html
    assert "bob@example.org" in html
    # bob's email is no longer valid: shown, but not as verified.
    assert "not valid" in html and "valid, owned" in html
    assert 'method="post" action="/logout/"' in html


def test_profile_shows_a_document_image_as_a_thumbnail_only(client, sandbox):
    response = client.post("/civic/sip/exchange/",
                           {"token": sandbox.mint_code("carol", "PROOF_OF_IDENTITY")["authToken"]},
                           content_type="application/json")
    assert response.status_code == 200
    html = client.get("/profile/").content.decode()
    [img] = re.findall(r"<img [^>]*>", html)
    assert 'class="thumbnail"' in img and 'width="96"' in img
    assert f'src="data:image/jpeg;base64,{ID_IMAGE}"' in img
    assert html.count(ID_IMAGE) == 1  # never also as text
    # The home page, which lists nothing per user, never carries it.
    assert ID_IMAGE not in client.get("/").content.decode()


def test_an_image_attribute_that_is_not_an_image_is_not_shown(client):
    user = User.objects.create_user("dora")
    hostile = 'x" onerror="alert(1)'
    record_identity(provider="civic_sip", subject="dora-1", user=user,
                    attributes=[Attribute("documents.genericId.image", hostile, True, True),
                                Attribute("idemia.portrait", "javascript:alert(1)", True, True)])
    client.force_login(user)
    html = client.get("/profile/").content.decode()
    assert "<img" not in html
    assert "onerror" not in html and "javascript:" not in html


def test_logout_is_post_only(client):
    user = User.objects.create_user("erin")
    client.force_login(user)
    assert client.get("/logout/").status_code == 405
    assert "_auth_user_id" in client.session
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert "_auth_user_id" not in client.session


def test_create_demo_admin_is_idempotent_and_prints_the_credentials(settings):
    settings.DEBUG = True
    out = StringIO()
    call_command("create_demo_admin", stdout=out)
    assert "created" in out.getvalue()
    assert "Username: admin" in out.getvalue() and "Password: civic-demo" in out.getvalue()
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password("civic-demo")

    out = StringIO()
    call_command("create_demo_admin", stdout=out)
    assert "already exists" in out.getvalue() and "Password: civic-demo" in out.getvalue()
    assert User.objects.filter(username="admin").count() == 1

    admin.set_password("something else")
    admin.save()
    out = StringIO()
    call_command("create_demo_admin", stdout=out)
    assert "civic-demo" not in out.getvalue().split("Password:")[1]
    call_command("create_demo_admin", "--reset-password", stdout=StringIO())
    assert User.objects.get(username="admin").check_password("civic-demo")


def test_create_demo_admin_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("create_demo_admin", stdout=StringIO())
    assert not User.objects.filter(username="admin").exists()


def test_example_settings_run_the_sandbox_on_sqlite():
    from example_project import settings as example

    assert example.CIVIC["SANDBOX"] is True
    assert example.DEBUG is True
    assert example.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert "django_civic.backends.CivicSIPBackend" in example.AUTHENTICATION_BACKENDS


def test_example_urls_mount_admin_api_and_sandbox(settings):
    from django.urls import resolve

    settings.DEBUG = True  # the mounted sandbox answers only in development (test_sandbox_isolation.py)

    assert resolve("/admin/").app_name == "admin"
    assert resolve("/civic/sip/exchange/").url_name == "sip_exchange"
    assert resolve("/civic-sandbox/").namespace == "civic_sandbox"
    assert resolve("/profile/").url_name == "profile"
