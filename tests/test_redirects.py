"""safe_next_url: the one safe-redirect helper (design.md section 4, ``next`` URLs)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import RequestFactory, override_settings
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from django_civic.core.redirects import login_redirect_url, safe_next_url

SITE = "testserver"


@pytest.fixture
def request_():
    return RequestFactory().get("/civic/sip/exchange/", HTTP_HOST=SITE)


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/profile/",
        "/profile/?tab=attributes#email",
        "/search?q=a%20b",
        "/search?q=a b",
        "/login/?next=%2Fprofile%2F",
        "/discount/50%off",
        f"http://{SITE}/profile/",
        "/caf\u00e9/",
    ],
)
def test_safe_urls_are_returned_unchanged(request_, url):
    assert safe_next_url(request_, url) == url


@pytest.mark.parametrize(
    "url",
    [
        # other origins, plain and scheme-relative
        "https://evil.example/",
        "http://evil.example",
        "//evil.example",
        "///evil.example",
        "////evil.example",
        # backslashes, which browsers read as slashes
        "/\\evil.example",
        "\\\\evil.example",
        "\\/evil.example",
        "/\\/evil.example",
        # scheme without a host, and dangerous schemes
        "https:evil.example",
        "http:/evil.example",
        "https:///evil.example",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://testserver/x",
        # control and invisible characters that browsers drop
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "\x00//evil.example",
        "/\x7f/evil.example",
        "/\u200b/evil.example",
        "/\u202e/evil.example",
        "/\u2028/evil.example",
        " //evil.example",
        "//evil.example ",
        "\u00a0//evil.example",
        # encoded forms of the above, once and twice
        "%2F%2Fevil.example",
        "/%2F%2Fevil.example",
        "/%2fevil.example",
        "/%5Cevil.example",
        "/%5cevil.example",
        "%5C%5Cevil.example",
        "/%09/evil.example",
        "/%0A/evil.example",
        "/%00",
        "https%3A%2F%2Fevil.example",
        "/%252F%252Fevil.example",
        "/%255Cevil.example",
        "/%25252F%25252Fevil.example",
        "/%FF%FE",
        # credentials that make a foreign URL look like ours
        f"http://{SITE}@evil.example/",
        f"http://user@{SITE}/",
        # relative paths that are not rooted, and non-strings
        "profile/",
        "evil.example",
        "",
        None,
        42,
        ["/"],
        {"url": "/"},
        "/" + "a" * 3000,
    ],
)
def test_unsafe_urls_are_refused(request_, url):
    assert safe_next_url(request_, url) is None
    assert safe_next_url(request_, url, default="/fallback/") == "/fallback/"


def test_https_is_required_when_the_request_is_secure():
    request = RequestFactory().get("/", HTTP_HOST=SITE, secure=True)
    assert safe_next_url(request, f"http://{SITE}/profile/") is None
    assert safe_next_url(request, f"https://{SITE}/profile/") == f"https://{SITE}/profile/"


def test_extra_hosts_come_from_the_setting_only(request_, settings):
    assert safe_next_url(request_, "https://app.example/welcome") is None
    settings.CIVIC = {**settings.CIVIC, "ALLOWED_REDIRECT_HOSTS": ["app.example"]}
    assert safe_next_url(request_, "https://app.example/welcome") == "https://app.example/welcome"
    assert safe_next_url(request_, "https://evil.example/") is None


@override_settings(ALLOWED_HOSTS=["good.example"])
def test_untrusted_host_header_allows_nothing():
    request = RequestFactory().get("/", HTTP_HOST="evil.example")
    assert safe_next_url(request, "/profile/") is None


def test_login_redirect_url_falls_back_to_the_configured_default(request_, settings):
    settings.LOGIN_REDIRECT_URL = "/profile/"
    assert login_redirect_url(request_, "//evil.example") == "/profile/"
    assert login_redirect_url(request_, None) == "/profile/"
    assert login_redirect_url(request_, "/elsewhere/") == "/elsewhere/"
    settings.CIVIC = {**settings.CIVIC, "LOGIN_REDIRECT_URL": "/welcome/"}
    assert login_redirect_url(request_, "https:evil.example") == "/welcome/"


@hsettings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_anything_accepted_stays_on_an_allowed_origin(url):
    request = RequestFactory().get("/", HTTP_HOST=SITE)
    result = safe_next_url(request, url)
    if result is None:
        return
    assert result == url
    assert "\\" not in url
    parts = urlsplit(url)
    if parts.netloc:
        assert (parts.scheme, parts.hostname) == ("http", SITE)
    else:
        assert not parts.scheme and url.startswith("/") and not url.startswith("//")


@hsettings(max_examples=200, deadline=None)
@given(st.sampled_from(["//", "/\\", "\\\\", "https:", "/\t/", "%2F%2F", "/%5C"]), st.text(max_size=20))
def test_hostile_prefixes_are_always_refused(prefix, rest):
    request = RequestFactory().get("/", HTTP_HOST=SITE)
    assert safe_next_url(request, prefix + "evil.example" + rest) is None
