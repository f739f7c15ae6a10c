"""``manage.py civic_reencrypt``: move stored attribute values to the current encryption key.

Key rotation: put the new key first in ``CIVIC["ENCRYPTION_KEYS"]`` (keep the old ones after it), deploy,
run this command, then remove the old keys. Rows are read in primary-key batches as ciphertext, re-encrypted
with ``MultiFernet.rotate`` (never written in clear, never logged) and written back with one UPDATE per
batch. Rows already under the first key are left alone, so the command can be stopped and rerun.

``--rehash`` also recomputes the search digests, for after ``CIVIC["DIGEST_KEY"]`` changed.

Stored IDEMIA proof archives are encrypted with the same keys: each one still under an old key is
rewritten under the first key (``idemia.fetch.reencrypt_proof``), so the old key can go for them too; and
so are the site's signing keys (``SiteSigningKey``, ``civic_idp_keys``).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Value

from django_civic.core import encryption
from django_civic.core.fields import Ciphertext
from django_civic.idemia.fetch import reencrypt_proof
from django_civic.models import ProofingSession, SiteSigningKey, VerifiedAttribute


class Command(BaseCommand):
    help = "Re-encrypt verified attribute values with the first key of CIVIC['ENCRYPTION_KEYS']."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per batch (default 500).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; write nothing.")
        parser.add_argument("--rehash", action="store_true",
                            help="Also recompute the search digests (after DIGEST_KEY changed).")

    def handle(self, *args: Any, batch_size: int, dry_run: bool, rehash: bool, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        field = VerifiedAttribute._meta.get_field("value")
        counts = {"checked": 0, "reencrypted": 0, "current": 0, "rehashed": 0, "failed": 0}
        failed_ids: list[int] = []
        last_pk = 0
        while True:
            rows = list(
                VerifiedAttribute.objects.filter(pk__gt=last_pk).order_by("pk")
                .values_list("pk", "label", "value", "value_digest")[:batch_size]
            )
            if not rows:
                break
            last_pk = rows[-1][0]
            updates: list[VerifiedAttribute] = []
            update_fields: set[str] = set()
            for pk, label, stored, old_digest in rows:
                counts["checked"] += 1
                token = stored.token if isinstance(stored, Ciphertext) else stored
                row = VerifiedAttribute(pk=pk)
                try:
                    if encryption.is_current(token):
                        counts["current"] += 1
                    else:
                        # An expression, so bulk_update writes this token as is instead of encrypting again.
                        row.value = Value(Ciphertext(encryption.rotate(token)), output_field=field)
                        update_fields.add("value")
                        counts["reencrypted"] += 1
                    if rehash:
                        digest = encryption.attribute_digest(label, encryption.decrypt(token))
                        if digest != old_digest:
                            row.value_digest = digest
                            update_fields.add("value_digest")
                            counts["rehashed"] += 1
                except encryption.DecryptionError:
                    counts["failed"] += 1
                    failed_ids.append(pk)
                    continue
                updates.append(row)
            if update_fields and not dry_run:
                with transaction.atomic():
                    for name in sorted(update_fields):
                        touched = [r for r in updates if _was_set(r, name)]
                        if touched:
                            VerifiedAttribute.objects.bulk_update(touched, [name])
        self._report(counts, dry_run, rehash)
        failed_proofs = self._proofs(dry_run)
        failed_keys = self._site_keys(dry_run)
        if failed_keys and not failed_ids and not failed_proofs:
            raise CommandError(f"{len(failed_keys)} site signing key(s) did not decrypt with any configured "
                               f"key (kids: {', '.join(failed_keys)}).")
        if failed_proofs and not failed_ids:
            raise CommandError(f"{len(failed_proofs)} proof archive(s) are missing or did not decrypt with "
                               f"any configured key (session ids: {_ids(failed_proofs)}).")
        if failed_ids:
            shown = ", ".join(str(pk) for pk in failed_ids[:20]) + (", ..." if len(failed_ids) > 20 else "")
            raise CommandError(
                f"{counts['failed']} value(s) did not decrypt with any configured key and were left as they "
                f"are (ids: {shown}). Add the missing key and run again."
            )

    def _proofs(self, dry_run: bool) -> list[int]:
        """Re-encrypt the stored proof archives; report the counts, return the sessions that failed."""
        counts = {"checked": 0, "reencrypted": 0, "current": 0}
        failed: list[int] = []
        for session in ProofingSession.objects.exclude(proof_file="").only("pk", "proof_file").iterator():
            counts["checked"] += 1
            try:
                counts["reencrypted" if reencrypt_proof(session, write=not dry_run) else "current"] += 1
            except (FileNotFoundError, encryption.DecryptionError):
                failed.append(session.pk)
        if counts["checked"]:
            verb = "would re-encrypt" if dry_run else "re-encrypted"
            self.stdout.write(f"Checked {counts['checked']} proof archive(s): {verb} "
                              f"{counts['reencrypted']}, {counts['current']} already under the current key, "
                              f"{len(failed)} missing or undecryptable.")
        return failed

    def _site_keys(self, dry_run: bool) -> list[str]:
        """Re-encrypt the site's signing keys (``civic_idp_keys``); return the kids that failed."""
        field = SiteSigningKey._meta.get_field("private_key")
        moved, failed = 0, []
        for pk, kid, stored in SiteSigningKey.objects.values_list("pk", "kid", "private_key"):
            token = stored.token if isinstance(stored, Ciphertext) else stored
            try:
                if encryption.is_current(token):
                    continue
                rotated = Value(Ciphertext(encryption.rotate(token)), output_field=field)
            except encryption.DecryptionError:
                failed.append(kid)
                continue
            moved += 1
            if not dry_run:
                SiteSigningKey.objects.filter(pk=pk).update(private_key=rotated)
        if moved or failed:
            verb = "would re-encrypt" if dry_run else "re-encrypted"
            self.stdout.write(f"Site signing keys: {verb} {moved}, {len(failed)} undecryptable.")
        return failed

    def _report(self, counts: dict[str, int], dry_run: bool, rehash: bool) -> None:
        verb = "would re-encrypt" if dry_run else "re-encrypted"
        line = (f"Checked {counts['checked']} attribute value(s): {verb} {counts['reencrypted']}, "
                f"{counts['current']} already under the current key, {counts['failed']} undecryptable.")
        if rehash:
            line += f" Digests {'to recompute' if dry_run else 'recomputed'}: {counts['rehashed']}."
        self.stdout.write(line)


def _ids(pks: list[int]) -> str:
    return ", ".join(str(pk) for pk in pks[:20]) + (", ..." if len(pks) > 20 else "")


def _was_set(row: VerifiedAttribute, name: str) -> bool:
    value = row.__dict__.get(name)
    if name == "value":
        return isinstance(value, Value)
    return bool(value)
