"""Civic's hub for every user of the site, whatever the site logs them in with.

``civic_access_token(user)`` is a Civic access token for any Django user:

- the access token of their Civic Auth login, when ``request`` is their session and holds one
  (``CIVIC["AUTH"]["STORE_TOKENS"]``): it is valid at the hub as it is, no exchange;
- otherwise a federated token exchange (RFC 8693) of an identity token the site issues itself
  (:mod:`django_civic.civic_auth.idp`), which Civic trusts once the site's issuer is registered at its
  Integration page. Cached per user and profile in the shared cache until shortly before it expires, so
  every worker reuses it; the identity token is only minted when an exchange is needed.

``civic_hub_client(user)`` is Civic's own Python client (``civic-mcp-client``, the ``django-civic[hub]``
extra) configured for the user: ``await client.get_tools()``, ``await client.call_tool(name=..., args=...)``.

Tokens are credentials: nothing here logs them, and Django's error reports hide them.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from django_civic.civic_auth import idp
from django_civic.civic_auth.client import (
    SETTING,
    chosen_profile,
    exchange_key,
    get_token_exchanger,
    hub_url,
    session_access_token,
)


@sensitive_variables("token")
def civic_access_token(user: Any, profile: str | None = SETTING, *,
                       request: HttpRequest | None = None) -> str:
    """A Civic access token for ``user`` (any Django user), for ``profile`` (default
    ``CIVIC["AUTH"]["PROFILE_ID"]``; exchanged tokens are locked to it with ``civic_profile``).

    Raises :class:`~django_civic.protocols.civic_auth.TokenExchangeError` when Civic refuses or cannot be
    reached, and ``ImproperlyConfigured`` when the site issues no identity tokens
    (``CIVIC["IDP"]["ISSUER"]`` unset, or no key: ``manage.py civic_idp_keys create``).
    """
    session_user = getattr(request, "user", None)
    # Only the user's own session: a request of someone else never lends its token.
    if request is not None and getattr(session_user, "pk", None) == user.pk and user.pk is not None:
        token = session_access_token(request)
        if token:
            return token
    return get_token_exchanger().access_token(
        exchange_key(user.pk, site_idp=True), lambda: idp.identity_token(user),
        profile=chosen_profile(profile), subject_key=idp.subject_for(user)).access_token


def civic_hub_client(user: Any, profile: str | None = SETTING, *, request: HttpRequest | None = None) -> Any:
    """Civic's ``CivicMCPClient`` for ``user``, at :func:`~django_civic.civic_auth.client.hub_url`.

    Async, as the client is: use it inside one event loop and close it there (``await client.close()``);
    the token comes from :func:`civic_access_token`, run in Django's sync thread. From sync code, enter the
    loop with ``asgiref.sync.async_to_sync`` (not ``asyncio.run``, whose sync work would run in a shared
    executor thread holding a database connection Django never closes). Needs
    ``pip install 'django-civic[hub]'``.
    """
    from asgiref.sync import sync_to_async
    from civic_mcp_client import CivicMCPClient, TokenAuth

    chosen = chosen_profile(profile)
    token = sync_to_async(civic_access_token)
    return CivicMCPClient(auth=TokenAuth(token=lambda: token(user, chosen, request=request)), url=hub_url(),
                          civic_profile=chosen)
