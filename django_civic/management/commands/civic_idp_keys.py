"""``manage.py civic_idp_keys``: the site's signing keys for the identity tokens it issues to Civic.

  create [--algorithm RS256|ES256] [--bits N]   the first key (refused if one is active)
  rotate [--algorithm ...] [--bits N]           a new key signs from now on; the one it replaces stays
                                                published, so tokens it signed still verify
  retire [--kid KID] [--force]                  stop publishing replaced keys and erase their private half;
                                                refused within the overlap (the token lifetime plus a
                                                minute) unless --force
  list                                          every key: kid, algorithm, status, dates

Private keys are stored Fernet-encrypted (``CIVIC["ENCRYPTION_KEYS"]``) and never printed.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from django_civic.civic_auth.idp import private_key_pem
from django_civic.conf import civic_settings
from django_civic.models import SiteSigningKey
from django_civic.protocols import jose
from django_civic.protocols.civic_auth import idp as protocol

Status = SiteSigningKey.Status


class Command(BaseCommand):
    help = "Create, rotate, retire or list the site's signing keys for identity tokens issued to Civic."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        for name in ("create", "rotate"):
            sub = actions.add_parser(name)
            sub.add_argument("--algorithm", choices=protocol.SIGNING_ALGORITHMS,
                             default=protocol.DEFAULT_ALGORITHM)
            sub.add_argument("--bits", type=int, default=protocol.DEFAULT_RSA_BITS,
                             help=f"RSA key size (at least {jose.MIN_RSA_BITS}).")
        retire = actions.add_parser("retire")
        retire.add_argument("--kid", help="Retire this replaced key only.")
        retire.add_argument("--force", action="store_true", help="Retire even within the overlap.")
        actions.add_parser("list")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "list":
            for key in SiteSigningKey.objects.order_by("-created_at", "-pk"):
                self.stdout.write(f"{key.kid}  {key.algorithm}  {key.status}  "
                                  f"created {key.created_at:%Y-%m-%d %H:%M}")
            return
        with transaction.atomic():
            # Locks the keys, so two concurrent runs cannot leave two active keys.
            active = list(SiteSigningKey.objects.select_for_update().filter(status=Status.ACTIVE))
            if action == "retire":
                self._retire(options["kid"], options["force"])
                return
            if action == "create" and active:
                raise CommandError("The site already has an active key; use `civic_idp_keys rotate`.")
            if options["algorithm"] == "RS256" and options["bits"] < jose.MIN_RSA_BITS:
                raise CommandError(f"--bits must be at least {jose.MIN_RSA_BITS}.")
            private_key = protocol.generate_key(options["algorithm"], rsa_bits=options["bits"])
            SiteSigningKey.objects.filter(pk__in=[key.pk for key in active]).update(
                status=Status.PUBLISHED, replaced_at=timezone.now())
            key = SiteSigningKey.objects.create(kid=secrets.token_urlsafe(12), algorithm=options["algorithm"],
                                                private_key=private_key_pem(private_key))
        self.stdout.write(f"{key.kid} ({key.algorithm}) now signs the site's identity tokens.")

    def _retire(self, kid: str | None, force: bool) -> None:
        replaced = SiteSigningKey.objects.filter(status=Status.PUBLISHED)
        if kid is not None:
            replaced = replaced.filter(kid=kid)
            if not replaced.exists():
                raise CommandError("No replaced key has that kid "
                                   "(the active key cannot be retired: rotate first).")
        overlap = timedelta(seconds=int(civic_settings.IDP["TOKEN_LIFETIME"]) + 60)
        too_recent = replaced.filter(replaced_at__gt=timezone.now() - overlap)
        if too_recent.exists() and not force:
            raise CommandError("A key was replaced less than the token lifetime ago: tokens it signed may "
                               "still be in use. Wait, or use --force.")
        retired = replaced.update(status=Status.RETIRED, retired_at=timezone.now(), private_key="")
        self.stdout.write(f"{retired} key(s) retired.")
