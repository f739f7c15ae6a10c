"""``get_sip_client()``: the :class:`~django_civic.protocols.sip.SIPClient` for the current settings.

One client per configuration and process (it holds pooled connections and parsed keys), so
settings changes in tests get a fresh client and production reuses one. With ``CIVIC["SANDBOX"]`` the
client talks to the sandbox: its API URL, its Civic signing key, and its default app credentials
(``django_civic/core/sandbox_credentials.py``) unless ``CIVIC["SIP"]["APP_ID"]`` names an app registered
there.
"""

from __future__ import annotations

from functools import lru_cache

from django.http import HttpRequest

from django_civic.conf import civic_settings, sandbox_url
from django_civic.core import sandbox_credentials
from django_civic.protocols.sip import SIPClient


def sip_config() -> dict:
    """The keyword arguments the client is built from (secrets included: never log this)."""
    sip = civic_settings.SIP
    config = {
        "app_id": sip["APP_ID"],
        "app_secret": sip["APP_SECRET"],
        "private_key": sip["PRIVATE_KEY"],
        "api_url": sip["API_URL"],
        "env": sip["ENV"],
        "civic_public_key": sip["CIVIC_PUBLIC_KEY"],
        "timeout": float(civic_settings.HTTP_TIMEOUT),
        "max_payload_bytes": int(sip["MAX_PAYLOAD_BYTES"]),
    }
    if civic_settings.SANDBOX:
        # The sandbox's published test credentials (core.sandbox_credentials, not the sandbox package).
        if not sip["APP_ID"]:
            config.update(app_id=sandbox_credentials.SIP_APP_ID,
                          app_secret=sandbox_credentials.SIP_APP_SECRET,
                          private_key=sandbox_credentials.SIP_APP_PRIVATE_KEY)
        config.update(api_url=sandbox_url() + "sip/",
                      civic_public_key=sandbox_credentials.SIP_CIVIC_PUBLIC_KEY)
    return config


def get_sip_client(request: HttpRequest | None = None) -> SIPClient:
    """Raises :class:`~django_civic.protocols.sip.SIPConfigurationError` when the credentials are unusable.

    ``request`` is accepted for callers of earlier versions and not used: where the client calls comes
    from settings only (:func:`~django_civic.conf.sandbox_url`).
    """
    return _client(tuple(sorted(sip_config().items())))


@lru_cache(maxsize=16)
def _client(config: tuple) -> SIPClient:
    return SIPClient(**dict(config))
