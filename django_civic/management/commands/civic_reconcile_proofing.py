"""``manage.py civic_reconcile_proofing``: finish proofing sessions the callbacks left undone.

Times out sessions that never got IDEMIA's callback, fetches again those whose fetch failed or stalled, and
asks again for proofs IDEMIA did not serve yet. Safe to run often and concurrently (every step is claimed).
Prints counts only, never personal data.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from django_civic.idemia.maintenance import reconcile


class Command(BaseCommand):
    help = "Time out, re-fetch or complete IDEMIA proofing sessions stuck without a callback or a result."

    def handle(self, *args: Any, **options: Any) -> None:
        report = reconcile()
        self.stdout.write(
            f"timed out: {report.timed_out}, fetched: {report.fetched}, "
            f"still pending: {report.still_pending}, failed: {report.failed}, "
            f"proofs stored: {report.proofs_stored}"
        )
