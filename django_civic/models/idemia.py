"""IDEMIA identity-proofing sessions.

One row per attempt of a user to prove their identity through IDEMIA's IPA. The row is what makes the
unsigned IPA callback safe to act on (idemia-ipa.md section 4): the callback must name *our* session id,
arrive on the URL carrying that session's secret (kept here only as a SHA-256 hash), and may bind an
IDEMIA identity id to at most one session (``idemia_identity_id`` is unique, first come first bound).

Statuses move one way: created -> started -> callback received -> verified | not verified, and any
non-final status may end in error or timed out. No personal data lives here: the verified attributes are
recorded on a ``CivicIdentity`` (provider ``idemia``) and the proof archive, if kept, in encrypted storage.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_civic.core.fields import ExactCharField
from django_civic.models.identity import CivicIdentity


def hash_secret(secret: str) -> str:
    """SHA-256 of a callback secret. A plain hash suffices: the secret is 256 random bits, not a password."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class ProofingSessionQuerySet(models.QuerySet):
    def open(self) -> ProofingSessionQuerySet:
        return self.exclude(status__in=ProofingSession.FINAL_STATUSES)

    def finished(self) -> ProofingSessionQuerySet:
        return self.filter(status__in=ProofingSession.FINAL_STATUSES)


class ProofingSession(models.Model):
    class Status(models.TextChoices):
        CREATED = "created", _("created")
        STARTED = "started", _("started")
        CALLBACK_RECEIVED = "callback_received", _("callback received")
        VERIFIED = "verified", _("verified")
        NOT_VERIFIED = "not_verified", _("not verified")
        ERROR = "error", _("error")
        TIMED_OUT = "timed_out", _("timed out")

    FINAL_STATUSES = (Status.VERIFIED, Status.NOT_VERIFIED, Status.ERROR, Status.TIMED_OUT)

    public_id = models.UUIDField(
        _("public id"), default=uuid.uuid4, unique=True, editable=False,
        help_text=_("The id in this site's proofing URLs (never the database key, never IDEMIA's ids)."),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="proofing_sessions",
        verbose_name=_("user"),
    )
    idemia_session_id = ExactCharField(
        _("IDEMIA session id"), max_length=128, unique=True, null=True, blank=True,
        help_text=_("IDEMIA's sessionId, set once IDEMIA created the session."),
    )
    callback_secret_hash = models.CharField(_("callback secret hash"), max_length=64, editable=False)
    status = models.CharField(_("status"), max_length=24, choices=Status.choices, default=Status.CREATED)
    idemia_identity_id = ExactCharField(
        _("IDEMIA identity id"), max_length=64, unique=True, null=True, blank=True,
        help_text=_("The GIPS identity the callback named; bound to the first session that claimed it."),
    )
    level_of_assurance = models.CharField(_("level of assurance"), max_length=8, blank=True, default="")
    identity = models.ForeignKey(
        CivicIdentity, on_delete=models.SET_NULL, null=True, blank=True, related_name="proofing_sessions",
        verbose_name=_("recorded identity"),
    )
    idemia_status = models.CharField(
        _("IDEMIA status"), max_length=64, blank=True, default="",
        help_text=_("The callback's status when the session ended abnormally (ERROR, HEARTBEAT_TIMEOUT)."),
    )
    error_code = models.CharField(
        _("error code"), max_length=64, blank=True, default="",
        help_text=_("Why the session failed, or the last retryable failure (a stable code, no personal "
                    "data)."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    expires_at = models.DateTimeField(_("expires"))
    callback_received_at = models.DateTimeField(_("callback received"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    # Claim of the one worker that fetches the identity (and proof) after the callback; see idemia/fetch.py.
    fetch_started_at = models.DateTimeField(_("fetch started"), null=True, blank=True)
    proof_fetched_at = models.DateTimeField(
        _("proof fetched"), null=True, blank=True,
        help_text=_("Fetching the proof closes IDEMIA's transaction, so it happens at most once."),
    )
    proof_file = models.CharField(_("proof file"), max_length=255, blank=True, default="", editable=False)
    proof_size = models.PositiveIntegerField(_("proof size"), default=0)
    callback_count = models.PositiveIntegerField(_("callbacks accepted"), default=0)
    fetch_attempts = models.PositiveIntegerField(_("fetch attempts"), default=0)

    objects = ProofingSessionQuerySet.as_manager()

    class Meta:
        verbose_name = _("proofing session")
        verbose_name_plural = _("proofing sessions")
        ordering = ["-created_at"]
        indexes = [
            # The reconcile command's scan, and the per-user daily limit.
            models.Index(fields=["status", "created_at"], name="django_civic_proofing_status"),
            models.Index(fields=["user", "created_at"], name="django_civic_proofing_user"),
        ]
        permissions = [("download_proof", _("Can download proofing proof archives"))]

    def __str__(self) -> str:
        return f"proofing {self.public_id} ({self.status})"

    @staticmethod
    def new_callback_secret() -> tuple[str, str]:
        """A fresh callback secret (for the URL) and its hash (for the row)."""
        secret = secrets.token_urlsafe(32)
        return secret, hash_secret(secret)

    def secret_matches(self, secret: str) -> bool:
        return hmac.compare_digest(hash_secret(secret), self.callback_secret_hash)

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES

    def is_expired(self, now: datetime | None = None) -> bool:
        return (now or timezone.now()) >= self.expires_at
