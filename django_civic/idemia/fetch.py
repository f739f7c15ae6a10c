"""After an accepted IPA callback: fetch the identity from GIPS, decide, record, keep the proof.

Runs outside the callback request (``proofing_flow.schedule_fetch``) and again from the reconcile command,
so every step is safe to repeat:

- the fetch is *claimed* by one worker with a conditional UPDATE (``fetch_started_at``), so concurrent
  callbacks or a reconcile run never fetch twice at once;
- the identity GET is harmless to repeat; the outcome is written under a row lock, only from the
  ``callback_received`` status, so it is written once;
- the proof is claimed the same way (``proof_fetched_at``) *before* it is requested: fetching it closes
  IDEMIA's transaction, so it is requested at most once. The claim is released only when IDEMIA answered
  without serving it (403 while PROCESSING, 429, 5xx); after a timeout it may have been served, so never.

The outcome comes only from what we fetched with our key: ``level_of_assurance`` against
``CIVIC["IDEMIA"]["MIN_LEVEL_OF_ASSURANCE"]``. A verified identity is recorded through ``record_identity``
(provider ``idemia``, subject the identity id, ``user`` the session's user) with ``idemia.*`` attributes.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from django_civic.conf import civic_settings
from django_civic.core import encryption
from django_civic.core.identities import record_identity
from django_civic.core.labels import IDEMIA
from django_civic.exceptions import CivicLoginError
from django_civic.idemia.client import get_proofing_client
from django_civic.models.idemia import ProofingSession
from django_civic.protocols.idemia import IdentityRecord, ProofingClient, ProofingError, ProofNotReady
from django_civic.protocols.idemia import errors as proofing_errors
from django_civic.protocols.sip.types import Attribute

logger = logging.getLogger(__name__)

Status = ProofingSession.Status
PROVIDER = IDEMIA
SCOPE = "IDEMIA_IPA"
# Waits between GIPS calls while the identity or its proof is still PROCESSING; after the last one the
# session is left for the reconcile command (adjudication by a human can take many minutes).
PROCESSING_BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0)
# A fetch claim older than this belongs to a worker that died; the reconcile command may take over.
STALE_CLAIM = timedelta(minutes=10)
# The identity must have been created during the session (clock skew allowed): an older identity is not
# the one this user just proved, whatever the callback says.
CREATION_SKEW = timedelta(minutes=5)
# Proof errors after which IDEMIA certainly did not serve the proof, so asking again is safe.
_PROOF_NOT_SERVED = (ProofNotReady, proofing_errors.ProofingRateLimited,
                     proofing_errors.ProofingUpstreamError)


def identity_attributes(record: IdentityRecord) -> list[Attribute]:
    """The ``idemia.*`` attributes of a verified identity. ``is_owner`` needs a face match (LOA2 and up)."""
    document = record.document
    owner = (record.loa_rank or 0) >= 2
    values = [
        ("idemia.givenName", record.person.given_names),
        ("idemia.surname", record.person.surname),
        ("idemia.dateOfBirth", record.person.date_of_birth),
        ("idemia.documentType", document.document_type if document else ""),
        ("idemia.documentNumber", document.document_number if document else ""),
        ("idemia.issuingCountry", document.issuing_country if document else ""),
        ("idemia.expiryDate", document.expiry_date if document else ""),
        ("idemia.levelOfAssurance", record.level_of_assurance),
    ]
    return [Attribute(label, value, True, owner) for label, value in values if value]


@sensitive_variables()  # what GIPS says of the person, in this frame and the ones it calls
def fetch_and_record(session_pk: int, *,
                     sleep: Callable[[float], None] = time.sleep) -> ProofingSession | None:
    """Fetch, decide and record one session. Returns the session, or ``None`` if another worker has it."""
    now = timezone.now()
    claimed = (ProofingSession.objects
               .filter(pk=session_pk, status=Status.CALLBACK_RECEIVED)
               .filter(Q(fetch_started_at__isnull=True) | Q(fetch_started_at__lt=now - STALE_CLAIM))
               .update(fetch_started_at=now, fetch_attempts=F("fetch_attempts") + 1, updated_at=now))
    if not claimed:
        return None
    session = ProofingSession.objects.select_related("user").get(pk=session_pk)
    try:
        client = get_proofing_client()
        record = _final_identity(client, session.idemia_identity_id or "", sleep)
    except ProofingError as exc:
        return _fetch_failed(session, exc)
    if record is None:
        return _release(session, ProofNotReady.code)
    if record.created_at is not None and record.created_at < session.created_at - CREATION_SKEW:
        logger.warning("proofing %s: the identity predates the session; refused", session.public_id)
        return _conclude(session, Status.ERROR, error_code="identity_mismatch")
    session = _decide(session, record)
    if civic_settings.IDEMIA["STORE_PROOF"] and session.status in (Status.VERIFIED, Status.NOT_VERIFIED):
        fetch_proof(session, client=client, sleep=sleep)
    return session


def _final_identity(client: ProofingClient, identity_id: str,
                    sleep: Callable[[float], None]) -> IdentityRecord | None:
    for wait in (*PROCESSING_BACKOFF, None):
        record = client.get_identity(identity_id)
        if record.is_final:
            return record
        if wait is None:
            return None
        sleep(wait)
    return None  # pragma: no cover - the loop always returns


def _fetch_failed(session: ProofingSession, exc: ProofingError) -> ProofingSession:
    if exc.retryable:
        logger.warning("proofing %s: GIPS fetch failed (%s); will retry", session.public_id, exc.code)
        return _release(session, exc.code)
    logger.warning("proofing %s: GIPS fetch failed (%s)", session.public_id, exc.code)
    return _conclude(session, Status.ERROR, error_code=exc.code)


def _release(session: ProofingSession, error_code: str) -> ProofingSession:
    """Give the claim back so the next callback repeat or reconcile run can try again."""
    ProofingSession.objects.filter(pk=session.pk, status=Status.CALLBACK_RECEIVED).update(
        fetch_started_at=None, error_code=error_code, updated_at=timezone.now())
    session.refresh_from_db()
    return session


def _conclude(session: ProofingSession, status: str, **fields: object) -> ProofingSession:
    """Write a final status, once: only a session still in ``callback_received`` moves."""
    with transaction.atomic():
        locked = ProofingSession.objects.select_for_update().get(pk=session.pk)
        if locked.status != Status.CALLBACK_RECEIVED:
            return locked
        locked.status = status
        locked.completed_at = timezone.now()
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.save(update_fields=["status", "completed_at", "updated_at", *fields])
    logger.info("proofing %s: %s", locked.public_id, status)
    return locked


def _decide(session: ProofingSession, record: IdentityRecord) -> ProofingSession:
    level = record.level_of_assurance[:8]
    if not record.meets(civic_settings.IDEMIA["MIN_LEVEL_OF_ASSURANCE"]):
        return _conclude(session, Status.NOT_VERIFIED, level_of_assurance=level, error_code="")
    with transaction.atomic():
        locked = ProofingSession.objects.select_for_update().select_related("user").get(pk=session.pk)
        if locked.status != Status.CALLBACK_RECEIVED:
            return locked
        try:
            result = record_identity(provider=PROVIDER, subject=record.identity_id,
                                     attributes=identity_attributes(record), scope=SCOPE, user=locked.user)
        except CivicLoginError as exc:
            locked.status, locked.error_code = Status.ERROR, exc.code[:64]
        else:
            locked.status, locked.identity, locked.error_code = Status.VERIFIED, result.identity, ""
        locked.level_of_assurance = level
        locked.completed_at = timezone.now()
        locked.save(update_fields=["status", "identity", "error_code", "level_of_assurance", "completed_at",
                                   "updated_at"])
    logger.info("proofing %s: %s at %s", locked.public_id, locked.status, level)
    return locked


# -- the proof archive -------------------------------------------------------------------------------


def fetch_proof(session: ProofingSession, *, client: ProofingClient | None = None,
                sleep: Callable[[float], None] = time.sleep) -> bool:
    """Fetch the proof (at most once per session, ever) and store it encrypted. Returns whether it was."""
    if not session.idemia_identity_id:
        return False
    claimed = ProofingSession.objects.filter(pk=session.pk, proof_fetched_at__isnull=True).update(
        proof_fetched_at=timezone.now())
    if not claimed:
        return False
    client = client or get_proofing_client()
    for wait in (*PROCESSING_BACKOFF, None):
        try:
            archive = client.get_proof(session.idemia_identity_id)
            break
        except ProofNotReady:
            if wait is None:
                return _proof_not_served(session, ProofNotReady.code)
            sleep(wait)
        except _PROOF_NOT_SERVED as exc:
            return _proof_not_served(session, exc.code)
        except ProofingError as exc:
            # A timeout or a broken response: IDEMIA may have served the proof and closed the transaction.
            logger.warning("proofing %s: proof fetch failed (%s); not retried", session.public_id, exc.code)
            return False
    name = store_proof(archive.content)
    ProofingSession.objects.filter(pk=session.pk).update(proof_file=name, proof_size=archive.size,
                                                         updated_at=timezone.now())
    session.refresh_from_db()
    logger.info("proofing %s: proof archive stored (%d bytes)", session.public_id, archive.size)
    return True


def _proof_not_served(session: ProofingSession, code: str) -> bool:
    logger.warning("proofing %s: proof not served (%s); will retry", session.public_id, code)
    ProofingSession.objects.filter(pk=session.pk).update(proof_fetched_at=None)
    return False


def proof_storage() -> Storage:
    return storages[civic_settings.IDEMIA["PROOF_STORAGE"]]


def store_proof(content: bytes) -> str:
    """Encrypt (Fernet, the attribute keys) and save under a random name; returns the storage name."""
    token = encryption.fernet().encrypt(content)
    return proof_storage().save(f"django_civic/proofs/{uuid.uuid4().hex}.fernet", ContentFile(token))


def reencrypt_proof(session: ProofingSession, *, write: bool = True) -> bool:
    """Move ``session``'s proof archive to the first key of ``ENCRYPTION_KEYS`` (key rotation).

    Returns whether it was (with ``write=False``: would be) re-encrypted; False when it already is under
    that key. The new ciphertext goes to a new file, the row is pointed at it, then the old file is
    deleted, so an interruption never leaves a session without a readable archive. Raises
    ``FileNotFoundError`` or :class:`~django_civic.core.encryption.DecryptionError`.
    """
    storage = proof_storage()
    with storage.open(session.proof_file, "rb") as handle:
        raw = handle.read()
    try:
        token = raw.decode("ascii")
    except UnicodeDecodeError:
        raise encryption.DecryptionError("the proof archive is not a Fernet token") from None
    if encryption.is_current(token):
        return False
    rotated = encryption.rotate(token).encode("ascii")
    if not write:
        return True
    name = storage.save(f"django_civic/proofs/{uuid.uuid4().hex}.fernet", ContentFile(rotated))
    moved = (ProofingSession.objects.filter(pk=session.pk, proof_file=session.proof_file)
             .update(proof_file=name))
    # Moved: the old file goes. Not moved (the session was deleted or changed meanwhile): our copy goes.
    storage.delete(session.proof_file if moved else name)
    if moved:
        session.proof_file = name
    return bool(moved)


def read_proof(session: ProofingSession) -> bytes:
    """The decrypted proof archive of ``session`` (raises ``FileNotFoundError`` when none is stored)."""
    if not session.proof_file:
        raise FileNotFoundError("no proof archive is stored for this session")
    with proof_storage().open(session.proof_file, "rb") as handle:
        token = handle.read()
    try:
        return encryption.fernet().decrypt(token)
    except Exception:
        raise encryption.DecryptionError(
            "the proof archive does not decrypt with the configured keys") from None
