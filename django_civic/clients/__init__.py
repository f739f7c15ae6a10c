"""Build the protocol clients from settings (sandbox-aware): ``sip.py``, ``oidc.py``, ``proofing.py``.

With ``CIVIC["SANDBOX"]`` every client talks to the sandbox over real HTTP, exactly as to the remote
service; only base URLs and keys differ. :func:`sandbox_url` is where that sandbox lives.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.urls import reverse

from ..conf import civic_settings


def sandbox_url(request: HttpRequest | None = None) -> str:
    """Base URL of the sandbox, with a trailing slash.

    ``CIVIC["SANDBOX_URL"]`` when set (a standalone sandbox, or the test fixture's), otherwise this
    site's own ``civic-sandbox/`` mount, made absolute from the request.
    """
    configured = civic_settings.SANDBOX_URL
    if configured:
        return configured if configured.endswith("/") else configured + "/"
    if request is None:
        raise ImproperlyConfigured(
            "CIVIC['SANDBOX_URL'] is not set and there is no request to derive the sandbox's URL from."
        )
    return request.build_absolute_uri(reverse("civic_sandbox:root"))
