"""``CivicSIPBackend``: ``authenticate(request, civic_sip_token=<auth code from civic.sip.js>)``.

The order of the steps is the security argument:

1. local pre-check of the auth code (Civic's ES256 signature, issuer, ``sub == app_id``, expiry): garbage
   never causes a network call;
2. single use, *before* the exchange: the code's id is consumed in the shared cache until it expires,
   so of 50 concurrent copies exactly one reaches Civic (fails closed if the cache is down);
3. the exchange through the SIP client (partner JWT, response verified before decrypting);
4. :func:`~django_civic.core.identities.record_identity` with provider ``civic_sip`` and subject ``userId``,
   and no scope: Civic's answer (``userId`` and the attributes) does not say which scope request was
   approved, and what the browser says it asked for proves nothing;
5. inactive users are refused (``user_can_authenticate``).

A request with a signed-in user connects the identity to that account instead (``signed_in_user``): it
never switches accounts, and an identity of another account is refused (``IdentityLinkedElsewhere``).

On failure it returns ``None`` and leaves the reason on ``request.civic_auth_error`` (a ``SIPError`` or
``CivicLoginError``, both with a stable ``code``); on success the
:class:`~django_civic.core.identities.RecordResult` is on ``request.civic_login_result``. Django's
``authenticate()`` sends ``user_login_failed`` (with the token masked) when it returns ``None``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from django_civic.core.identities import record_identity, signed_in_user
from django_civic.core.labels import CIVIC_SIP
from django_civic.core.replay import consume_once
from django_civic.exceptions import CivicLoginError, InactiveUser, TokenReplayed
from django_civic.protocols.sip import SIPError, SIPInvalidAuthToken
from django_civic.sip.client import get_sip_client

logger = logging.getLogger(__name__)

PROVIDER = CIVIC_SIP
REPLAY_NAMESPACE = "sip-auth-code"


class CivicSIPBackend(ModelBackend):
    """Logs in with a Civic SIP auth code. Inherits ``get_user`` and permissions from ``ModelBackend``
    (``authenticate(username=..., password=...)`` does not bind to this signature, so it is skipped)."""

    provider = PROVIDER

    # Every local here and below holds the code, Civic's answer or the person's values: with DEBUG the
    # technical 500 page (and error reports) print stars for them, in every frame this call leads to.
    @sensitive_variables()
    def authenticate(self, request: HttpRequest | None, civic_sip_token: Any = None,  # type: ignore[override]
                     scope: Any = None) -> Any:
        # ``scope`` is accepted so that callers passing the page's scope request still reach this backend
        # (Django skips backends whose signature does not fit), and ignored: it is the client's word.
        if civic_sip_token is None:
            return None
        try:
            client = get_sip_client()
            claims = client.check_auth_code(civic_sip_token)
            self._consume(client.app_id, client.auth_code_id(claims), claims, client.auth_code_leeway)
            data = client.exchange_code(civic_sip_token, claims=claims)
            result = record_identity(provider=self.provider, subject=data.user_id, attributes=data.attributes,
                                     request=request, user=signed_in_user(request))
        except (SIPError, CivicLoginError) as exc:
            return self._fail(request, exc)
        if not self.user_can_authenticate(result.user):
            return self._fail(request, InactiveUser())
        if request is not None:
            request.civic_login_result = result  # type: ignore[attr-defined]
        return result.user

    def _consume(self, app_id: str, code_id: str, claims: dict[str, Any], leeway: float) -> None:
        if not code_id:
            raise SIPInvalidAuthToken("the auth token carries no code id")
        # The code is accepted until exp + leeway (check_auth_code's grace), so it stays spent until
        # then; a code inside its grace has exp in the past, and counting from exp alone forgot it
        # at once. consume_once adds the margin for other servers' clocks.
        ttl = float(claims["exp"]) + leeway - time.time()
        if not consume_once(REPLAY_NAMESPACE, f"{app_id}:{code_id}", ttl):
            raise TokenReplayed()

    @staticmethod
    def _fail(request: HttpRequest | None, error: Exception) -> None:
        # The code only: SIP and login errors are built to carry no token or personal data, but the
        # log line does not need even their wording.
        logger.info("Civic SIP login refused: %s", getattr(error, "code", type(error).__name__))
        if request is not None:
            request.civic_auth_error = error  # type: ignore[attr-defined]
        return None
