"""``OIDCClient``: Civic Auth's authorization code flow, tokens, userinfo, logout and token exchange.

Pure Python: the cache (Django's, in the app) and the replay check are passed in. Endpoints come from
the issuer's discovery document (civic-protocols.md B1); nothing falls back to guessed URLs, because a
provider whose discovery fails should stop logins rather than send them somewhere unexpected.

>>> client = OIDCClient("https://auth.civic.com/oauth/", "client-id", cache=MemoryCache())  # doctest: +SKIP
>>> request = client.authorization_request(redirect_uri="https://example.com/cb/")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hmac
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from django_civic.protocols.civic_auth.cache import Cache, MemoryCache
from django_civic.protocols.civic_auth.discovery import Discovery, ProviderMetadata
from django_civic.protocols.civic_auth.documents import DocumentCache
from django_civic.protocols.civic_auth.errors import (
    IdentityChanged,
    InvalidToken,
    OIDCConfigurationError,
    ProviderResponseError,
    TokenExchangeError,
)
from django_civic.protocols.civic_auth.http import raise_for_status, read_json, send
from django_civic.protocols.civic_auth.jwks import KeySet
from django_civic.protocols.civic_auth.pkce import new_verifier, random_token, s256_challenge
from django_civic.protocols.civic_auth.types import AuthorizationRequest, TokenResponse
from django_civic.protocols.civic_auth.validation import ReplayCheck, TokenValidator, allowed_algorithms
from django_civic.protocols.http import ProcessSession

DEFAULT_ISSUER = "https://auth.civic.com/oauth/"
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
TOKEN_EXCHANGE_TIMEOUT = 15.0  # python-civic-mcp-client's timeout for the exchange


class OIDCClient:
    """A thread-safe client for one Civic Auth application (public, or confidential with a secret)."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str | None = None,
        *,
        cache: Cache | None = None,
        scopes: str = "openid email profile",
        algorithms: Iterable[str] = ("RS256", "ES256"),
        leeway: float = 60,
        max_token_age: float = 3600,
        discovery_cache_seconds: float = 3600,
        jwks_cache_seconds: float = 3600,
        jwks_refetch_cooldown: float = 30,
        timeout: float | tuple[float, float] = 10.0,
        replay: ReplayCheck | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(client_id, str) or not client_id:
            raise OIDCConfigurationError("client_id is required")
        parts = urlsplit(issuer) if isinstance(issuer, str) else None
        if parts is None or parts.scheme not in ("https", "http") or not parts.netloc:
            raise OIDCConfigurationError("issuer must be an http(s) URL")
        if "openid" not in scopes.split():
            raise OIDCConfigurationError("scopes must include openid")
        self.issuer = issuer
        self.client_id = client_id
        self._client_secret = client_secret or None
        self.scopes = scopes
        self._configured_algorithms = allowed_algorithms(algorithms)
        self._allowed: tuple[ProviderMetadata | None, tuple[str, ...]] = (None, ())
        self.timeout = timeout
        self.clock = clock
        self.cache: Cache = cache if cache is not None else MemoryCache()
        self._http = ProcessSession(session=session)
        self._discovery = Discovery(
            issuer, self._http,
            DocumentCache(self.cache, "discovery", ttl=discovery_cache_seconds, clock=clock),
            timeout=timeout, cooldown=jwks_refetch_cooldown,
        )
        self._jwks_documents = DocumentCache(self.cache, "jwks", ttl=jwks_cache_seconds, clock=clock)
        self._jwks_cooldown = jwks_refetch_cooldown
        self._keysets: dict[str, KeySet] = {}
        self.validator = TokenValidator(
            issuer=issuer, client_id=client_id, keys=self.keys, algorithms=self.algorithms,
            leeway=leeway, max_age=max_token_age, replay=replay, clock=clock,
        )

    def __repr__(self) -> str:
        kind = "confidential" if self._client_secret else "public"
        return f"<OIDCClient issuer={self.issuer!r} client_id={self.client_id!r} {kind}>"

    def close(self) -> None:
        """Close the pooled HTTP connections (the client still works: it reconnects when used)."""
        self._http.close()

    @property
    def is_public(self) -> bool:
        return self._client_secret is None

    # -- provider metadata and keys ----------------------------------------------------------------

    def metadata(self) -> ProviderMetadata:
        return self._discovery.metadata()

    def keys(self) -> KeySet:
        uri = self.metadata().jwks_uri
        keyset = self._keysets.get(uri)
        if keyset is None:
            keyset = self._keysets[uri] = KeySet(uri, self._http, self._jwks_documents, timeout=self.timeout,
                                                 cooldown=self._jwks_cooldown)
        return keyset

    def algorithms(self) -> tuple[str, ...]:
        """The allow-list: configured asymmetric algorithms the provider also says it signs with."""
        metadata = self.metadata()
        known_for, allowed = self._allowed
        if known_for is not metadata:  # worked out once per discovery document, not per token
            allowed = allowed_algorithms(self._configured_algorithms,
                                         metadata.id_token_signing_alg_values_supported)
            self._allowed = (metadata, allowed)
        return allowed

    # -- the authorization code flow ---------------------------------------------------------------

    def authorization_request(self, *, redirect_uri: str, state: str | None = None, nonce: str | None = None,
                              code_verifier: str | None = None, scope: str | None = None,
                              **extra: str | None) -> AuthorizationRequest:
        """The URL to send the browser to, with PKCE S256 always (Civic requires it for public clients).

        ``extra`` adds parameters such as ``login_hint`` or ``prompt`` (None: left out).
        """
        state = state or random_token()
        nonce = nonce or random_token()
        code_verifier = code_verifier or new_verifier()
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": scope or self.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": s256_challenge(code_verifier),
            "code_challenge_method": "S256",
            **{k: v for k, v in extra.items() if v is not None},
        }
        endpoint = self.metadata().authorization_endpoint
        separator = "&" if urlsplit(endpoint).query else "?"
        return AuthorizationRequest(url=endpoint + separator + urlencode(params), state=state, nonce=nonce,
                                    code_verifier=code_verifier)

    def exchange_code(self, code: Any, *, redirect_uri: str, code_verifier: str) -> TokenResponse:
        """Trade an authorization code (single use) for tokens. The ID token is *not* validated here:
        :meth:`validate_id_token` does that with the login's nonce."""
        if not isinstance(code, str) or not code or len(code) > 4096:
            raise InvalidToken("the authorization code is missing or malformed", reason="malformed")
        tokens = self._token_request({
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }, what="token")
        if not tokens.id_token:
            raise ProviderResponseError("the token response has no id_token")
        return tokens

    def validate_id_token(self, id_token: Any, *, nonce: str | None, access_token: str | None = None,
                          single_use: bool = True) -> dict[str, Any]:
        return self.validator.id_token(id_token, nonce=nonce, access_token=access_token,
                                       single_use=single_use)

    def validate_access_token(self, access_token: Any, *, audience: str | None = None) -> dict[str, Any]:
        return self.validator.access_token(access_token, audience=audience)

    def userinfo(self, access_token: str, *, expected_sub: str) -> dict[str, Any]:
        """The userinfo claims; :class:`IdentityChanged` unless their ``sub`` is the ID token's (5.3.2)."""
        endpoint = self.metadata().userinfo_endpoint
        if not endpoint:
            raise ProviderResponseError("the provider has no userinfo endpoint")
        response = send(self._http.get(), "GET", endpoint, timeout=self.timeout, what="userinfo",
                        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"})
        if response.status_code == 401:
            # RFC 6750 3.1: the access token itself was refused (expired, revoked, or never a token): the
            # token is at fault, not the provider.
            response.close()
            raise InvalidToken("the userinfo endpoint refused the access token",
                               reason="access_token_refused")
        raise_for_status(response, "userinfo")
        claims = read_json(response, "userinfo")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not hmac.compare_digest(sub.encode(), expected_sub.encode()):
            raise IdentityChanged("the userinfo response is about a different user")
        return claims

    # -- refresh, client credentials, logout -------------------------------------------------------

    def refresh(self, refresh_token: str, *, previous_claims: dict[str, Any] | None = None,
                ) -> tuple[TokenResponse, dict[str, Any] | None]:
        """Use a refresh token; return the new tokens and the refreshed ID token's claims (if one came).

        With ``previous_claims`` (the ID token of the original login), the refreshed ID token must
        name the same identity: same ``iss``, ``sub``, ``aud`` and ``azp``, the same ``auth_time``
        and ``nonce`` when present (OIDC Core 12.2). Otherwise :class:`IdentityChanged`.
        """
        if not isinstance(refresh_token, str) or not refresh_token:
            raise InvalidToken("the refresh token is missing", reason="malformed")
        tokens = self._token_request({"grant_type": "refresh_token", "refresh_token": refresh_token},
                                     what="refresh")
        claims = None
        if tokens.id_token:
            # Not single use: this token comes straight from the provider's token endpoint in answer to
            # our own request, so nobody can have replayed it to us. A provider may also legitimately
            # send the same one twice: without a jti and within the same second, a deterministic RS256
            # signature over equal claims (panva's oidc-provider) is byte for byte the same token, and
            # refusing it dropped the session's tokens when two refreshes ran at once.
            claims = self.validator.id_token(tokens.id_token, nonce=None, access_token=tokens.access_token,
                                             single_use=False)
            if previous_claims is not None:
                check_same_identity(previous_claims, claims)
        return tokens, claims

    def client_credentials(self, scope: str | None = None) -> TokenResponse:
        """A token for the application itself (client credentials grant; needs the client secret)."""
        self._require_secret("the client credentials grant")
        form = {"grant_type": "client_credentials"}
        if scope:
            form["scope"] = scope
        return self._token_request(form, what="client credentials")

    def end_session_url(self, *, id_token_hint: str | None = None,
                        post_logout_redirect_uri: str | None = None, state: str | None = None) -> str | None:
        """The provider's RP-initiated logout URL, or None when it has no end-session endpoint."""
        endpoint = self.metadata().end_session_endpoint
        if not endpoint:
            return None
        params = {"client_id": self.client_id}
        if id_token_hint:
            params["id_token_hint"] = id_token_hint
        if post_logout_redirect_uri:
            params["post_logout_redirect_uri"] = post_logout_redirect_uri
        if state:
            params["state"] = state
        separator = "&" if urlsplit(endpoint).query else "?"
        return endpoint + separator + urlencode(params)

    # -- RFC 8693 token exchange -------------------------------------------------------------------

    def token_exchange(self, subject_token: str, *, subject_token_type: str = ACCESS_TOKEN_TYPE,
                       expires_in: int | None = None, civic_profile: str | None = None) -> TokenResponse:
        """Exchange a user's token for a Civic access token, exactly as civic-protocols.md B3:

        ``Authorization: Basic base64(client_id:client_secret)`` (not form-encoded first), form
        ``grant_type``, ``subject_token``, ``subject_token_type`` and the optional ``expires_in`` and
        ``civic_profile``; no ``client_id``, ``scope`` or ``audience`` in the body.
        """
        self._require_secret("token exchange")
        if not isinstance(subject_token, str) or not subject_token:
            raise TokenExchangeError("the subject token is missing")
        form = {
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "subject_token": subject_token,
            "subject_token_type": subject_token_type,
        }
        if expires_in is not None:
            form["expires_in"] = str(int(expires_in))
        if civic_profile:
            form["civic_profile"] = civic_profile
        timeout = self.timeout
        if not isinstance(timeout, tuple):
            timeout = max(float(timeout), TOKEN_EXCHANGE_TIMEOUT)
        try:
            return self._token_request(form, what="token exchange", error_class=TokenExchangeError,
                                       timeout=timeout, basic=True)
        except ProviderResponseError as exc:
            raise TokenExchangeError(str(exc)) from None

    # -- helpers -----------------------------------------------------------------------------------

    def _require_secret(self, what: str) -> None:
        if self._client_secret is None:
            raise OIDCConfigurationError(f"{what} needs the client secret (CIVIC['AUTH']['CLIENT_SECRET'])")

    def _basic(self) -> str:
        credentials = f"{self.client_id}:{self._client_secret}".encode()
        return "Basic " + base64.b64encode(credentials).decode("ascii")

    def _token_request(self, form: dict[str, str], *, what: str, error_class: Any = None,
                       timeout: Any = None, basic: bool = False) -> TokenResponse:
        headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
        if self._client_secret is not None:
            # client_secret_basic; the id and secret are used as given (civic-protocols.md B3), which is
            # also RFC 6749's form encoding for the URL-safe values Civic issues.
            headers["Authorization"] = self._basic()
        elif not basic:
            form = {**form, "client_id": self.client_id}
        response = send(self._http.get(), "POST", self.metadata().token_endpoint,
                        timeout=timeout or self.timeout, what=what, data=form, headers=headers)
        if error_class is not None:
            raise_for_status(response, what, error_class)
        else:
            raise_for_status(response, what)
        return TokenResponse.from_json(read_json(response, what))


def check_same_identity(previous: dict[str, Any], current: dict[str, Any]) -> None:
    """OIDC Core 12.2: a refreshed ID token must be about the same login as the original one."""
    def audiences(claims: dict[str, Any]) -> list[Any]:
        aud = claims.get("aud")
        return sorted(aud) if isinstance(aud, list) else [aud]

    if audiences(current) != audiences(previous):
        raise IdentityChanged("the refreshed ID token has a different aud")
    for claim in ("iss", "sub", "azp"):
        if current.get(claim) != previous.get(claim):
            raise IdentityChanged(f"the refreshed ID token has a different {claim}")
    for claim in ("auth_time", "nonce"):
        if claim in current and current[claim] != previous.get(claim):
            raise IdentityChanged(f"the refreshed ID token has a different {claim}")
