"""``CivicAccessTokenAuthentication``: DRF authentication with Civic access tokens (``Bearer``).

For APIs called by SPAs and mobile apps whose users signed in with Civic Auth: the app sends the Civic
access token it holds, and the token is verified *locally* against the provider's JWKS from the shared
cache (signature with an asymmetric algorithm allow-list, exact issuer, expiry, audience), so once the
keys are cached a request costs no network call. Its ``sub`` is mapped to the user through the
``CivicIdentity`` (issuer, sub); no identity, or an inactive user, is a 401. That mapping is remembered
per process for ``CIVIC["AUTH"]["BEARER_USER_CACHE_SECONDS"]`` (``bearer_cache``), so a request with the
keys cached makes no query either.

It must be an access token issued to this application: ``aud`` contains
``CIVIC["AUTH"]["ACCESS_TOKEN_AUDIENCE"]`` when set, otherwise its ``client_id`` (or ``aud``) is our
client id. ID tokens are refused: they prove a login to us, they do not authorise API calls.

A bearer token that is not a Civic token at all (another issuer, or an HS256 simplejwt token) is left
to the next authentication class, so this class can sit beside simplejwt's.

    REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": [
        "django_civic.civic_auth.authentication.CivicAccessTokenAuthentication", ...]}

``request.auth`` is a :class:`CivicAccessToken` (its ``claims``; the token itself is never in its repr).
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from django_civic.civic_auth.bearer_cache import bearer_users
from django_civic.civic_auth.client import get_oidc_client
from django_civic.conf import civic_settings
from django_civic.models import CivicIdentity
from django_civic.protocols import jose as jws
from django_civic.protocols.civic_auth import InvalidToken, OIDCError, ProviderUnavailable
from django_civic.protocols.civic_auth.validation import MAX_TOKEN_LENGTH

logger = logging.getLogger(__name__)


class CivicAuthUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = _("Civic's signing keys could not be fetched. Please try again in a moment.")
    default_code = "provider_unavailable"


class CivicAccessToken:
    """``request.auth`` for a request authenticated with a Civic access token."""

    def __init__(self, claims: dict[str, Any]) -> None:
        self.claims = claims

    @property
    def subject(self) -> str:
        return self.claims["sub"]

    @property
    def scopes(self) -> list[str]:
        scope = self.claims.get("scope")
        return scope.split() if isinstance(scope, str) else []

    @property
    def profile(self) -> str | None:
        return self.claims.get("civic_profile")

    def __repr__(self) -> str:
        return f"<CivicAccessToken iss={self.claims.get('iss')!r}>"


def _user_for(issuer: str, subject: str) -> Any | None:
    """The user linked to the verified ``(iss, sub)``: from this process's short-lived cache
    (``CIVIC["AUTH"]["BEARER_USER_CACHE_SECONDS"]``, see ``bearer_cache``), else from the database.
    None when no identity matches exactly; an inactive user is returned (and never cached)."""
    ttl = float(civic_settings.AUTH["BEARER_USER_CACHE_SECONDS"] or 0)
    if ttl > 0:
        user = bearer_users.get(issuer, subject)
        if user is not None:
            return user
    generation = bearer_users.generation()  # before the query: an invalidation meanwhile wins
    identity = (CivicIdentity.objects.select_related("user")
                .filter(provider=issuer, subject=subject).first())
    # Compared again in Python: a case-insensitive database collation must not match ABC to abc.
    if identity is None or identity.provider != issuer or identity.subject != subject:
        return None
    user = identity.user
    if ttl > 0 and getattr(user, "is_active", False):
        bearer_users.put(issuer, subject, user, ttl, generation)
    return user


class CivicAccessTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"
    www_authenticate_realm = "api"

    def authenticate(self, request: Any) -> tuple[Any, CivicAccessToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid Authorization header."), code="invalid_token")
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid Authorization header."),
                                                  code="invalid_token") from None
        try:
            # Parsed once, strictly, here; the validator verifies this same parse.
            parsed = jws.parse(token, max_length=MAX_TOKEN_LENGTH)
        except jws.JWSError:
            return None  # not a well-formed JWS, so no Civic token: maybe another scheme's

        try:
            client = get_oidc_client()
        except OIDCError:
            return None  # Civic Auth is not configured: nothing here is ours to accept
        # The issuer the token *claims*, only to decide whether it is ours to judge (never trusted).
        if parsed.unverified_claim("iss") != client.issuer:
            return None  # someone else's token (simplejwt, another provider): let the next class try

        try:
            audience = civic_settings.AUTH["ACCESS_TOKEN_AUDIENCE"]
            claims = client.validate_access_token(parsed, audience=audience)
        except ProviderUnavailable:
            raise CivicAuthUnavailable() from None
        except InvalidToken as exc:
            logger.info("Civic access token refused: %s", exc.reason)
            raise exceptions.AuthenticationFailed(_("The Civic access token is not valid."),
                                                  code="invalid_token") from None
        except OIDCError as exc:
            logger.warning("Civic access token could not be checked: %s", exc.code)
            raise CivicAuthUnavailable() from None

        user = _user_for(claims["iss"], claims["sub"])
        if not getattr(user, "is_active", False):
            raise exceptions.AuthenticationFailed(_("No account is linked to this Civic identity."),
                                                  code="no_active_account")
        return user, CivicAccessToken(claims)

    def authenticate_header(self, request: Any) -> str:
        return f'{self.keyword} realm="{self.www_authenticate_realm}"'
