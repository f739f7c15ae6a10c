"""Build the protocol clients from settings (sandbox-aware): ``sip.py``, ``oidc.py``, ``proofing.py``.

With ``CIVIC["SANDBOX"]`` every client talks to the sandbox over real HTTP, exactly as to the remote
service; only base URLs and keys differ. :func:`sandbox_url` is where that sandbox lives.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from ..conf import civic_settings


def sandbox_url() -> str:
    """``CIVIC["SANDBOX_URL"]``, the sandbox's base URL, with a trailing slash.

    Always from settings, never from a request: the server calls this URL (SIP exchange, OIDC discovery,
    IDEMIA), so a ``Host`` header must not choose where those calls go, and the OIDC issuer (the provider
    of every sandbox identity) must be one string however the site was reached (``localhost`` or
    ``127.0.0.1``).
    """
    configured = civic_settings.SANDBOX_URL
    if not isinstance(configured, str) or not configured.startswith(("http://", "https://")):
        raise ImproperlyConfigured(
            "CIVIC['SANDBOX_URL'] must be the sandbox's absolute http(s) base URL, e.g. "
            "'http://127.0.0.1:8000/civic-sandbox/' (see django_civic.E009)."
        )
    return configured if configured.endswith("/") else configured + "/"
