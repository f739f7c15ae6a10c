"""Verified identities and their attributes.

``CivicIdentity`` ties one account at a provider, ``(provider, subject)``, to a Django user; a user may
have several (Civic SIP, Civic Auth, IDEMIA...). ``VerifiedAttribute`` holds what the provider vouched
for, one row per label, the value encrypted at rest with a keyed digest beside it for exact lookups.
Rows are written by :func:`django_civic.core.identities.record_identity` only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from django_civic.core.fields import EncryptedTextField, ExactCharField
from django_civic.core.labels import attribute_label, provider_name

# 191 characters: the longest indexable utf8mb4 VARCHAR on older MySQL/InnoDB (allauth's uid comment).
KEY_MAX_LENGTH = 191

EMAIL_LABEL = "contact.personal.email"
PHONE_LABEL = "contact.personal.phoneNumber"
IMAGE_WORDS = ("image", "portrait", "selfie", "photo")


def is_image_label(label: str) -> bool:
    """Labels that carry a picture (``documents.genericId.image``, ``idemia.portrait``...), never listed."""
    last = label.rsplit(".", 1)[-1].lower()
    return any(word in last for word in IMAGE_WORDS) and not last.endswith(("md5", "hash"))


class CivicIdentityQuerySet(models.QuerySet):
    def for_key(self, provider: str, subject: str) -> CivicIdentityQuerySet:
        return self.filter(provider=provider, subject=subject)


class CivicIdentity(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="civic_identities",
        verbose_name=_("user"),
    )
    provider = ExactCharField(
        _("provider"), max_length=KEY_MAX_LENGTH,
        help_text=_("civic_sip, the Civic Auth issuer URL, or idemia."),
    )
    subject = ExactCharField(
        _("subject"), max_length=KEY_MAX_LENGTH, help_text=_("The user's stable id at the provider."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    last_login = models.DateTimeField(_("last login"), null=True, blank=True)

    objects = CivicIdentityQuerySet.as_manager()

    class Meta:
        verbose_name = _("Civic identity")
        verbose_name_plural = _("Civic identities")
        constraints = [
            models.UniqueConstraint(fields=["provider", "subject"],
                                    name="django_civic_identity_provider_subject"),
        ]
        indexes = [
            # The unique index leads with provider; the admin's exact subject search needs its own.
            models.Index(fields=["subject"], name="django_civic_identity_subject"),
        ]

    def __str__(self) -> str:
        # Provider and a shortened subject only: enough to tell rows apart, never attribute values.
        # The provider by its display name (Civic Auth's is an issuer URL, too long to read twice).
        subject = self.subject if len(self.subject) <= 12 else f"{self.subject[:8]}…"
        return f"{provider_name(self.provider)}: {subject}"

    @property
    def provider_display(self) -> str:
        return provider_name(self.provider)

    def matches(self, provider: str, subject: str) -> bool:
        """Exact, case-sensitive comparison (databases with case-insensitive collations: CVE-2024-32879)."""
        return self.provider == provider and self.subject == subject


class VerifiedAttribute(models.Model):
    identity = models.ForeignKey(
        CivicIdentity, on_delete=models.CASCADE, related_name="attributes", verbose_name=_("identity"),
    )
    label = models.CharField(_("label"), max_length=KEY_MAX_LENGTH)
    value = EncryptedTextField(_("value"), blank=True, default="")
    value_digest = models.CharField(
        _("value digest"), max_length=64, blank=True, default="",
        help_text=_("Keyed HMAC-SHA256 of the normalised value, for exact-match search."),
    )
    value_size = models.PositiveIntegerField(
        _("value size"), default=0,
        help_text=_("Length of the plain value in bytes (shown instead of images)."),
    )
    is_valid = models.BooleanField(_("valid"), default=False)
    is_owner = models.BooleanField(_("owner"), default=False)
    scope = models.CharField(_("scope"), max_length=KEY_MAX_LENGTH, blank=True, default="")
    first_verified_at = models.DateTimeField(_("first verified"))
    last_verified_at = models.DateTimeField(_("last verified"))

    class Meta:
        verbose_name = _("verified attribute")
        verbose_name_plural = _("verified attributes")
        constraints = [
            models.UniqueConstraint(fields=["identity", "label"],
                                    name="django_civic_attribute_identity_label"),
        ]
        indexes = [
            # Exact search by email or phone without decrypting anything.
            models.Index(fields=["value_digest"], name="django_civic_attribute_digest"),
            # The admin's validity filters, small partial indexes (PostgreSQL, SQLite; ignored elsewhere).
            models.Index(fields=["identity"], name="django_civic_attr_invalid",
                         condition=models.Q(is_valid=False)),
            models.Index(fields=["identity"], name="django_civic_attr_email_ok",
                         condition=models.Q(label=EMAIL_LABEL, is_valid=True, is_owner=True)),
        ]

    def __str__(self) -> str:
        return attribute_label(self.label)  # "Date of birth", not documents.genericId.dateOfBirth

    @property
    def label_display(self) -> str:
        return attribute_label(self.label)

    @property
    def verified(self) -> bool:
        """Valid and owned: the only kind of attribute trusted for account linking and user fields."""
        return self.is_valid and self.is_owner

    @property
    def is_image(self) -> bool:
        return is_image_label(self.label)
