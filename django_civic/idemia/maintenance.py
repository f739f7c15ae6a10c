"""Housekeeping of proofing sessions: reconcile the stuck ones, purge the old ones.

Run ``manage.py civic_reconcile_proofing`` every few minutes (cron, Celery beat...) and
``manage.py civic_purge_proofing`` daily. Both are plain functions here so a task queue can call them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from django_civic.conf import civic_settings
from django_civic.idemia.fetch import STALE_CLAIM, fetch_and_record, fetch_proof, proof_storage
from django_civic.models.idemia import ProofingSession

logger = logging.getLogger(__name__)

Status = ProofingSession.Status


@dataclass
class ReconcileReport:
    timed_out: int = 0
    fetched: int = 0
    still_pending: int = 0
    failed: int = 0
    proofs_stored: int = 0


def reconcile(now: datetime | None = None, *, sleep: Callable[[float], None] = time.sleep) -> ReconcileReport:
    """Finish what the callbacks left undone.

    - Sessions that never got a callback, past their ``SESSION_TIMEOUT``: timed out. (IDEMIA offers no way
      to ask about an IPA session, and a lost callback means no identity id to look up.)
    - Sessions whose callback was accepted but whose fetch did not finish (GIPS was down or still
      PROCESSING, or the worker died): fetched again; once expired, they end in error.
    - Finished sessions whose proof was not served yet (``STORE_PROOF``): asked for it once more, within the
      session's lifetime (IDEMIA deletes the data when its transaction times out).
    """
    now = now or timezone.now()
    report = ReconcileReport()
    # One UPDATE, conditioned on the status: a callback holding the row lock wins, and is not overwritten.
    report.timed_out = ProofingSession.objects.filter(
        status__in=[Status.CREATED, Status.STARTED], expires_at__lte=now,
    ).update(status=Status.TIMED_OUT, completed_at=now, error_code="no_callback", updated_at=now)

    pending = ProofingSession.objects.filter(status=Status.CALLBACK_RECEIVED).filter(
        Q(fetch_started_at__isnull=True) | Q(fetch_started_at__lt=now - STALE_CLAIM))
    for pk in pending.values_list("pk", flat=True).iterator():
        session = fetch_and_record(pk, sleep=sleep)
        if session is None:
            continue
        if session.status != Status.CALLBACK_RECEIVED:
            report.fetched += 1
        elif session.is_expired(now):
            _give_up(session, now)
            report.failed += 1
        else:
            report.still_pending += 1

    if civic_settings.IDEMIA["STORE_PROOF"]:
        missing = ProofingSession.objects.filter(
            status__in=[Status.VERIFIED, Status.NOT_VERIFIED], idemia_identity_id__isnull=False,
            proof_fetched_at__isnull=True, expires_at__gt=now)
        for session in missing.iterator():
            report.proofs_stored += fetch_proof(session, sleep=sleep)
    logger.info("proofing reconcile: %s", report)
    return report


def _give_up(session: ProofingSession, now: datetime) -> None:
    code = session.error_code or "fetch_failed"
    ProofingSession.objects.filter(pk=session.pk, status=Status.CALLBACK_RECEIVED).update(
        status=Status.ERROR, completed_at=now, error_code=code, updated_at=now)


def purge(days: int | None = None, now: datetime | None = None) -> int:
    """Delete sessions (and their proof archives) that ended more than ``days`` (``RETENTION_DAYS``) ago.

    Returns how many were deleted. Open sessions are never purged. The identity and attributes recorded from
    a verified session are not proofing data and stay (they go with the user or ``unlink_identity``).
    """
    days = civic_settings.IDEMIA["RETENTION_DAYS"] if days is None else days
    if days is None:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=int(days))
    old = ProofingSession.objects.filter(status__in=ProofingSession.FINAL_STATUSES).filter(
        Q(completed_at__lt=cutoff) | Q(completed_at__isnull=True, created_at__lt=cutoff))
    deleted = 0
    # Row by row so the post_delete handler removes each proof file (a queryset delete would too, through
    # the signal, but this keeps memory flat on a large purge).
    for session in old.iterator():
        session.delete()
        deleted += 1
    logger.info("proofing purge: %d sessions older than %d days deleted", deleted, days)
    return deleted


def delete_proof_file(name: str) -> None:
    """Remove a stored proof archive; a missing file is fine (already purged)."""
    if name:
        try:
            proof_storage().delete(name)
        except FileNotFoundError:
            pass


@receiver(post_delete, sender=ProofingSession, dispatch_uid="django_civic_proofing_delete_proof")
def _delete_proof_file(sender: type[ProofingSession], instance: ProofingSession, **kwargs: Any) -> None:
    """A deleted session (purge, admin, the user's account deleted) takes its proof archive with it."""
    name = instance.proof_file
    if name:
        # After the commit: a rolled-back delete must not lose the file of a row that still exists.
        transaction.on_commit(lambda: delete_proof_file(name))
