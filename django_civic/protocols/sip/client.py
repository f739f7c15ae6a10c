"""``SIPClient``: exchange a Civic SIP auth code for the user's verified data (civic-protocols.md A1-A4)."""

from __future__ import annotations

import json
import logging
from typing import Any

import requests

from django_civic.protocols import http
from django_civic.protocols.sip import errors
from django_civic.protocols.sip.crypto import (
    BodyMac,
    KeyFormatError,
    aes_decrypt,
    load_private_key,
    load_public_key,
)
from django_civic.protocols.sip.tokens import (
    EXCHANGE_PATH,
    PartnerTokenSigner,
    TokenError,
    auth_code_id,
    check_auth_code,
    decode_es256,
)
from django_civic.protocols.sip.types import Attribute, SIPUserData

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.civic.com/sip/"
CIVIC_PUBLIC_KEY = (
    "049a45998638cfb3c4b211d72030d9ae8329a242db63bfb0076a54e7647370a8ac"
    "5708b57af6065805d5a6be72332620932dbb35e8d318fce18e7c980a0eb26aa1"
)
_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
_MAX_MESSAGE = 200
# Sent with every request, as before the move to requests: Civic's answers are never asked to be compressed.
_FIXED_HEADERS = {"User-Agent": "django-civic", "Accept-Encoding": "identity"}


