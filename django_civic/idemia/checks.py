"""System checks of IDEMIA identity proofing (``CIVIC["IDEMIA"]``).

Stable ids (documented in docs/proofing.md):

- ``django_civic.E201`` IDEMIA partly configured: some credentials set, others missing
- ``django_civic.E202`` an IDEMIA or callback URL that is not HTTPS outside ``DEBUG``
- ``django_civic.E203`` ``MIN_LEVEL_OF_ASSURANCE`` is not ``LOA0`` .. ``LOA9``
- ``django_civic.E204`` ``SESSION_TIMEOUT``, ``MAX_SESSIONS_PER_DAY`` or ``RETENTION_DAYS`` not positive
- ``django_civic.E206`` ``STORE_PROOF`` on but ``PROOF_STORAGE`` names no configured storage
- ``django_civic.W201`` no ``CALLBACK_BASE_URL``: callback URLs are built from the request's Host header
- ``django_civic.W202`` ``MIN_LEVEL_OF_ASSURANCE`` below LOA2 (no face match required)
- ``django_civic.W203`` proof archives kept in the ``default`` storage (usually public media)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

from django_civic.conf import civic_settings
from django_civic.protocols.idemia import loa_rank

_CREDENTIALS = ("TOKEN_URL", "CLIENT_ID", "CLIENT_SECRET", "RP_HANDLER_URL", "GIPS_URL", "API_KEY")
_URLS = ("TOKEN_URL", "RP_HANDLER_URL", "GIPS_URL", "CALLBACK_BASE_URL")


def _in_use() -> bool:
    idemia = civic_settings.IDEMIA
    return bool(civic_settings.SANDBOX) or any(idemia[key] for key in _CREDENTIALS)


@checks.register()
def check_credentials(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E201: half a configuration fails at the first proofing attempt; say so at start-up."""
    if civic_settings.SANDBOX:
        return []
    idemia = civic_settings.IDEMIA
    missing = [key for key in _CREDENTIALS if not idemia[key]]
    if not missing or len(missing) == len(_CREDENTIALS):
        return []
    return [checks.Error(
        f"CIVIC['IDEMIA'] is missing {', '.join(missing)}.",
        hint="Copy the client id, secret key and Cognito URL of the IPA application and the GIPS-RS API key "
             "from IDEMIA's Experience Portal, or leave all of them empty to turn proofing off.",
        id="django_civic.E201",
    )]


@checks.register(checks.Tags.security)
def check_https(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E202: the client secret, API key, tokens and callback secrets must not travel in clear text."""
    if settings.DEBUG or civic_settings.SANDBOX or not _in_use():
        return []
    idemia = civic_settings.IDEMIA
    plain = [key for key in _URLS if isinstance(idemia[key], str) and idemia[key]
             and urlsplit(idemia[key]).scheme.lower() != "https"]
    if not plain:
        return []
    return [checks.Error(
        f"CIVIC['IDEMIA'] {', '.join(plain)} must use https:// outside DEBUG.",
        hint="IDEMIA's endpoints are https; the callback URL carries a per-session secret.",
        id="django_civic.E202",
    )]


@checks.register()
def check_values(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E203 (level of assurance), E204 (durations and limits), W202 (a level without a face match)."""
    idemia = civic_settings.IDEMIA
    found: list[checks.CheckMessage] = []
    rank = loa_rank(idemia["MIN_LEVEL_OF_ASSURANCE"])
    if rank is None:
        found.append(checks.Error(
            "CIVIC['IDEMIA']['MIN_LEVEL_OF_ASSURANCE'] must be a level such as 'LOA2'.",
            hint="IDEMIA's levels run from LOA0 (nothing verified) to LOA4 (LOA6 in newer documents).",
            id="django_civic.E203",
        ))
    elif rank < 2 and _in_use():
        found.append(checks.Warning(
            f"CIVIC['IDEMIA']['MIN_LEVEL_OF_ASSURANCE'] is LOA{rank}: identities are accepted without a face "
            "matching the document.",
            hint="LOA2 and up require a portrait match; use LOA1 only if the IPA app captures no face.",
            id="django_civic.W202",
        ))
    bad = [key for key in ("SESSION_TIMEOUT", "MAX_SESSIONS_PER_DAY") if not _positive_int(idemia[key])]
    if idemia["RETENTION_DAYS"] is not None and not _positive_int(idemia["RETENTION_DAYS"]):
        bad.append("RETENTION_DAYS")
    if bad:
        found.append(checks.Error(
            f"CIVIC['IDEMIA'] {', '.join(bad)} must be a positive integer.",
            hint="SESSION_TIMEOUT is in seconds, RETENTION_DAYS in days (or None to keep sessions).",
            id="django_civic.E204",
        ))
    return found


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@checks.register()
def check_proof_storage(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E206 and W203 (proof storage)."""
    idemia = civic_settings.IDEMIA
    found: list[checks.CheckMessage] = []
    if idemia["STORE_PROOF"]:
        alias = idemia["PROOF_STORAGE"]
        storages_setting = getattr(settings, "STORAGES", {}) or {}
        if alias not in storages_setting:
            found.append(checks.Error(
                f"CIVIC['IDEMIA']['PROOF_STORAGE'] = {alias!r} is not in STORAGES.",
                hint="Add a private storage to STORAGES and name it here.",
                id="django_civic.E206",
            ))
        elif alias == "default":
            found.append(checks.Warning(
                "Proof archives are kept in the 'default' storage, which usually serves public media.",
                hint="They are encrypted, but keep them in a private storage: add one to STORAGES and set "
                     "CIVIC['IDEMIA']['PROOF_STORAGE'].",
                id="django_civic.W203",
            ))
    return found


@checks.register(checks.Tags.security)
def check_callback_base_url(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """W201: without a fixed base URL the callback URL follows the Host header of the starting request."""
    if civic_settings.SANDBOX or settings.DEBUG or not _in_use():
        return []
    if civic_settings.IDEMIA["CALLBACK_BASE_URL"]:
        return []
    return [checks.Warning(
        "CIVIC['IDEMIA']['CALLBACK_BASE_URL'] is not set: IDEMIA's callback and return URLs are built from "
        "the Host header of the request that starts proofing.",
        hint="Set it to this site's public https base URL, e.g. 'https://www.example.com'.",
        id="django_civic.W201",
    )]
