"""System checks of Civic SIP's settings (ids documented in docs/settings.md).

- ``django_civic.E001`` SIP credentials missing or malformed (not needed with ``SANDBOX``: its defaults apply)
- ``django_civic.E005`` a SIP URL that is not HTTPS outside ``DEBUG``
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from django_civic.conf import civic_settings
from django_civic.core.checks import sip_backend_in_use
from django_civic.protocols.sip import SIPClient, SIPConfigurationError


@checks.register(checks.Tags.security)
def check_sip_credentials(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E001: the SIP client could not be built from the configured credentials."""
    sip = civic_settings.SIP
    if not sip_backend_in_use() or (civic_settings.SANDBOX and not sip["APP_ID"]):
        return []
    if not sip["APP_ID"] or not sip["APP_SECRET"] or not sip["PRIVATE_KEY"]:
        problem = "CIVIC['SIP'] needs APP_ID, APP_SECRET and PRIVATE_KEY"
    else:
        try:
            SIPClient(sip["APP_ID"], sip["APP_SECRET"], sip["PRIVATE_KEY"],
                      api_url=sip["API_URL"] or "https://x/", civic_public_key=sip["CIVIC_PUBLIC_KEY"])
            return []
        except SIPConfigurationError as exc:
            problem = f"CIVIC['SIP'] is malformed: {exc}"  # the client's messages never include the secrets
    return [checks.Error(
        problem,
        hint="Copy the app id, secret and private key from Civic's integration portal, or set "
             "CIVIC['SANDBOX'] = True in development.",
        id="django_civic.E001",
    )]


@checks.register(checks.Tags.security)
def check_https(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E005: Civic's API and scripts over plain HTTP can be read and replaced on the way."""
    if settings.DEBUG or civic_settings.SANDBOX:
        return []
    sip = civic_settings.SIP
    plain = [name for name in ("API_URL", "SCRIPT_URL", "CSS_URL")
             if isinstance(sip[name], str) and sip[name] and not sip[name].lower().startswith("https://")]
    if not plain:
        return []
    return [checks.Error(
        f"CIVIC['SIP'] {', '.join(plain)} must use https:// outside DEBUG.",
        hint="Use Civic's https URLs (the defaults).",
        id="django_civic.E005",
    )]