class SIPClient:
    """A thread-safe client for one Civic SIP app.

    >>> client = SIPClient(app_id, app_secret, private_key)          # doctest: +SKIP
    >>> data = client.exchange_code(token_from_the_browser)          # doctest: +SKIP
    >>> data.user_id, [a.label for a in data.attributes]             # doctest: +SKIP
    """

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        private_key: Any,
        *,
        api_url: str = DEFAULT_API_URL,
        env: str = "prod",
        civic_public_key: Any = CIVIC_PUBLIC_KEY,
        timeout: float | tuple[float, float] = 10.0,
        max_payload_bytes: int = 16 * 1024 * 1024,
        auth_code_leeway: float = 30.0,
        pool_size: int = 10,
    ) -> None:
        if not app_id or not isinstance(app_id, str):
            raise errors.SIPConfigurationError("app_id is required")
        try:
            secret_bytes = bytes.fromhex(app_secret)
        except (TypeError, ValueError):
            raise errors.SIPConfigurationError("app_secret must be Civic's hex secret") from None
        if len(secret_bytes) not in (16, 24, 32):
            raise errors.SIPConfigurationError("app_secret must be 32, 48 or 64 hex digits")
        try:
            self._private_key = load_private_key(private_key)
            self._civic_key = load_public_key(civic_public_key)
        except KeyFormatError as exc:
            raise errors.SIPConfigurationError(str(exc)) from None
        self.app_id = app_id
        self._app_secret = app_secret
        # The Node SDK appends a "/" to a configured base URL; the JWT audience is that base URL.
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.env = env
        self.exchange_url = f"{self.api_url}{env}/{EXCHANGE_PATH}"
        self.timeout = timeout
        self.max_payload_bytes = max_payload_bytes
        self.auth_code_leeway = auth_code_leeway
        self._signer = PartnerTokenSigner(app_id, self._private_key, self.api_url)
        self._body_mac = BodyMac(app_secret)
        # An auth code is single use: once a request may have reached Civic, sending it again could burn the
        # code or exchange it twice. The session retries only failures *before* anything was sent (DNS,
        # refused or timed-out connects); read timeouts, resets after sending and 5xx answers never are.
        self._http = http.ProcessSession(pool_size)

    def __repr__(self) -> str:
        return f"<SIPClient app_id={self.app_id!r} url={self.exchange_url!r}>"

    # -- public API --------------------------------------------------------------------------------

    def check_auth_code(self, auth_token: Any) -> dict[str, Any]:
        """Check the browser's auth code locally (no network) and return its claims."""
        if not isinstance(auth_token, str) or not auth_token:
            raise errors.SIPInvalidAuthToken("the auth token is missing or not a string")
        try:
            return check_auth_code(auth_token.strip(), self._civic_key, self.app_id,
                                   leeway=self.auth_code_leeway)
        except TokenError as exc:
            raise errors.SIPInvalidAuthToken(f"the auth token is not valid: {exc}") from None

    @staticmethod
    def auth_code_id(claims: dict[str, Any]) -> str:
        return auth_code_id(claims)

    def exchange_code(self, auth_token: Any, *, claims: dict[str, Any] | None = None) -> SIPUserData:
        """Exchange an auth code (single use) for ``SIPUserData``. Raises a :class:`SIPError` subclass.

        ``claims`` lets a caller that already ran :meth:`check_auth_code` skip checking twice.
        """
        if claims is None:
            self.check_auth_code(auth_token)
        elif not isinstance(auth_token, str) or not auth_token.strip().isascii():
            # A JWT is ASCII; anything else could not even be serialised into the request.
            raise errors.SIPInvalidAuthToken("the auth token is missing or not a string")
        response = self._post(*_exchange_body(auth_token.strip()))
        payload = self._read_json(response)
        token, user_id, encrypted = self._data_token(payload)
        return self._verify_and_decrypt(token, user_id, encrypted)

    # -- steps -------------------------------------------------------------------------------------

    def _post(self, body: bytes, signed_body: bytes) -> requests.Response:
        headers = {
            **_FIXED_HEADERS,
            "Accept": "*/*",
            "Content-Type": "application/json",
            "Authorization": f"Civic {self._signer.token()}.{self._body_mac.ext(signed_body)}",
        }
        try:
            response = http.send(self._http.get(), "POST", self.exchange_url, timeout=self.timeout, data=body,
                                 headers=headers)
        except requests.Timeout:
            raise errors.SIPTimeout("Civic did not answer in time") from None
        except OSError as exc:  # requests' own errors, and a CA bundle that cannot be read
            raise errors.SIPConnectionError(f"Civic could not be reached ({type(exc).__name__})") from None
        self._raise_for_status(response)
        return response

    def _raise_for_status(self, response: requests.Response) -> None:
        status = response.status_code
        if status == 200:
            return
        message = self._civic_message(response)
        if status == 400:
            raise errors.SIPBadRequest(f"Civic rejected the request: {message}", status=status)
        if status == 401:
            raise errors.SIPUnauthorized("Civic refused the app's credentials (401)", status=status)
        if status == 403:
            raise errors.SIPForbidden(f"Civic denied access (403): {message}", status=status)
        if status == 405:
            raise errors.SIPMethodNotAllowed("Civic answered 405 Method Not Allowed", status=status)
        if status == 429:
            raise errors.SIPRateLimited("Civic is throttling requests (429)", status=status,
                                        retry_after=http.retry_after(response.headers.get("Retry-After")))
        if status == 504:
            raise errors.SIPGatewayTimeout("Civic's gateway timed out (504)", status=status)
        if status >= 500:
            raise errors.SIPUpstreamError(f"Civic failed ({status})", status=status)
        raise errors.SIPMalformedResponse(f"Civic answered an unexpected status {status}", status=status)

    @staticmethod
    def _civic_message(response: requests.Response) -> str:
        try:
            text = _read_capped(response, 16 * 1024).decode("utf-8", "replace")
        except errors.SIPError:
            return "(unreadable body)"
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            parsed = text
        if isinstance(parsed, dict):
            parsed = parsed.get("message") or parsed.get("Message") or ""
        message = " ".join(str(parsed).split())
        return message[:_MAX_MESSAGE] or "(no message)"

    def _read_json(self, response: requests.Response) -> dict[str, Any]:
        raw = _read_capped(response, _MAX_RESPONSE_BYTES)
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: deeply nested JSON
            raise errors.SIPMalformedResponse("Civic's response is not JSON") from None
        if not isinstance(payload, dict):
            raise errors.SIPMalformedResponse("Civic's response is not a JSON object")
        return payload

    def _data_token(self, payload: dict[str, Any]) -> tuple[str, str, bool]:
        data = payload.get("data")
        if not isinstance(data, str) or not data:
            raise errors.SIPMalformedResponse("Civic's response has no data")
        if payload.get("processed"):
            data = self._fetch_processed(payload.get("payloadUrl") or data)
        user_id = payload.get("userId")
        if not isinstance(user_id, str) or not user_id or len(user_id) > 255:
            raise errors.SIPMalformedResponse("Civic's response has no userId")
        return data, user_id, bool(payload.get("encrypted"))

    def _fetch_processed(self, url: Any) -> str:
        """The large-payload variant: a plain GET of the S3 URL, without our headers, size-capped."""
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise errors.SIPMalformedResponse("the processed payload URL is not an http(s) URL")
        if url.startswith("http://") and not self.api_url.startswith("http://"):
            raise errors.SIPMalformedResponse("the processed payload URL is not https")
        try:
            response = http.send(self._http.get(), "GET", url, timeout=self.timeout, headers=_FIXED_HEADERS)
        except requests.Timeout:
            raise errors.SIPTimeout("the processed payload did not download in time") from None
        except OSError as exc:
            raise errors.SIPConnectionError(
                f"the processed payload could not be fetched ({type(exc).__name__})") from None
        if response.status_code != 200:
            response.close()
            raise errors.SIPUpstreamError(f"the processed payload answered {response.status_code}",
                                          status=response.status_code)
        raw = _read_capped(response, self.max_payload_bytes, errors.SIPPayloadTooLarge)
        try:
            text = raw.decode("ascii")
            del raw  # a payload can be megabytes: do not hold the bytes and the text at once
            return text.strip()
        except UnicodeDecodeError:
            raise errors.SIPMalformedResponse("the processed payload is not a JWT") from None

    def _verify_and_decrypt(self, token: str, user_id: str, encrypted: bool) -> SIPUserData:
        try:
            # No length cap here: the body was already read under max_payload_bytes / the response cap,
            # and a proof-of-identity or S3 payload is far larger than an auth code.
            claims = decode_es256(token, self._civic_key, max_length=None)
        except TokenError as exc:
            raise errors.SIPInvalidSignature(f"Civic's data token could not be verified: {exc}") from None
        if claims.get("iss") != "civic-sip-hosted-service" or claims.get("sub") != self.app_id:
            raise errors.SIPInvalidSignature("Civic's data token was not issued for this app")
        data = claims.get("data")
        if not isinstance(data, str):
            raise errors.SIPMalformedResponse("Civic's data token carries no data string")
        if encrypted:
            try:
                data = aes_decrypt(data, self._app_secret)
            except (ValueError, UnicodeDecodeError):
                # Civic's Node SDK turns this into empty data; an empty login would be worse than an error.
                raise errors.SIPDecryptionError("the user data did not decrypt with the app secret") from None
        try:
            items = json.loads(data)
            if not isinstance(items, list):
                raise ValueError("not a list")
            attributes = tuple(Attribute.from_wire(item) for item in items)
        except (ValueError, TypeError, RecursionError):
            raise errors.SIPMalformedResponse("the user data is not a list of attributes") from None
        return SIPUserData(user_id=user_id, attributes=attributes)


def _exchange_body(auth_token: str) -> tuple[bytes, bytes]:
    """The request body as sent, in the Node SDK's key order, and as the ``ext`` HMAC covers it (keys
    sorted): ``compact_json`` and ``canonical_json`` of ``{"authToken": ..., "allowS3UploadedPayload":
    true}``, written out since only the token varies (tests compare them byte for byte)."""
    token = json.dumps(auth_token, ensure_ascii=False)
    return (f'{{"authToken":{token},"allowS3UploadedPayload":true}}'.encode(),
            f'{{"allowS3UploadedPayload":true,"authToken":{token}}}'.encode())


def _read_capped(response: requests.Response, limit: int,
                 error: type[errors.SIPError] = errors.SIPMalformedResponse) -> bytes:
    """Read a body, refusing more than ``limit`` bytes (the header may lie or be absent)."""
    try:
        return http.read_capped(response, limit)
    except http.BodyTooLarge:
        raise error(f"the response is larger than {limit} bytes") from None
    except requests.Timeout:
        raise errors.SIPTimeout("Civic's response did not arrive in time") from None
    except OSError as exc:
        raise errors.SIPConnectionError(f"Civic's response broke off ({type(exc).__name__})") from None
