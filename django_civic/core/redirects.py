"""The one safe-redirect helper: every ``next`` URL that django_civic follows goes through here.

Open redirects through ``?next=`` are a classic login bug (django-anchors.md section 3: mozilla-django-oidc
0.3.1, social-core ``sanitize_redirect``, allauth #1681). Django's ``url_has_allowed_host_and_scheme`` is the
base check; on top of it this module refuses what browsers are known to "repair" into another origin:

- backslashes (Chrome and Firefox read ``/\\evil.com`` as ``//evil.com``),
- control and other invisible characters anywhere (browsers drop tabs and newlines, so ``/\\t/evil.com``
  becomes ``//evil.com``),
- scheme-relative and scheme-only forms (``//evil.com``, ``///evil.com``, ``https:evil.com``),
- percent-encoded variants of all of the above (``%2F%2Fevil.com``, ``/%5Cevil.com``, ``%09``), checked on
  every decoding level, because a URL may be decoded again by a proxy, a framework or JavaScript.

Accepted: a path on this site (``/profile/?tab=1#x``), or an absolute ``http(s)`` URL whose host is this
request's host or one of ``CIVIC["ALLOWED_REDIRECT_HOSTS"]`` (``https`` only when the request is secure).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

from django_civic.conf import civic_settings

__all__ = ["MAX_NEXT_LENGTH", "login_redirect_url", "safe_next_url"]

#: Longer ``next`` values are refused outright (nobody needs them; they only cost parsing time).
MAX_NEXT_LENGTH = 2048
# How many rounds of percent-decoding are inspected. Each round must be safe on its own.
_DECODE_ROUNDS = 3


def safe_next_url(request: HttpRequest, url: object, default: str | None = None) -> str | None:
    """Return ``url`` unchanged if it is safe to redirect to after a login, else ``default``.

    ``url`` may be anything (it usually comes straight from a query string or a JSON body); only a
    string that passes every check is returned.
    """
    if not isinstance(url, str) or not url or len(url) > MAX_NEXT_LENGTH:
        return default
    allowed_hosts = _allowed_hosts(request)
    if allowed_hosts is None:
        return default
    candidate = url
    for _ in range(_DECODE_ROUNDS):
        if not _is_safe_form(candidate, allowed_hosts, require_https=request.is_secure()):
            return default
        try:
            decoded = unquote(candidate, errors="strict") if "%" in candidate else candidate
        except UnicodeDecodeError:
            return default  # percent-encoded bytes that are not UTF-8: not a URL anyone meant
        if decoded == candidate:
            return url
        candidate = decoded
    # Still changing after several rounds of decoding: nobody writes URLs like that on purpose.
    return default


def login_redirect_url(request: HttpRequest, url: object = None) -> str:
    """Where to send a user after logging in: a safe ``url`` if given, else the configured default.

    The default is ``CIVIC["LOGIN_REDIRECT_URL"]``, falling back to Django's ``LOGIN_REDIRECT_URL``
    (both may be URL names or paths).
    """
    safe = safe_next_url(request, url)
    if safe is not None:
        return safe
    from django.conf import settings

    return resolve_url(civic_settings.LOGIN_REDIRECT_URL or settings.LOGIN_REDIRECT_URL)


def _allowed_hosts(request: HttpRequest) -> set[str] | None:
    try:
        host = request.get_host()
    except DisallowedHost:
        # The request's own host is not trusted, so no absolute URL can be checked against it.
        return None
    return {host, *civic_settings.ALLOWED_REDIRECT_HOSTS}


def _is_safe_form(url: str, allowed_hosts: set[str], *, require_https: bool) -> bool:
    if "\\" in url or any(_is_invisible(char) for char in url):
        return False
    if url != url.strip():
        return False
    if not url_has_allowed_host_and_scheme(url, allowed_hosts, require_https=require_https):
        return False
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        # Absolute: url_has_allowed_host_and_scheme vetted scheme and host; refuse credentials in it,
        # which only ever serve to make a hostile URL look like ours (https://ours@evil).
        return parts.scheme in ("http", "https") and "@" not in parts.netloc
    # Relative: only rooted paths. "evil.com" or "javascript:..." never reach here as safe, and
    # "profile/" (relative to wherever the API lives) is a mistake worth refusing too.
    return url.startswith("/") and not url.startswith("//")


def _is_invisible(char: str) -> bool:
    # Cc control (tab, newline, NUL, ...), Cf format (zero-width, bidi overrides), Co/Cn unassigned,
    # Zl/Zp line separators. Plain spaces inside a URL are harmless (browsers encode them); leading and
    # trailing ones are refused separately because browsers strip them.
    category = unicodedata.category(char)
    return category[0] == "C" or category in ("Zl", "Zp")
