"""IDEMIA proofing, Django side: start a session, take in IPA callbacks, enqueue the fetch as a task.

Threat model of the callback (idemia-ipa.md section 4): IDEMIA's callback is unsigned, so anyone who can
reach the endpoint can post one. It is therefore only a *hint* that one of our sessions ended; it is
acted on only if

1. it arrives on the callback URL of that very session: the URL carries a 256-bit secret made for the
   session, stored only as a hash and compared in constant time;
2. it names a session id that we created, still open and not expired (unknown, forged, expired and
   already-finished sessions change nothing);
3. its identity id has IDEMIA's format and is not bound to another of our sessions (an attacker cannot
   point a session at someone else's verified identity; ``idemia_identity_id`` is unique, first session wins);
4. the applicationId matches when configured, and the timestamp is plausible for the session.

The outcome then comes only from what *we* fetch from GIPS with *our* key at a URL built from *our*
settings (``idemia/fetch.py``); ``proofUrl`` from the body is never used. Callbacks are idempotent under
IDEMIA's retries and concurrent deliveries: the session row is locked (``select_for_update``) and status
changes are one-way, so a repeat is answered 2xx and changes nothing.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_civic.conf import civic_settings
from django_civic.idemia.client import expected_application_id, get_proofing_client, is_configured
from django_civic.idemia.tasks import fetch_proofing_result
from django_civic.models.idemia import ProofingSession, hash_secret
from django_civic.protocols.idemia import CallbackError, ProofingError, parse_callback
from django_civic.protocols.idemia.types import CALLBACK_HEARTBEAT_TIMEOUT

logger = logging.getLogger(__name__)

Status = ProofingSession.Status
# A callback's timestamp must fall between the session's creation and now, give or take this much clock skew.
TIMESTAMP_SKEW = timedelta(minutes=5)
MAX_CALLBACK_BYTES = 16 * 1024


class ProofingRefused(Exception):
    """Why a proofing session could not be started (``code`` stable, ``detail`` safe to show)."""

    def __init__(self, code: str, detail: Any, status: int) -> None:
        super().__init__(code)
        self.code, self.detail, self.status = code, detail, status


# -- starting a session ------------------------------------------------------------------------------


def absolute_url(request: HttpRequest, path: str) -> str:
    """``path`` on this site: under ``CALLBACK_BASE_URL`` when set, else the request's own scheme and host."""
    base = civic_settings.IDEMIA["CALLBACK_BASE_URL"]
    if base:
        return base.rstrip("/") + path
    return request.build_absolute_uri(path)


def start_session(request: HttpRequest) -> ProofingSession:
    """Create an IDEMIA session for ``request.user`` and our row for it. Raises :class:`ProofingRefused`."""
    user = request.user
    assert user.is_authenticated  # the callers are login_required
    if not is_configured():
        raise ProofingRefused("proofing_not_configured",
                              _("Identity proofing is not available on this site."), 503)
    now = timezone.now()
    limit = int(civic_settings.IDEMIA["MAX_SESSIONS_PER_DAY"])
    if ProofingSession.objects.filter(user=user, created_at__gte=now - timedelta(days=1)).count() >= limit:
        detail = _("You have started too many identity checks today. Please try again tomorrow.")
        raise ProofingRefused("too_many_sessions", detail, 429)
    secret, secret_hash = ProofingSession.new_callback_secret()
    session = ProofingSession.objects.create(
        user=user, callback_secret_hash=secret_hash, created_at=now,
        expires_at=now + timedelta(seconds=int(civic_settings.IDEMIA["SESSION_TIMEOUT"])),
    )
    callback_url = absolute_url(request, reverse("django_civic:proofing-callback", args=[secret]))
    goto_url = absolute_url(request, reverse("django_civic:proofing-done", args=[session.public_id]))
    try:
        client = get_proofing_client()
        idemia_session_id = client.create_session(callback_url=callback_url, goto_url=goto_url)
    except ProofingError as exc:
        _finish(session, Status.ERROR, error_code=exc.code)
        logger.warning("IDEMIA session could not be created for proofing %s: %s", session.public_id, exc.code)
        raise ProofingRefused("provider_unavailable",
                              _("The identity check service is unavailable. Please try again later."),
                              502) from None
    session.idemia_session_id = idemia_session_id
    session.status = Status.STARTED
    session.save(update_fields=["idemia_session_id", "status", "updated_at"])
    logger.info("proofing %s started", session.public_id)
    return session


def start_url(session: ProofingSession) -> str:
    """Where the user runs IDEMIA's journey (link and QR code)."""
    return get_proofing_client().start_url(session.idemia_session_id or "")


def _finish(session: ProofingSession, status: str, **fields: Any) -> None:
    now = timezone.now()
    session.status = status
    session.completed_at = now
    for name, value in fields.items():
        setattr(session, name, value)
    session.save(update_fields=["status", "completed_at", "updated_at", *fields])


# -- the callback ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackOutcome:
    """What the callback view answers: 204, or a 4xx with a stable code."""

    status: int
    code: str = ""
    detail: Any = ""

    @property
    def accepted(self) -> bool:
        return self.status < 300


