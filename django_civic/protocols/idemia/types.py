"""What the IDEMIA client returns: a parsed GIPS identity, a proof archive, a parsed IPA callback.

Personal data fields are excluded from ``repr`` so they never reach logs or tracebacks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

#: Statuses that mean GIPS is still evaluating (idemia-ipa.md 1.3): PROCESSING while any evidence is being
#: evaluated, ADJUDICATION while a human expert reviews it (minutes).
TRANSIENT_STATUSES = frozenset({"PROCESSING", "ADJUDICATION"})
#: The callback ``status`` values IDEMIA documents for a session that ended abnormally.
CALLBACK_ERROR = "ERROR"
CALLBACK_HEARTBEAT_TIMEOUT = "HEARTBEAT_TIMEOUT"

_LOA = re.compile(r"LOA([0-9])")


def loa_rank(level: str | None) -> int | None:
    """``"LOA3"`` -> 3; anything that is not ``LOA<digit>`` -> ``None``."""
    if not isinstance(level, str):
        return None
    match = _LOA.fullmatch(level)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class DocumentData:
    """The identity document GIPS read, as strings exactly as IDEMIA sent them ("" when absent)."""

    document_type: str = ""
    document_number: str = field(default="", repr=False)
    issuing_country: str = ""
    expiry_date: str = field(default="", repr=False)
    #: The document evidence status: VERIFIED, NOT_VERIFIED, INVALID, PROCESSING or ADJUDICATION.
    status: str = ""


@dataclass(frozen=True)
class PersonData:
    given_names: str = field(default="", repr=False)
    surname: str = field(default="", repr=False)
    date_of_birth: str = field(default="", repr=False)


@dataclass(frozen=True)
class IdentityRecord:
    """``GET /gips/v1/identities/{id}``, reduced to what the app keeps."""

    identity_id: str
    status: str
    level_of_assurance: str
    created_at: datetime | None = None
    evaluated_at: datetime | None = None
    person: PersonData = PersonData()
    document: DocumentData | None = None
    #: Whether any evidence is still PROCESSING or waiting for a human (ADJUDICATION).
    evidence_pending: bool = False

    @property
    def loa_rank(self) -> int | None:
        return loa_rank(self.level_of_assurance)

    @property
    def is_final(self) -> bool:
        """GIPS has finished evaluating: the LOA will not change without new evidence."""
        return self.status not in TRANSIENT_STATUSES and not self.evidence_pending

    def meets(self, minimum: str) -> bool:
        """Whether the identity reaches the ``minimum`` level of assurance (``"LOA2"``)."""
        have, need = self.loa_rank, loa_rank(minimum)
        return have is not None and need is not None and have >= need


@dataclass(frozen=True)
class ProofArchive:
    """The proof file, extracted from GIPS's multipart envelope (a ZIP in the documented case)."""

    content: bytes = field(repr=False)
    content_type: str = "application/zip"

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class CallbackNotice:
    """An IPA end-of-process notification, validated for shape only: it is unsigned, so it is a hint.

    ``proofUrl`` is deliberately not kept: the app never follows a URL taken from a callback.
    """

    application_id: str
    session_id: str
    timestamp: float
    identity_id: str | None = None
    #: ``None`` when the session ended properly; ``ERROR`` or ``HEARTBEAT_TIMEOUT`` (or a value IDEMIA adds
    #: later) when it ended abnormally.
    status: str | None = None

    @property
    def ended_abnormally(self) -> bool:
        return self.status is not None
