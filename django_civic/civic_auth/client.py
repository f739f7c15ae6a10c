"""``get_oidc_client()``: the Civic Auth client for the settings.

A :class:`~django_civic.protocols.civic_auth.OIDCClient`.

One client per configuration and process (it holds a pooled ``requests.Session``); its discovery
document, JWKS, cooldowns and exchanged tokens live in the Django cache ``CIVIC["CACHE_ALIAS"]``, so
every worker shares them, and ID tokens are consumed once through
:func:`~django_civic.core.replay.consume_once`.

With ``CIVIC["SANDBOX"]`` the issuer is the sandbox's provider (``CIVIC["SANDBOX_URL"] + "oauth/"``) and,
unless ``CIVIC["AUTH"]["CLIENT_ID"]`` names a client registered there, the sandbox's default client
credentials (``django_civic/core/sandbox_credentials.py``) are used.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from django.core.cache import caches
from django.core.signals import setting_changed
from django.http import HttpRequest
from django.urls import reverse

from django_civic.conf import civic_settings, sandbox_url
from django_civic.core import sandbox_credentials
from django_civic.core.replay import consume_once
from django_civic.protocols.civic_auth import ExchangedToken, OIDCClient, TokenExchanger, call_hub
from django_civic.protocols.civic_auth.session import TokenStore

REPLAY_NAMESPACE = "oidc-id-token"


class DjangoCache:
    """The OIDC client's cache interface over ``caches[CIVIC["CACHE_ALIAS"]]``.

    Looked up on every call: Django hands out cache connections per thread, and settings may change.
    """

    def _cache(self) -> Any:
        return caches[civic_settings.CACHE_ALIAS]

    def get(self, key: str, default: Any = None) -> Any:
        return self._cache().get(key, default)

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        self._cache().set(key, value, timeout)

    def add(self, key: str, value: Any, timeout: float | None = None) -> bool:
        return bool(self._cache().add(key, value, timeout))

    def delete(self, key: str) -> Any:
        return self._cache().delete(key)


django_cache = DjangoCache()


def _replay(key: str, ttl: int) -> bool:
    return consume_once(REPLAY_NAMESPACE, key, ttl)


def oidc_config() -> dict[str, Any]:
    """The keyword arguments the client is built from (secrets included: never log this)."""
    auth = civic_settings.AUTH
    config = {
        "issuer": auth["ISSUER"],
        "client_id": auth["CLIENT_ID"],
        "client_secret": auth["CLIENT_SECRET"] or None,
        "scopes": auth["SCOPES"],
        "algorithms": tuple(auth["ALGORITHMS"]),
        "leeway": float(auth["LEEWAY"]),
        "max_token_age": float(auth["MAX_TOKEN_AGE"]),
        "discovery_cache_seconds": float(auth["DISCOVERY_CACHE_SECONDS"]),
        "jwks_cache_seconds": float(auth["JWKS_CACHE_SECONDS"]),
        "jwks_refetch_cooldown": float(auth["JWKS_REFETCH_COOLDOWN"]),
        "timeout": float(civic_settings.HTTP_TIMEOUT),
    }
    if civic_settings.SANDBOX:
        # The sandbox's published test credentials (core.sandbox_credentials, not the sandbox package).
        if not auth["CLIENT_ID"]:
            config.update(client_id=sandbox_credentials.OIDC_CLIENT_ID,
                          client_secret=sandbox_credentials.OIDC_CLIENT_SECRET)
        config["issuer"] = sandbox_url() + "oauth/"
    return config


def get_oidc_client(request: HttpRequest | None = None) -> OIDCClient:
    """Raises :class:`~django_civic.protocols.civic_auth.OIDCConfigurationError` when the settings are
    unusable.

    ``request`` is accepted for callers of earlier versions and not used: where the client calls (the
    issuer) comes from settings only (:func:`~django_civic.conf.sandbox_url`).
    """
    global _config
    # Built once per settings (clear_clients forgets it) instead of on every bearer-authenticated request.
    config = _config
    if config is None:
        config = _config = tuple(sorted(oidc_config().items()))
    return _client(config)


_config: tuple | None = None


_clients: dict[tuple, OIDCClient] = {}
_clients_lock = threading.Lock()


def _client(config: tuple) -> OIDCClient:
    client = _clients.get(config)
    if client is None:
        with _clients_lock:
            client = _clients.get(config)
            if client is None:
                if len(_clients) >= 16:  # settings that keep changing (tests): start over
                    _close_all()
                client = _clients[config] = OIDCClient(**dict(config), cache=django_cache, replay=_replay)
    return client


def _close_all() -> None:
    for client in _clients.values():
        client.close()
    _clients.clear()


def clear_clients(**kwargs: Any) -> None:
    """Forget this process's clients (closing their HTTP connections), and with them their in-memory
    copies of discovery and keys.

    Connected to ``setting_changed`` for ``CIVIC`` and ``CACHES``: a test that changes either starts
    from what the (new) cache holds, exactly like a freshly started worker.
    """
    if kwargs.get("setting") in (None, "CIVIC", "CACHES"):
        with _clients_lock:
            _close_all()
        global _config
        _config = None
        _exchanger.cache_clear()


setting_changed.connect(clear_clients)


def get_token_exchanger(request: HttpRequest | None = None) -> TokenExchanger:
    """The per-user token exchanger (RFC 8693) of the configured client, shared by the process
    (``request`` is not used, as in :func:`get_oidc_client`)."""
    client = get_oidc_client()
    return _exchanger(client, float(civic_settings.AUTH["EXCHANGE_EXPIRY_MARGIN"]))


@lru_cache(maxsize=16)
def _exchanger(client: OIDCClient, margin: float) -> TokenExchanger:
    return TokenExchanger(client, django_cache, margin=margin)


def redirect_uri(request: HttpRequest) -> str:
    """``CIVIC["AUTH"]["REDIRECT_URI"]``, or this site's callback URL made absolute from the request."""
    return civic_settings.AUTH["REDIRECT_URI"] or request.build_absolute_uri(
        reverse("django_civic:civic_auth_callback"))


