"""``manage.py civic_export_user <user id or username> [--output FILE] [--no-proofs]``.

Writes everything django_civic stores about the user as JSON (``django_civic.account.privacy.export_user``):
identities, attributes decrypted, proofing sessions without their secrets, IDEMIA proof archives
(Base64, decrypted; ``--no-proofs`` leaves them out), timestamps. Standard output by default; ``--output``
writes a file readable by its owner only. The export is personal data: hand it over, then delete it.
"""

from __future__ import annotations

import json
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from django_civic.account.privacy import UserNotFound, export_user, find_user


class Command(BaseCommand):
    help = "Export everything django_civic stores about a user as JSON (values decrypted)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="The user's id or username.")
        parser.add_argument("--output", "-o",
                            help="Write to this new file (mode 0600) instead of standard output.")
        parser.add_argument("--no-proofs", action="store_true",
                            help="Leave the IDEMIA proof archives out (their size and date stay).")
        parser.add_argument("--indent", type=int, default=2, help="JSON indentation (default 2).")

    def handle(self, *args: Any, user: str, output: str | None, no_proofs: bool, indent: int,
               **options: Any) -> None:
        try:
            person = find_user(user)
        except UserNotFound as exc:
            raise CommandError(str(exc)) from None
        data = export_user(person, include_proofs=not no_proofs)
        text = json.dumps(data, cls=DjangoJSONEncoder, indent=indent, ensure_ascii=False) + "\n"
        if output:
            # O_EXCL: never overwrite (or follow a link planted at) an existing path with personal data.
            try:
                descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                raise CommandError(f"{output} exists already; choose a new file name.") from None
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
            self.stderr.write(f"exported the django_civic data of user {person.pk} to {output}")
        else:
            self.stdout.write(text, ending="")
        undecryptable = text.count('"undecryptable": true')
        if undecryptable:
            self.stderr.write(self.style.WARNING(
                f"{undecryptable} value(s) did not decrypt with the configured keys: exported as null."))
