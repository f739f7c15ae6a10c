"""``manage.py civic_purge_documents [--days N]``: delete stored document images past their retention.

Applies ``CIVIC["DOCUMENT_IMAGE_RETENTION_DAYS"]`` (or ``--days``) through
``django_civic.core.identities.purge_document_images()``: image attributes (``documents.genericId.image``,
portraits, selfies) last verified more than that many days ago are deleted; every other attribute stays.
Run it daily, beside ``civic_purge_proofing`` (``CIVIC["IDEMIA"]["RETENTION_DAYS"]``).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_civic.conf import civic_settings
from django_civic.core.identities import purge_document_images


class Command(BaseCommand):
    help = "Delete stored document images older than CIVIC['DOCUMENT_IMAGE_RETENTION_DAYS']."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None,
                            help="Retention in days (default: CIVIC['DOCUMENT_IMAGE_RETENTION_DAYS']); 0 "
                                 "deletes every stored image.")

    def handle(self, *args: Any, days: int | None, **options: Any) -> None:
        days = days if days is not None else civic_settings.DOCUMENT_IMAGE_RETENTION_DAYS
        if days is None:
            self.stdout.write("DOCUMENT_IMAGE_RETENTION_DAYS is None: images are kept; nothing deleted.")
            return
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise CommandError("The retention must be a whole number of days, 0 or more.")
        deleted = purge_document_images(days)
        self.stdout.write(f"deleted {deleted} document image(s) last verified more than {days} day(s) ago")
