"""``CivicAuthBackend``: ``authenticate(request, civic_auth_id_token=..., nonce=...)``.

Used by the redirect flow's callback (which also passes the access token it received with the ID
token) and by the API's ID-token login. The steps, in the order that makes them safe:

1. ``nonce`` must be a value *we* issued (the view got it from the session's pending login, or from
   the API's single-use nonce store); a token is never checked against a nonce it brought along;
2. the ID token is validated by :class:`~django_civic.protocols.civic_auth.OIDCClient`: signature from
   the cached JWKS with an asymmetric algorithm allow-list, exact ``iss``, ``aud``/``azp``, times,
   ``nonce``, ``at_hash``, and single use (its ``jti`` consumed in the shared cache, failing closed);
3. with an access token and ``CIVIC["AUTH"]["FETCH_USERINFO"]``, the userinfo claims are fetched and
   their ``sub`` must be the ID token's;
4. :func:`~django_civic.core.identities.record_identity` with provider = the issuer exactly as in the
   token and subject = ``sub``; claims become attributes ``oidc.<claim>``, and a *verified* email also
   ``contact.personal.email``, so email linking and user-field sync behave exactly as for Civic SIP;
5. inactive users are refused (``user_can_authenticate``).

A request with a signed-in user connects the identity to that account instead (``signed_in_user``): it
never switches accounts, and an identity of another account is refused (``IdentityLinkedElsewhere``).

On failure it returns ``None`` and leaves the reason on ``request.civic_auth_error`` (an ``OIDCError`` or
``CivicLoginError``, both with a stable ``code``); on success the
:class:`~django_civic.core.identities.RecordResult` is on ``request.civic_login_result`` and the validated
claims on ``request.civic_auth_claims``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from django_civic.civic_auth.client import get_oidc_client
from django_civic.conf import civic_settings
from django_civic.core.identities import record_identity, signed_in_user
from django_civic.exceptions import CivicLoginError, InactiveUser
from django_civic.protocols.civic_auth import NonceMismatch, OIDCError
from django_civic.protocols.sip.types import EMAIL, Attribute

logger = logging.getLogger(__name__)

#: Standard claims (OIDC Core 5.1) recorded as attributes ``oidc.<claim>``. Anything else, notably
#: ``forwardedTokens`` (other providers' tokens), is never stored.
RECORDED_CLAIMS = (
    "email", "phone_number", "name", "given_name", "family_name", "middle_name", "nickname",
    "preferred_username", "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale",
    "updated_at",
)
# Claims whose trust depends on a companion "<claim>_verified" flag.
VERIFIED_BY = {"email": "email_verified", "phone_number": "phone_number_verified"}
_MAX_VALUE = 2048
_MAX_SCOPE = 191


def claims_to_attributes(claims: dict[str, Any]) -> list[Attribute]:
    """The verified attributes a set of ID-token (and userinfo) claims stands for."""
    attributes = []
    for claim in RECORDED_CLAIMS:
        value = claims.get(claim)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            continue
        text = str(value)
        if not text or len(text) > _MAX_VALUE:
            continue
        flag = VERIFIED_BY.get(claim)
        trusted = claims.get(flag) is True if flag else True
        attributes.append(Attribute(f"oidc.{claim}", text, is_valid=trusted, is_owner=trusted))
    email = claims.get("email")
    if isinstance(email, str) and email and claims.get("email_verified") is True and len(email) <= _MAX_VALUE:
        # The shared label the linking policy and USER_FIELD_MAP read, only for a verified email.
        attributes.append(Attribute(EMAIL, email, is_valid=True, is_owner=True))
    return attributes


class CivicAuthBackend(ModelBackend):
    """Logs in with a Civic Auth ID token. Inherits ``get_user`` and permissions from ``ModelBackend``."""

    # Every local here and below holds a token or the person's values: with DEBUG the technical 500 page
    # (and error reports) print stars for them, in every frame this call leads to.
    @sensitive_variables()
    def authenticate(  # type: ignore[override]
        self, request: HttpRequest | None, civic_auth_id_token: Any = None, nonce: Any = None,
        civic_auth_access_token: Any = None, scope: Any = "",
    ) -> Any:
        if civic_auth_id_token is None:
            return None
        try:
            if not isinstance(nonce, str) or not nonce:
                raise NonceMismatch("no nonce was issued for this login")
            access_token = civic_auth_access_token if isinstance(civic_auth_access_token, str) else None
            client = get_oidc_client()
            claims = client.validate_id_token(civic_auth_id_token, nonce=nonce, access_token=access_token)
            if access_token and civic_settings.AUTH["FETCH_USERINFO"]:
                userinfo = client.userinfo(access_token, expected_sub=claims["sub"])
                # Signed ID-token claims win over userinfo's; userinfo adds what the token left out.
                claims = {**userinfo, **claims}
            result = record_identity(provider=claims["iss"], subject=claims["sub"],
                                     attributes=claims_to_attributes(claims), scope=_clean_scope(scope),
                                     request=request, user=signed_in_user(request))
        except (OIDCError, CivicLoginError) as exc:
            return self._fail(request, exc)
        if not self.user_can_authenticate(result.user):
            return self._fail(request, InactiveUser())
        if request is not None:
            request.civic_login_result = result  # type: ignore[attr-defined]
            request.civic_auth_claims = claims  # type: ignore[attr-defined]
        return result.user

    @staticmethod
    def _fail(request: HttpRequest | None, error: Exception) -> None:
        # The code and rule only: errors carry no token or personal data, the log needs no more.
        logger.info("Civic Auth login refused: %s (%s)", getattr(error, "code", type(error).__name__),
                    getattr(error, "reason", "-"))
        if request is not None:
            request.civic_auth_error = error  # type: ignore[attr-defined]
        return None


def _clean_scope(scope: Any) -> str:
    """The granted OIDC scope (``openid email profile``), or "" if it is not a plain scope string."""
    if not isinstance(scope, str) or len(scope) > _MAX_SCOPE:
        return ""
    if all(part.replace(":", "").replace("_", "").isalnum() for part in scope.split()):
        return scope
    return ""
