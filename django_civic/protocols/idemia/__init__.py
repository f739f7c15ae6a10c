"""IDEMIA identity proofing (IPA + GIPS) client: pure Python, no Django import.

``ProofingClient`` talks to IDEMIA; :func:`parse_callback` validates an IPA callback's shape. The Django
side (models, views, the callback endpoint) lives in ``django_civic.idemia.views`` and friends.
"""

from __future__ import annotations

from django_civic.protocols.idemia.client import ProofingClient
from django_civic.protocols.idemia.errors import (
    CallbackError,
    ProofingConfigurationError,
    ProofingError,
    ProofingInvalidIdentifier,
    ProofingMalformedResponse,
    ProofingNotFound,
    ProofingUnauthorized,
    ProofNotReady,
)
from django_civic.protocols.idemia.parsing import (
    is_identity_id,
    is_session_id,
    parse_callback,
    parse_identity,
)
from django_civic.protocols.idemia.types import (
    CallbackNotice,
    DocumentData,
    IdentityRecord,
    PersonData,
    ProofArchive,
    loa_rank,
)

__all__ = [
    "CallbackError",
    "CallbackNotice",
    "DocumentData",
    "IdentityRecord",
    "PersonData",
    "ProofArchive",
    "ProofNotReady",
    "ProofingClient",
    "ProofingConfigurationError",
    "ProofingError",
    "ProofingInvalidIdentifier",
    "ProofingMalformedResponse",
    "ProofingNotFound",
    "ProofingUnauthorized",
    "is_identity_id",
    "is_session_id",
    "loa_rank",
    "parse_callback",
    "parse_identity",
]
