"""Typed errors for the Civic SIP exchange.

Every error has a stable ``code`` (used in API responses and logs) and a message that carries no
secret, token or personal data, so it is safe to log or show.
"""

from __future__ import annotations

from django_civic.protocols.errors import ProtocolError, RateLimited


class SIPError(ProtocolError):
    """Base class: anything that stops a code exchange."""

    code = "sip_error"
    # retryable (ProtocolError): trying again later with a *new* auth code may work.


class SIPConfigurationError(SIPError):
    """The SIP client is misconfigured (app id, secret or key)."""

    code = "sip_configuration"


class SIPInvalidAuthToken(SIPError):
    """The auth code from the browser is not a valid Civic auth code for this app."""

    code = "invalid_token"


class SIPBadRequest(SIPError):
    """Civic rejected the request (HTTP 400)."""

    code = "sip_bad_request"


class SIPUnauthorized(SIPError):
    """Civic refused our credentials (HTTP 401)."""

    code = "sip_unauthorized"


class SIPForbidden(SIPError):
    """Civic denied access (HTTP 403), e.g. a domain that is not whitelisted for the app."""

    code = "sip_forbidden"


class SIPMethodNotAllowed(SIPError):
    """Civic answered HTTP 405."""

    code = "sip_method_not_allowed"


class SIPRateLimited(RateLimited, SIPError):
    """Civic throttled us (HTTP 429)."""

    code = "sip_rate_limited"


class SIPUpstreamError(SIPError):
    """Civic failed (HTTP 5xx)."""

    code = "sip_upstream_error"
    retryable = True


class SIPGatewayTimeout(SIPUpstreamError):
    """Civic's gateway timed out (HTTP 504)."""

    code = "sip_gateway_timeout"


class SIPTimeout(SIPError):
    """Civic did not answer in time."""

    code = "sip_timeout"
    retryable = True


class SIPConnectionError(SIPError):
    """Civic could not be reached."""

    code = "sip_connection_error"
    retryable = True


class SIPResponseError(SIPError):
    """Civic's response could not be trusted or read."""

    code = "sip_bad_response"


class SIPInvalidSignature(SIPResponseError):
    """The data token in Civic's response failed verification."""

    code = "sip_bad_signature"


class SIPDecryptionError(SIPResponseError):
    """The user data in Civic's response did not decrypt (wrong app secret or corrupt payload)."""

    code = "sip_decryption_failed"


class SIPMalformedResponse(SIPResponseError):
    """Civic's response was not in the documented shape."""

    code = "sip_malformed_response"


class SIPPayloadTooLarge(SIPResponseError):
    """The processed (S3) payload exceeded the configured size cap."""

    code = "sip_payload_too_large"
