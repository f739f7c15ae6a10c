"""The ``{% civic_auth_button %}`` tag and the example project's Civic Auth pieces."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core.cache import caches
from django.template import Context, Template
from django.test import Client, RequestFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def civic(settings, civic_sandbox):
    caches["default"].clear()
    settings.CIVIC = civic_sandbox.civic_settings(SANDBOX_ALLOW_WITHOUT_DEBUG=True,
                                                  AUTH={"STORE_TOKENS": True})
    return civic_sandbox


def render(source, path="/", **context):
    request = RequestFactory().get(path)
    context = Context({"request": request, "csrf_token": "tok", **context})
    return Template("{% load civic %}" + source).render(context)


def test_button_is_a_post_form_with_csrf_and_a_safe_next():
    html = render('{% civic_auth_button next="/profile/" id="go" %}')
    assert '<form class="civic-auth-login" method="post" action="/civic/auth/login/">' in html
    assert 'name="csrfmiddlewaretoken" value="tok"' in html
    assert 'name="next" value="/profile/"' in html and 'id="go"' in html
    assert "Continue with Civic" in html


def test_button_drops_an_unsafe_next_and_reads_the_pages_next():
    assert 'name="next"' not in render('{% civic_auth_button next="https://evil.example/" %}')
    assert 'name="next" value="/deep/"' in render("{% civic_auth_button %}", path="/?next=/deep/")


def test_button_label_and_login_hint_are_escaped():
    html = render('{% civic_auth_button label=label login_hint="alice" %}', label="<b>Go</b>")
    assert "&lt;b&gt;Go&lt;/b&gt;" in html and 'name="login_hint" value="alice"' in html


def test_button_needs_the_request():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        Template("{% load civic %}{% civic_auth_button %}").render(Context({}))


def test_the_home_page_shows_both_civic_logins(civic, client):
    html = client.get("/").content.decode()
    assert 'id="civic-auth-login"' in html and 'action="/civic/auth/login/"' in html
    assert 'id="civic-basic-signup"' in html  # Civic SIP's button on the same page


def test_the_api_demo_page_and_whoami(civic):
    web = Client(SERVER_NAME="localhost")
    assert b'data-testid="api-needs-login"' in web.get("/api-demo/").content
    location = web.post("/civic/auth/login/")["Location"]
    parts = urlsplit(civic.oidc_approve(location, "carol")["redirect"])
    web.get(f"{parts.path}?{parts.query}")
    page = web.get("/api-demo/")
    assert b'id="civic-access-token"' in page.content
    token = page.context["access_token"]
    anonymous = Client()
    assert anonymous.get("/api/whoami/").status_code == 401
    response = anonymous.get("/api/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200 and response.json()["email"] == "carol@example.net"