#: "The profile of the settings": the default of every ``profile`` argument below and in ``hub``.
SETTING: Any = object()


def chosen_profile(profile: Any) -> str | None:
    """``profile``, or ``CIVIC["AUTH"]["PROFILE_ID"]`` for :data:`SETTING`; None for no profile."""
    return (civic_settings.AUTH["PROFILE_ID"] if profile is SETTING else profile) or None


def exchange_key(user_pk: Any, *, site_idp: bool = False) -> str:
    """What a user's exchanged Civic tokens are cached under: apart for those exchanged from the site's own
    identity tokens (``civic_auth.hub``) and from another identity provider's. Erasure forgets both."""
    return f"site-idp:{user_pk}" if site_idp else str(user_pk)


def civic_access_token_for(user: Any, subject_token: Any, *, profile: Any = SETTING,
                           request: HttpRequest | None = None) -> ExchangedToken:
    """A Civic access token for one of this site's users, by RFC 8693 token exchange.

    ``subject_token`` is the user's token from your identity provider (or a callable returning it);
    ``profile`` defaults to ``CIVIC["AUTH"]["PROFILE_ID"]``. Cached per user and profile until shortly
    before it expires; concurrent callers share one exchange. Raises
    :class:`~django_civic.protocols.civic_auth.TokenExchangeError`.
    """
    return get_token_exchanger().access_token(exchange_key(getattr(user, "pk", user)), subject_token,
                                              profile=chosen_profile(profile))


def session_access_token(request: HttpRequest) -> str | None:
    """The Civic access token of this session's Civic Auth login (``STORE_TOKENS``), refreshed when
    it is about to expire; None when there is none or the refresh failed."""
    margin = float(civic_settings.AUTH["EXCHANGE_EXPIRY_MARGIN"])
    return TokenStore(request.session).access_token(get_oidc_client(), margin=margin)


def call_civic_hub(access_token: str, payload: Any, *, profile: Any = SETTING, **options: Any) -> Any:
    """POST one JSON-RPC message to :func:`hub_url` as the token's user
    (``Authorization: Bearer`` and ``x-civic-profile-id``); returns the ``requests.Response``."""
    options.setdefault("timeout", max(float(civic_settings.HTTP_TIMEOUT), 15.0))
    return call_hub(access_token, payload, url=hub_url(), profile_id=chosen_profile(profile), **options)


def hub_url() -> str:
    """``CIVIC["AUTH"]["HUB_URL"]``, or with ``CIVIC["SANDBOX"]`` the sandbox's hub
    (``SANDBOX_URL + "hub/mcp"``)."""
    if civic_settings.SANDBOX:
        return sandbox_url() + "hub/mcp"
    return civic_settings.AUTH["HUB_URL"]
