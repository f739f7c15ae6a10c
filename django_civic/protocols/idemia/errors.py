"""Typed errors of the IDEMIA IPA / GIPS client.

Every error has a stable ``code`` (used in logs, API errors and on the proofing session) and a message
that carries no secret, token, identity data or URL query, so it is safe to log or store.
"""

from __future__ import annotations

from django_civic.protocols.errors import ProtocolError, RateLimited


class ProofingError(ProtocolError):
    """Base class: anything that stops a call to IDEMIA."""

    code = "proofing_error"
    # retryable (ProtocolError): the same call may work if tried again later.


class ProofingConfigurationError(ProofingError):
    """The IDEMIA client is misconfigured (a URL, the client credentials or the API key)."""

    code = "proofing_configuration"


class ProofingInvalidIdentifier(ProofingError):
    """An IDEMIA session or identity id does not have IDEMIA's format."""

    code = "proofing_invalid_id"


class ProofingBadRequest(ProofingError):
    """IDEMIA rejected the request (HTTP 400)."""

    code = "proofing_bad_request"


class ProofingUnauthorized(ProofingError):
    """IDEMIA refused our credentials (client secret, access token or API key)."""

    code = "proofing_unauthorized"


class ProofingNotFound(ProofingError):
    """IDEMIA does not know the identity (HTTP 404): never created, or deleted (proof fetched, timed out)."""

    code = "proofing_not_found"


class ProofNotReady(ProofingError):
    """GIPS is still processing the identity (the proof answers 403 until it is done)."""

    code = "proofing_processing"
    retryable = True


class ProofingRateLimited(RateLimited, ProofingError):
    """IDEMIA throttled us (HTTP 429)."""

    code = "proofing_rate_limited"


class ProofingUpstreamError(ProofingError):
    """IDEMIA failed (HTTP 5xx)."""

    code = "proofing_upstream_error"
    retryable = True


class ProofingTimeout(ProofingError):
    """IDEMIA did not answer in time."""

    code = "proofing_timeout"
    retryable = True


class ProofingConnectionError(ProofingError):
    """IDEMIA could not be reached."""

    code = "proofing_connection_error"
    retryable = True


class ProofingMalformedResponse(ProofingError):
    """IDEMIA's response was not in the documented shape."""

    code = "proofing_malformed_response"


class ProofingResponseTooLarge(ProofingMalformedResponse):
    """IDEMIA's response exceeded the size cap."""

    code = "proofing_response_too_large"


class CallbackError(ProofingError):
    """An IPA callback body is not one IDEMIA could have sent (the view answers 400)."""

    code = "invalid_callback"
