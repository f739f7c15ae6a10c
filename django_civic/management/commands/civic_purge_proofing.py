"""``manage.py civic_purge_proofing [--days N]``: delete proofing sessions older than the retention period.

Deletes finished sessions (and their encrypted proof archives) that ended more than
``CIVIC["IDEMIA"]["RETENTION_DAYS"]`` days ago (or ``--days``). Run it daily.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_civic.conf import civic_settings
from django_civic.idemia.maintenance import purge


class Command(BaseCommand):
    help = "Delete finished IDEMIA proofing sessions and proof archives older than the retention period."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None,
                            help="Retention in days (default: CIVIC['IDEMIA']['RETENTION_DAYS']).")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else civic_settings.IDEMIA["RETENTION_DAYS"]
        if days is None:
            self.stdout.write("RETENTION_DAYS is None: proofing sessions are kept; nothing deleted.")
            return
        if days < 1:
            raise CommandError("--days must be at least 1.")
        deleted = purge(days)
        self.stdout.write(f"deleted {deleted} proofing session(s) older than {days} day(s)")