ACCEPTED = CallbackOutcome(204)
_UNKNOWN = CallbackOutcome(404, "unknown_session", _("No open proofing session matches this callback."))
# A hash no secret can have: compared when no session matched, so timing does not tell the two cases apart.
_NO_SESSION_HASH = "0" * 64


def accept_callback(secret: str, body: bytes) -> CallbackOutcome:
    """Validate an IPA callback and record it; schedule the GIPS fetch when it names an identity."""
    try:
        notice = parse_callback(body)
    except CallbackError as exc:
        return CallbackOutcome(400, exc.code, _("The callback body is not a valid IPA notification."))
    expected_app = expected_application_id()
    if expected_app and notice.application_id != expected_app:
        return CallbackOutcome(403, "wrong_application", _("The callback is for another IDEMIA application."))

    now = timezone.now()
    with transaction.atomic():
        session = (ProofingSession.objects.select_for_update()
                   .filter(idemia_session_id=notice.session_id).first())
        # Unknown session and wrong secret get the same answer after the same work: no oracle for either.
        if session is None:
            hmac.compare_digest(hash_secret(secret), _NO_SESSION_HASH)
            return _UNKNOWN
        if not session.secret_matches(secret):
            return _UNKNOWN
        if session.is_final or session.status == Status.CALLBACK_RECEIVED:
            return _repeat(session, notice.identity_id, notice.status)
        if session.is_expired(now):
            return CallbackOutcome(410, "session_expired", _("This proofing session has expired."))
        if not _plausible(notice.timestamp, session, now):
            return CallbackOutcome(400, "stale_callback",
                                   _("The callback's timestamp does not fit the session."))

        session.callback_count += 1
        session.callback_received_at = now
        if notice.ended_abnormally or notice.identity_id is None:
            # ERROR (app error or user abort) and HEARTBEAT_TIMEOUT (never started, or dropped off) end the
            # session cleanly; so does a proper end without an identity, which leaves nothing to fetch.
            status = Status.TIMED_OUT if notice.status == CALLBACK_HEARTBEAT_TIMEOUT else Status.ERROR
            idemia_status = (notice.status or "")[:64]
            code = f"idemia_{idemia_status.lower()}" if idemia_status else "no_identity"
            _finish(session, status, idemia_status=idemia_status, error_code=code[:64],
                    callback_count=session.callback_count, callback_received_at=now)
            logger.info("proofing %s ended by IDEMIA: %s", session.public_id, code)
            return ACCEPTED
        others = ProofingSession.objects.exclude(pk=session.pk)
        if others.filter(idemia_identity_id=notice.identity_id).exists():
            return _identity_mismatch(session)
        session.idemia_identity_id = notice.identity_id
        session.status = Status.CALLBACK_RECEIVED
        try:
            with transaction.atomic():
                session.save(update_fields=["idemia_identity_id", "status", "callback_count",
                                            "callback_received_at", "updated_at"])
        except IntegrityError:
            # Another session bound this identity between our check and our write.
            return _identity_mismatch(session)
        pk = session.pk
        transaction.on_commit(lambda: schedule_fetch(pk), robust=True)
    logger.info("proofing %s: callback accepted", session.public_id)
    return ACCEPTED


def _plausible(timestamp: float, session: ProofingSession, now: datetime) -> bool:
    try:
        stamp = datetime.fromtimestamp(timestamp, tz=dt_timezone.utc)
    except (OverflowError, OSError, ValueError):
        return False
    return session.created_at - TIMESTAMP_SKEW <= stamp <= now + TIMESTAMP_SKEW


def _repeat(session: ProofingSession, identity_id: str | None, status: str | None) -> CallbackOutcome:
    """A callback for a session that already had one: IDEMIA's retry (2xx, nothing changes) or a conflict.

    A session bound to an identity only accepts repeats naming that identity; one that ended without an
    identity (abnormally, or timed out here) accepts repeats with the same status and ignores the rest.
    """
    if session.idemia_identity_id:
        same = identity_id == session.idemia_identity_id
    else:
        same = (status or "") == session.idemia_status
    if not same:
        logger.warning("proofing %s: conflicting callback refused", session.public_id)
        return CallbackOutcome(409, "callback_conflict",
                               _("This proofing session already ended differently."))
    ProofingSession.objects.filter(pk=session.pk).update(callback_count=session.callback_count + 1)
    if session.status == Status.CALLBACK_RECEIVED:
        # The earlier fetch may have failed on a transient error; another try is harmless (claimed once).
        pk = session.pk
        transaction.on_commit(lambda: schedule_fetch(pk), robust=True)
    return ACCEPTED


def _identity_mismatch(session: ProofingSession) -> CallbackOutcome:
    logger.warning("proofing %s: callback names an identity bound to another session", session.public_id)
    return CallbackOutcome(409, "identity_mismatch",
                           _("The identity in this callback belongs to another session."))


# -- running the fetch -------------------------------------------------------------------------------


def schedule_fetch(session_pk: int) -> None:
    """Enqueue :func:`~django_civic.idemia.tasks.fetch_proofing_result` on the site's task backend.

    Called on commit, robustly: the callback is recorded by then, so a queue that refuses the task must
    not turn IDEMIA's callback into a 500; the reconcile command fetches what was never run.
    """
    fetch_proofing_result.enqueue(session_pk)
