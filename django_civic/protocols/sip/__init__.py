"""Civic SIP protocol client. Pure Python: importing it does not import Django."""

from django_civic.protocols.sip.client import CIVIC_PUBLIC_KEY, DEFAULT_API_URL, SIPClient
from django_civic.protocols.sip.errors import (
    SIPBadRequest,
    SIPConfigurationError,
    SIPConnectionError,
    SIPDecryptionError,
    SIPError,
    SIPForbidden,
    SIPGatewayTimeout,
    SIPInvalidAuthToken,
    SIPInvalidSignature,
    SIPMalformedResponse,
    SIPMethodNotAllowed,
    SIPPayloadTooLarge,
    SIPRateLimited,
    SIPResponseError,
    SIPTimeout,
    SIPUnauthorized,
    SIPUpstreamError,
)
from django_civic.protocols.sip.types import Attribute, SIPUserData

# Wire values of civic.sip.js ScopeRequests (civic-protocols.md A8).
SCOPE_REQUESTS = {
    "ANONYMOUS_LOGIN": "Anonymous_Login",
    "BASIC_LOGIN": "Login",
    "BASIC_SIGNUP": "civicBasic",
    "CIVIC_BASIC": "civicBasic",
    "LEGAL": "Legal",
    "ID_VERIFICATION": "id_verification",
    "PASSPORT": "passport",
    "DRIVER_LICENSE": "driversLicense",
    "PROOF_OF_RESIDENCE": "proofOfResidence",
    "PROOF_OF_IDENTITY": "proofOfIdentity",
    "PROOF_OF_AGE": "proofOfAge",
}

__all__ = [
    "CIVIC_PUBLIC_KEY", "DEFAULT_API_URL", "SCOPE_REQUESTS", "Attribute", "SIPBadRequest", "SIPClient",
    "SIPConfigurationError", "SIPConnectionError", "SIPDecryptionError", "SIPError", "SIPForbidden",
    "SIPGatewayTimeout", "SIPInvalidAuthToken", "SIPInvalidSignature", "SIPMalformedResponse",
    "SIPMethodNotAllowed", "SIPPayloadTooLarge", "SIPRateLimited", "SIPResponseError", "SIPTimeout",
    "SIPUnauthorized", "SIPUpstreamError", "SIPUserData",
]
