"""``ProofingClient``: IDEMIA Identity Proofing App (IPA) and GIPS identity API, over HTTP.

The five steps of seeds/idemia-ipa-integration.txt, client side: a client-credentials token (step 1),
create a session (2), the end-user start URL (3); the callback (4) is parsed by :mod:`.parsing`; then the
identity and, at most once, the proof archive from GIPS (5). GIPS URLs are always built from the configured
base URL and a validated identity id, never taken from a callback, and redirects are never followed, so our
``apikey`` header only ever goes to the configured host.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests

from django_civic.protocols import http, strict_json
from django_civic.protocols.idemia import errors
from django_civic.protocols.idemia.parsing import (
    check_identity_id,
    check_session_id,
    extract_proof,
    parse_identity,
)
from django_civic.protocols.idemia.tokens import REFRESH_MARGIN, TokenCache
from django_civic.protocols.idemia.types import IdentityRecord, ProofArchive

logger = logging.getLogger(__name__)

_MAX_JSON_BYTES = 1024 * 1024
DEFAULT_MAX_PROOF_BYTES = 64 * 1024 * 1024
# The "Create Session URL" IDEMIA's portal shows ends with this; the client wants the rp-handler base URL.
_SESSIONS_PATH = "api/v1/sessions"


def _base(url: str, name: str, *, strip: str = "") -> str:
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise errors.ProofingConfigurationError(f"{name} must be an http(s) URL")
    if urlsplit(url).query or urlsplit(url).fragment:
        raise errors.ProofingConfigurationError(f"{name} must not have a query or fragment")
    url = url if url.endswith("/") else url + "/"
    if strip and url.endswith(strip + "/"):
        url = url[: -len(strip) - 1]
    return url


class ProofingClient:
    """A thread-safe client for one IDEMIA IPA application and its GIPS environment.

    >>> client = ProofingClient(token_url=..., client_id=..., client_secret=..., rp_handler_url=...,
    ...                         gips_url=..., api_key=...)                                   # doctest: +SKIP
    >>> session_id = client.create_session(callback_url=..., goto_url=...)                 # doctest: +SKIP
    >>> client.start_url(session_id)                                                       # doctest: +SKIP
    >>> identity = client.get_identity(identity_id)                                        # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        rp_handler_url: str,
        gips_url: str,
        api_key: str,
        timeout: float | tuple[float, float] = 10.0,
        max_proof_bytes: int = DEFAULT_MAX_PROOF_BYTES,
        token_margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
        pool_size: int = 10,
    ) -> None:
        for name, value in (("client_id", client_id), ("client_secret", client_secret), ("api_key", api_key)):
            if not isinstance(value, str) or not value:
                raise errors.ProofingConfigurationError(f"{name} is required")
        self.token_url = _base(token_url, "token_url").rstrip("/")
        self.rp_handler_url = _base(rp_handler_url, "rp_handler_url", strip=_SESSIONS_PATH)
        # Accept ".../gips/" (documented) and ".../gips/v1/" alike.
        self.gips_url = _base(gips_url, "gips_url", strip="v1")
        self.client_id = client_id
        self._client_secret = client_secret
        self._api_key = api_key
        self.timeout = timeout
        self.max_proof_bytes = max_proof_bytes
        # Only failures before a request is sent are retried: creating a session is not idempotent, and
        # re-requesting the proof could close IDEMIA's transaction twice. The app retries the rest with
        # backoff.
        self._http = http.ProcessSession(pool_size, session=session)
        self._tokens = TokenCache(self._fetch_token, margin=token_margin, clock=clock)

    def __repr__(self) -> str:
        return f"<ProofingClient client_id={self.client_id!r} rp_handler={self.rp_handler_url!r}>"

    # -- step 1: access token --------------------------------------------------------------------------

    def access_token(self) -> str:
        """A valid access token: the cached one, or a new one from the token (Cognito) endpoint."""
        return self._tokens.get()

    def _fetch_token(self) -> tuple[str, float]:
        body = {"grant_type": "client_credentials", "client_id": self.client_id,
                "client_secret": self._client_secret}
        response = self._send("POST", self.token_url, "the token endpoint", data=body,
                              headers={"Accept": "application/json"})
        if response.status_code == 400:
            # Cognito answers 400 {"error": "invalid_client"} for wrong credentials (RFC 6749 5.2).
            code = self._oauth_error(response)
            if code in ("invalid_client", "unauthorized_client"):
                raise errors.ProofingUnauthorized("IDEMIA refused the client credentials", status=400)
            raise errors.ProofingBadRequest(f"the token endpoint rejected the request ({code})", status=400)
        self._raise_for_status(response, "the token endpoint")
        payload = self._json(response, "the token endpoint")
        token = payload.get("access_token")
        token_type = payload.get("token_type", "Bearer")
        expires_in = payload.get("expires_in", 3600)
        if not isinstance(token, str) or not 0 < len(token) <= 16 * 1024 or any(c.isspace() for c in token):
            raise errors.ProofingMalformedResponse("the token endpoint returned no usable access_token")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise errors.ProofingMalformedResponse("the token endpoint returned a token that is not Bearer")
        if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)) or not expires_in > 0:
            raise errors.ProofingMalformedResponse("the token endpoint returned no valid expires_in")
        logger.debug("IDEMIA access token obtained (expires in %ss)", int(expires_in))
        return token, float(expires_in)

    # -- steps 2 and 3: session and start URL ----------------------------------------------------------

    def create_session(self, *, callback_url: str | None = None, goto_url: str | None = None) -> str:
        """Create an IPA session and return its ``sessionId`` (valid for 30 minutes at IDEMIA)."""
        body: dict[str, str] = {}
        if callback_url:
            body["callbackUrl"] = callback_url
        if goto_url:
            body["gotoUrl"] = goto_url
        data = json.dumps(body).encode("utf-8")
        for attempt in (1, 2):
            token = self.access_token()
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                       "Accept": "application/json"}
            response = self._send("POST", self.rp_handler_url + _SESSIONS_PATH, "the rp-handler", data=data,
                                  headers=headers)
            if response.status_code == 401 and attempt == 1:
                # The cached token was revoked or expired early: get a new one, once.
                response.close()
                self._tokens.invalidate(token)
                continue
            break
        self._raise_for_status(response, "the rp-handler")
        payload = self._json(response, "the rp-handler")
        try:
            return check_session_id(payload.get("sessionId"))
        except errors.ProofingInvalidIdentifier:
            raise errors.ProofingMalformedResponse("the rp-handler returned no valid sessionId") from None

    def start_url(self, session_id: str) -> str:
        """The URL the end user opens (or scans as a QR code) to run the proofing journey."""
        check_session_id(session_id)
        return f"{self.rp_handler_url}api/v1/ipa/start?{urlencode({'session-id': session_id})}"

    # -- step 5: identity and proof from GIPS ----------------------------------------------------------

    def identity_url(self, identity_id: str) -> str:
        return f"{self.gips_url}v1/identities/{quote(check_identity_id(identity_id), safe='')}"

    def get_identity(self, identity_id: str) -> IdentityRecord:
        """``GET {gips}/v1/identities/{id}`` with our API key, parsed. Does not close IDEMIA's transaction."""
        url = self.identity_url(identity_id)
        response = self._send("GET", url, "GIPS", headers=self._gips_headers("application/json"))
        self._raise_for_status(response, "GIPS")
        return parse_identity(self._json(response, "GIPS"), identity_id)

    def get_proof(self, identity_id: str) -> ProofArchive:
        """``GET {gips}/v1/identities/{id}/proof``: the proof archive. **Closes IDEMIA's transaction.**

        After a successful call IDEMIA deletes the identity's data, so call this at most once per identity,
        after :meth:`get_identity`. Raises :class:`~.errors.ProofNotReady` (retryable) while GIPS is still
        processing, which IDEMIA signals with a 403.
        """
        url = self.identity_url(identity_id) + "/proof"
        response = self._send("GET", url, "GIPS", headers=self._gips_headers("*/*"))
        self._raise_for_status(response, "GIPS", forbidden=errors.ProofNotReady)
        raw = _read_capped(response, self.max_proof_bytes, errors.ProofingResponseTooLarge)
        content, content_type = extract_proof(response.headers.get("Content-Type", ""), raw)
        return ProofArchive(content=content, content_type=content_type)

    def _gips_headers(self, accept: str) -> dict[str, str]:
        return {"apikey": self._api_key, "Accept": accept}

    # -- HTTP plumbing ---------------------------------------------------------------------------------

    def _send(self, method: str, url: str, service: str, **kwargs: Any) -> requests.Response:
        try:
            return http.send(self._http.get(), method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise errors.ProofingTimeout(f"{service} did not answer in time") from None
        except OSError as exc:  # requests' own errors, and a CA bundle that cannot be read
            raise errors.ProofingConnectionError(
                f"{service} could not be reached ({type(exc).__name__})") from None

    @staticmethod
    def _raise_for_status(response: requests.Response, service: str,
                          forbidden: type[errors.ProofingError] = errors.ProofingUnauthorized) -> None:
        status = response.status_code
        if status in (200, 201):
            return
        response.close()
        if 300 <= status < 400:
            # Never follow: a redirect would carry our credentials to wherever it points.
            raise errors.ProofingMalformedResponse(f"{service} answered with a redirect ({status})",
                                                   status=status)
        if status == 400:
            raise errors.ProofingBadRequest(f"{service} rejected the request (400)", status=status)
        if status == 401:
            raise errors.ProofingUnauthorized(f"{service} refused our credentials (401)", status=status)
        if status == 403:
            # GIPS answers 403 on the proof while the identity is PROCESSING; elsewhere 403 is a refusal.
            raise forbidden(f"{service} answered 403", status=status)
        if status in (404, 410):
            raise errors.ProofingNotFound(f"{service} does not know this identity ({status})", status=status)
        if status == 429:
            raise errors.ProofingRateLimited(f"{service} is throttling requests (429)",
                                             retry_after=http.retry_after(response.headers.get("Retry-After")))
        if status >= 500:
            raise errors.ProofingUpstreamError(f"{service} failed ({status})", status=status)
        raise errors.ProofingMalformedResponse(f"{service} answered an unexpected status {status}",
                                               status=status)

    @staticmethod
    def _json(response: requests.Response, service: str) -> dict[str, Any]:
        raw = _read_capped(response, _MAX_JSON_BYTES)
        try:
            payload = strict_json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
            raise errors.ProofingMalformedResponse(f"{service} did not answer JSON") from None
        if not isinstance(payload, dict):
            raise errors.ProofingMalformedResponse(f"{service} did not answer a JSON object")
        return payload

    @staticmethod
    def _oauth_error(response: requests.Response) -> str:
        try:
            payload = json.loads(_read_capped(response, 16 * 1024))
        except (errors.ProofingError, ValueError, RecursionError):
            return "unreadable error"
        code = payload.get("error") if isinstance(payload, dict) else None
        # Only a short OAuth error code is echoed, never free text from the body.
        if isinstance(code, str) and code.replace("_", "").isalnum() and len(code) <= 64:
            return code
        return "no error code"


def _read_capped(response: requests.Response, limit: int,
                 error: type[errors.ProofingError] = errors.ProofingResponseTooLarge) -> bytes:
    """Read a streamed body, refusing more than ``limit`` bytes (Content-Length may lie or be absent)."""
    try:
        return http.read_capped(response, limit)
    except http.BodyTooLarge:
        raise error(f"the response is larger than {limit} bytes") from None
    except requests.Timeout:
        raise errors.ProofingTimeout("IDEMIA's response did not arrive in time") from None
    except OSError as exc:
        raise errors.ProofingConnectionError(f"IDEMIA's response broke off ({type(exc).__name__})") from None
