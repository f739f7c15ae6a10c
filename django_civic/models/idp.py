"""The site's signing keys for the identity tokens it issues to Civic (``django_civic.civic_auth.idp``).

The private key is a PEM kept in an :class:`~django_civic.core.fields.EncryptedTextField`, so a database
dump holds only Fernet ciphertext (``CIVIC["ENCRYPTION_KEYS"]``); a retired key's private half is erased.
Managed with ``manage.py civic_idp_keys`` (create, rotate, retire).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from django_civic.core.fields import EncryptedTextField


class SiteSigningKey(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("signs new tokens")
        PUBLISHED = "published", _("replaced, still published for tokens already issued")
        RETIRED = "retired", _("retired")

    kid = models.CharField(_("key id"), max_length=64, unique=True)
    algorithm = models.CharField(_("algorithm"), max_length=16)
    private_key = EncryptedTextField(_("private key (PEM)"), blank=True, default="")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE,
                              db_index=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    replaced_at = models.DateTimeField(_("replaced"), null=True, blank=True)
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True)

    class Meta:
        verbose_name = _("site signing key")
        verbose_name_plural = _("site signing keys")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kid} ({self.algorithm}, {self.status})"
