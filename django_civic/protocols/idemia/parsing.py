"""Pure parsing of what IDEMIA sends: identifiers, the GIPS identity JSON, IPA callbacks, the proof envelope.

No network and no Django here, so every rule is easy to test in isolation.
"""

from __future__ import annotations

import email.policy
import json
import math
import re
from datetime import datetime, timezone
from email.parser import BytesFeedParser
from typing import Any, TypeGuard, cast

from django_civic.protocols.idemia.errors import (
    CallbackError,
    ProofingInvalidIdentifier,
    ProofingMalformedResponse,
)
from django_civic.protocols.idemia.types import (
    TRANSIENT_STATUSES,
    CallbackNotice,
    DocumentData,
    IdentityRecord,
    PersonData,
)

# GIPS identity ids: "gips-<uuid>" (IDEMIA's samples) or a bare UUID (idemia-ipa.md 4.3).
_IDENTITY_ID = re.compile(r"(?:gips-)?[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# IPA session ids are documented as UUIDs; accepting the URL-safe alphabet keeps us working if IDEMIA ever
# widens the format while still making the id safe to put in a URL and a database column as is.
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,128}")
# Callback fields we keep or compare: bounded, printable, no surprises in logs or columns.
_SAFE_TOKEN = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_MAX_CALLBACK_BYTES = 16 * 1024
_MAX_FIELD = 512


def is_identity_id(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and _IDENTITY_ID.fullmatch(value) is not None


def is_session_id(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and _SESSION_ID.fullmatch(value) is not None


def check_identity_id(value: Any) -> str:
    if not is_identity_id(value):
        raise ProofingInvalidIdentifier("the identity id does not have IDEMIA's format")
    return value


def check_session_id(value: Any) -> str:
    if not is_session_id(value):
        raise ProofingInvalidIdentifier("the session id does not have IDEMIA's format")
    return value


# -- IPA callback ------------------------------------------------------------------------------------


def parse_callback(body: bytes) -> CallbackNotice:
    """Validate the shape of an IPA callback body (seeds/idemia-ipa-integration.txt, step 4).

    Raises :class:`CallbackError` with a message naming the field, never echoing its value.
    """
    if len(body) > _MAX_CALLBACK_BYTES:
        raise CallbackError("the callback body is too large")
    try:
        # UTF-8 only (RFC 8259): json.loads would also read bytes as UTF-16 or UTF-32.
        data = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; RecursionError: deep nesting
        raise CallbackError("the callback body is not JSON") from None
    if not isinstance(data, dict):
        raise CallbackError("the callback body is not a JSON object")

    session_id = data.get("sessionId")
    if not is_session_id(session_id):
        raise CallbackError("sessionId is missing or malformed")
    application_id = data.get("applicationId")
    if not isinstance(application_id, str) or not _SAFE_TOKEN.fullmatch(application_id):
        raise CallbackError("applicationId is missing or malformed")
    timestamp = data.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)) or not math.isfinite(timestamp):
        raise CallbackError("timestamp is missing or not a number")

    identity_id = data.get("identityId")
    if identity_id is not None and not is_identity_id(identity_id):
        raise CallbackError("identityId is malformed")
    status = data.get("status")
    if status is not None and (not isinstance(status, str) or not _SAFE_TOKEN.fullmatch(status)):
        raise CallbackError("status is malformed")
    proof_url = data.get("proofUrl")
    # Checked for type only so garbage is refused; its value is never used (we build GIPS URLs ourselves).
    if proof_url is not None and (not isinstance(proof_url, str) or len(proof_url) > 2048):
        raise CallbackError("proofUrl is malformed")
    return CallbackNotice(application_id=application_id, session_id=session_id, timestamp=float(timestamp),
                          identity_id=identity_id, status=status or None)


# -- GIPS identity -----------------------------------------------------------------------------------


def parse_identity(payload: Any, identity_id: str) -> IdentityRecord:
    """Reduce ``GET /gips/v1/identities/{id}`` to an :class:`IdentityRecord` (idemia-ipa.md 1.2).

    Tolerant of absent optional parts (an identity without a document is a valid, unverified identity) but
    strict about the parts the outcome depends on: the global status and the level of assurance.
    """
    if not isinstance(payload, dict):
        raise ProofingMalformedResponse("the identity is not a JSON object")
    global_status = payload.get("globalStatus")
    if not isinstance(global_status, dict):
        raise ProofingMalformedResponse("the identity has no globalStatus")
    returned_id = global_status.get("id")
    if returned_id is not None and returned_id != identity_id:
        raise ProofingMalformedResponse("GIPS answered with a different identity")
    status = global_status.get("status")
    level = global_status.get("levelOfAssurance")
    if not isinstance(status, str) or not _SAFE_TOKEN.fullmatch(status):
        raise ProofingMalformedResponse("the identity has no status")
    if not isinstance(level, str) or not _SAFE_TOKEN.fullmatch(level):
        raise ProofingMalformedResponse("the identity has no levelOfAssurance")

    documents = payload.get("idDocuments")
    document_entry = documents[-1] if isinstance(documents, list) and documents else None
    document, person, pending = _document(document_entry)
    portrait = payload.get("portrait")
    if isinstance(portrait, dict) and _evidence_status(portrait) in TRANSIENT_STATUSES:
        pending = True
    return IdentityRecord(
        identity_id=identity_id,
        status=status,
        level_of_assurance=level,
        created_at=_datetime(global_status.get("creationDateTime")),
        evaluated_at=_datetime(global_status.get("evaluationDateTime")),
        person=person,
        document=document,
        evidence_pending=pending,
    )


