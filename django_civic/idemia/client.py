"""``get_proofing_client()``: the :class:`~django_civic.protocols.idemia.ProofingClient` for the settings.

One client per configuration and process: it holds the pooled HTTP session and, above all, the cached
IDEMIA access token that every request of the process shares. With ``CIVIC["SANDBOX"]`` the client talks
to the sandbox's IDEMIA part with the sandbox's default credentials.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from django_civic.conf import civic_settings, sandbox_url
from django_civic.core import sandbox_credentials
from django_civic.protocols.idemia import ProofingClient, ProofingConfigurationError

# Keys that must all be set for proofing to work against IDEMIA (the sandbox supplies its own).
REQUIRED_KEYS = ("TOKEN_URL", "CLIENT_ID", "CLIENT_SECRET", "RP_HANDLER_URL", "GIPS_URL", "API_KEY")


def is_configured() -> bool:
    """Whether proofing can run: the sandbox is on, or every IDEMIA credential is set."""
    return bool(civic_settings.SANDBOX) or all(civic_settings.IDEMIA[key] for key in REQUIRED_KEYS)


def proofing_config() -> dict[str, Any]:
    """The keyword arguments the client is built from (secrets included: never log this)."""
    idemia = civic_settings.IDEMIA
    config: dict[str, Any] = {
        "token_url": idemia["TOKEN_URL"],
        "client_id": idemia["CLIENT_ID"],
        "client_secret": idemia["CLIENT_SECRET"],
        "rp_handler_url": idemia["RP_HANDLER_URL"],
        "gips_url": idemia["GIPS_URL"],
        "api_key": idemia["API_KEY"],
        "timeout": float(civic_settings.HTTP_TIMEOUT),
    }
    if civic_settings.SANDBOX:
        base = sandbox_url() + "idemia/"
        config.update(token_url=base + "oauth2/token", rp_handler_url=base + "rp/", gips_url=base + "gips/",
                      client_id=sandbox_credentials.IDEMIA_CLIENT_ID,
                      client_secret=sandbox_credentials.IDEMIA_CLIENT_SECRET,
                      api_key=sandbox_credentials.IDEMIA_API_KEY)
    return config


def expected_application_id() -> str:
    """The ``applicationId`` callbacks must carry ("" when not checked)."""
    configured = civic_settings.IDEMIA["APPLICATION_ID"]
    if civic_settings.SANDBOX and not configured:
        return sandbox_credentials.IDEMIA_APPLICATION_ID
    return configured or ""


def get_proofing_client(request: HttpRequest | None = None) -> ProofingClient:
    """Raises :class:`~django_civic.protocols.idemia.ProofingConfigurationError` when the settings are
    unusable.

    ``request`` is accepted for callers of earlier versions and not used: where the client calls comes
    from settings only (:func:`~django_civic.conf.sandbox_url`).
    """
    if not is_configured():
        raise ProofingConfigurationError("CIVIC['IDEMIA'] is not configured")
    try:
        return _client(tuple(sorted(proofing_config().items())))
    except ImproperlyConfigured as exc:
        raise ProofingConfigurationError(str(exc)) from None


@lru_cache(maxsize=16)
def _client(config: tuple) -> ProofingClient:
    return ProofingClient(**dict(config))
