"""Open redirects through ``next``, end to end: every way a ``next`` enters the app, every hostile form.

``django_civic.core.redirects.safe_next_url`` is the one helper (its unit tests, tests/test_redirects.py, try
each form against it). Here each form goes in where an attacker would put it (the SIP exchange and Civic
Auth token APIs, the Civic Auth login page and its form, a whole Civic Auth login through the sandbox, the
logout, the button tags) and what comes back out (a JSON ``next``, a ``Location`` header, a hidden form
field) must be the site's default, never the hostile value. A hypothesis test then sends arbitrary
strings and checks that whatever is answered leads a browser to this site only.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pytest
from django.core.cache import caches
from django.template import Context, Template
from django.test import Client, RequestFactory
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from .hostile import EXAMPLES, HOSTILE_NEXT, browser_destination

pytestmark = pytest.mark.django_db
HOST = "localhost"
DEFAULT = "/profile/"  # LOGIN_REDIRECT_URL of tests/settings.py
FIELD = re.compile(r'(?:name="next" value|data-civic-next)="([^"]*)"')


@pytest.fixture
def civic(settings, civic_sandbox):
    caches["default"].clear()
    settings.CIVIC = civic_sandbox.civic_settings(SANDBOX_ALLOW_WITHOUT_DEBUG=True,
                                                  API={"THROTTLE_RATE": None})
    assert settings.LOGIN_REDIRECT_URL == DEFAULT
    return civic_sandbox


def browser() -> Client:
    return Client(SERVER_NAME=HOST)  # the sandbox's default OIDC client accepts localhost redirect URIs


def next_fields(content: bytes) -> list[str]:
    return [html.unescape(value) for value in FIELD.findall(content.decode())]


def test_the_exchange_apis_answer_the_default(civic, record_figure):
    refused = 0
    for next_url in HOSTILE_NEXT:
        code = civic.mint_code("alice")["authToken"]
        response = browser().post("/civic/sip/exchange/", {"token": code, "next": next_url},
                                  content_type="application/json")
        refused += answers_the_default(response, next_url)

        client = browser()
        issued = client.post("/civic/auth/nonce/").json()
        token = civic.mint_oidc_token(persona="carol", nonce=issued["nonce"])
        response = client.post("/civic/auth/token/", {"id_token": token, "nonce_id": issued["nonce_id"],
                                                      "next": next_url}, content_type="application/json")
        refused += answers_the_default(response, next_url)
    record_figure("open_redirect.exchange_apis", forms=len(HOSTILE_NEXT), endpoints=2, redirected_off_site=0,
                  refused_as_invalid=refused)


def answers_the_default(response, next_url: str) -> int:
    """The login succeeded with the default ``next`` (0), or the request was refused for its ``next`` (1):
    a NUL character is not even a valid string for the API."""
    if response.status_code == 400:
        assert response.json()["error"] == "invalid" and list(response.json()["fields"]) == ["next"]
        return 1
    assert response.status_code == 200 and response.json()["next"] == DEFAULT, repr(next_url)
    return 0


def test_a_whole_civic_auth_login_ends_on_the_site(civic, record_figure):
    for next_url in HOSTILE_NEXT:
        client = browser()
        page = client.get("/civic/auth/login/", {"next": next_url})
        assert page.status_code == 200 and next_fields(page.content) in ([], [""]), repr(next_url)
        start = client.post("/civic/auth/login/", {"next": next_url})
        assert start.status_code == 302, start.content[:200]
        back = civic.oidc_approve(start["Location"], "alice")["redirect"]
        parts = urlsplit(back)
        done = client.get(f"{parts.path}?{parts.query}")
        assert done.status_code == 302 and done["Location"] == DEFAULT, (repr(next_url), done["Location"])
        assert client.session.get("_auth_user_id")

        out = client.post("/civic/auth/logout/", {"next": next_url})
        assert out.status_code == 302 and out["Location"] == "/", (repr(next_url), out["Location"])
    record_figure("open_redirect.civic_auth_flow", forms=len(HOSTILE_NEXT),
                  entry_points=3, redirected_off_site=0)


def test_the_account_pages_answer_the_default(civic, record_figure):
    """The login page (its Civic buttons, its password form, the password login itself) and the logout
    take ``next`` through the one helper: Django's own check alone would keep on-site forms this project
    refuses (``/%2F%2Fevil.example``, ``/\u200b/evil.example``)."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("ann", password="pw")
    for next_url in HOSTILE_NEXT:
        page = browser().get("/civic/account/login/", {"next": next_url})
        assert page.status_code == 200, repr(next_url)
        assert all(value == "" for value in next_fields(page.content)), repr(next_url)
        client = browser()
        done = client.post("/civic/account/login/", {"username": "ann", "password": "pw", "next": next_url})
        assert done.status_code == 302 and done["Location"] == DEFAULT, (repr(next_url), done["Location"])
        out = client.post("/civic/account/logout/", {"next": next_url})
        assert out.status_code == 302, repr(next_url)
        assert out["Location"] == "/civic/account/login/", (repr(next_url), out["Location"])
    record_figure("open_redirect.account_pages", forms=len(HOSTILE_NEXT), entry_points=3,
                  redirected_off_site=0)


def test_the_button_tags_drop_a_hostile_next_from_the_page(record_figure):
    template = Template("{% load civic %}{% civic_button %}{% civic_auth_button %}")
    for next_url in HOSTILE_NEXT:
        request = RequestFactory().get("/", {"next": next_url}, SERVER_NAME=HOST)
        rendered = template.render(Context({"request": request})).encode()
        assert next_fields(rendered) and all(value == "" for value in next_fields(rendered)), repr(next_url)
    record_figure("open_redirect.button_tags", forms=len(HOSTILE_NEXT), tags=2, rendered_hostile=0)


def test_whatever_next_is_sent_the_answer_stays_on_the_site(civic, record_figure):
    tried = {"default": 0, "kept": 0, "refused": 0}
    prefixes = ["/", "//", "/\\", "\\", "https:", "http://", "%2F", "%5C", "/%2F", "\t", " "]

    @hsettings(max_examples=60, **EXAMPLES)
    @given(next_url=st.one_of(
        st.text(max_size=40),
        st.tuples(st.sampled_from(prefixes), st.text(max_size=20)).map("".join),
        st.from_regex(r"/[a-z0-9/?=&#%.@:-]{0,30}", fullmatch=True),  # paths people write, some safe
    ))
    def attack(next_url):
        response = browser().post("/civic/sip/exchange/", {"token": civic.mint_code("alice")["authToken"],
                                                           "next": next_url}, content_type="application/json")
        if response.status_code == 400:  # NUL characters: not a valid string for the API at all
            assert response.json()["fields"] == {"next": response.json()["fields"]["next"]}
            tried["refused"] += 1
            return
        assert response.status_code == 200, response.content[:200]
        answered = response.json()["next"]
        assert answered in (DEFAULT, next_url)
        scheme, host = browser_destination(answered, f"http://{HOST}/civic/sip/exchange/")
        assert (scheme, host) == ("http", HOST), (next_url, answered)
        tried["default" if answered == DEFAULT and next_url != DEFAULT else "kept"] += 1

    attack()
    record_figure("open_redirect.any_next", cases=sum(tried.values()), **tried, redirected_off_site=0)