def _document(entry: Any) -> tuple[DocumentData | None, PersonData, bool]:
    # IDEMIA's sample reads the results from the last document entry; so do we.
    if not isinstance(entry, dict):
        return None, PersonData(), False
    status = _evidence_status(entry)
    data = entry.get("idDocumentData")
    data = data if isinstance(data, dict) else {}
    attributes = data.get("personalAttributes")
    attributes = attributes if isinstance(attributes, dict) else {}
    document = DocumentData(
        document_type=_text(data.get("idDocumentType")),
        document_number=_text(data.get("idDocumentNumber")),
        issuing_country=_text(data.get("issuingCountry")),
        expiry_date=_text(data.get("expiryDate")),
        status=status,
    )
    person = PersonData(
        given_names=_value(attributes.get("givenNames")),
        surname=_value(attributes.get("surname")),
        date_of_birth=_value(attributes.get("dateOfBirth")),
    )
    return document, person, status in TRANSIENT_STATUSES


def _evidence_status(entry: dict[str, Any]) -> str:
    evidence = entry.get("evidenceStatus")
    status = evidence.get("status") if isinstance(evidence, dict) else None
    return status if isinstance(status, str) and _SAFE_TOKEN.fullmatch(status) else ""


def _value(item: Any) -> str:
    """GIPS wraps each personal attribute as ``{"value": ...}`` or a list of them (given names)."""
    if isinstance(item, list):
        return " ".join(filter(None, (_single(part) for part in item)))[:_MAX_FIELD]
    return _single(item)


def _single(item: Any) -> str:
    if isinstance(item, dict):
        return _text(item.get("value"))
    return _text(item)


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str):
        return ""
    return " ".join(value.split())[:_MAX_FIELD]


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    # A timestamp without an offset is ambiguous; GIPS sends UTC, so read it as UTC rather than local time.
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


# -- proof envelope ----------------------------------------------------------------------------------

# raise_on_defect: a truncated envelope, a missing boundary or broken base64 is refused, not half-read.
_MIME = email.policy.HTTP.clone(raise_on_defect=True)
_UNKNOWN_TYPE = "application/octet-stream"  # what a body of unreadable type is taken as (RFC 9110 8.3)


def extract_proof(content_type: str, body: bytes) -> tuple[bytes, str]:
    """The archive inside GIPS's MIME multipart envelope (idemia-ipa.md 1.5), with its content type.

    The standard library's MIME parser reads the envelope: boundaries only count at the start of a line
    (RFC 2046), and transfer encodings (base64, quoted-printable) are decoded. A body that is not multipart
    is returned as it is: the format is not pinned down in public documents.
    """
    if "\r" in content_type or "\n" in content_type:
        # It is fed to the parser as a header line: a line break would end the header early.
        raise ProofingMalformedResponse("the proof's Content-Type is malformed")
    header = _MIME.header_factory("Content-Type", content_type)
    if header.maintype != "multipart":
        return body, _UNKNOWN_TYPE if header.defects else header.content_type
    parser = BytesFeedParser(policy=_MIME)
    try:
        parser.feed(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n")
        parser.feed(body)
        envelope = parser.close()
        # A part that is not multipart decodes to bytes (typeshed types every kind of part at once).
        parts = [(cast(bytes, part.get_payload(decode=True)), part.get_content_type())
                 for part in envelope.walk() if not part.is_multipart()]
    except ValueError:  # the parser's defects (email.errors.MessageDefect) and a non-latin-1 header
        raise ProofingMalformedResponse("the proof envelope is not valid MIME multipart") from None
    for content, part_type in parts:
        # IDEMIA's sample strips a stray CRLF in front of the archive; only do so when a ZIP follows.
        if content.startswith(b"\r\nPK"):
            content = content[2:]
        if content:
            return content, part_type
    raise ProofingMalformedResponse("the proof envelope contains no file")
