"""Encryption at rest and keyed digests for verified attribute values.

Encryption: Fernet (AES-128-CBC + HMAC-SHA256) through ``MultiFernet`` so keys can rotate.
``CIVIC["ENCRYPTION_KEYS"]`` is a list of arbitrary strings; each is stretched with HKDF-SHA256 into a
Fernet key. The first key encrypts, every key decrypts; after adding a new first key, run
``manage.py civic_reencrypt`` to move old rows to it, then drop the old key. With an empty list the key
is derived from ``SECRET_KEY`` (and ``SECRET_KEY_FALLBACKS`` decrypt), which the system check
``django_civic.W003`` flags in production: losing or rotating ``SECRET_KEY`` would then lose the data.

Digest: ``HMAC-SHA256(digest key, normalised value)``, stored next to the ciphertext so an exact match
(admin search by email or phone) needs no decryption. The key is ``CIVIC["DIGEST_KEY"]`` or one derived
from ``SECRET_KEY``, and deliberately separate from the encryption keys so that rotating those leaves
every digest valid. Normalisation: strip + casefold; phone numbers keep only digits and a leading ``+``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from django_civic.conf import civic_settings

_ENCRYPTION_INFO = b"django_civic encryption key v1"
_DIGEST_INFO = b"django_civic digest key v1"


class DecryptionError(Exception):
    """A stored value does not decrypt with any configured key. The message carries no ciphertext."""


def stretch(secret: str | bytes, info: bytes) -> bytes:
    """Derive 32 key bytes from any secret string with HKDF-SHA256 (domain-separated by ``info``)."""
    material = secret.encode("utf-8") if isinstance(secret, str) else secret
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material)


def configured_key_strings() -> tuple[tuple[str, ...], bool]:
    """The key strings in use, primary first, and whether they come from ``SECRET_KEY``."""
    keys = civic_settings.ENCRYPTION_KEYS
    if isinstance(keys, str) or not isinstance(keys, (list, tuple)):
        raise ImproperlyConfigured("CIVIC['ENCRYPTION_KEYS'] must be a list of strings.")
    if any(not isinstance(key, str) or not key for key in keys):
        raise ImproperlyConfigured("CIVIC['ENCRYPTION_KEYS'] must hold non-empty strings only.")
    if keys:
        return tuple(keys), False
    fallbacks = tuple(getattr(settings, "SECRET_KEY_FALLBACKS", ()) or ())
    return (settings.SECRET_KEY, *fallbacks), True


@lru_cache(maxsize=8)
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(base64.urlsafe_b64encode(stretch(key, _ENCRYPTION_INFO))) for key in keys])


@lru_cache(maxsize=8)
def _primary_fernet(key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(stretch(key, _ENCRYPTION_INFO)))


def fernet() -> MultiFernet:
    """The ``MultiFernet`` for the current settings (cached per key list)."""
    return _multi_fernet(configured_key_strings()[0])


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        raise DecryptionError(
            "A stored attribute value does not decrypt with any key in CIVIC['ENCRYPTION_KEYS'] "
            "(or SECRET_KEY when the list is empty)."
        ) from None


def is_current(token: str) -> bool:
    """Whether ``token`` is already encrypted with the primary (first) key."""
    try:
        _primary_fernet(configured_key_strings()[0][0]).decrypt(token.encode("ascii"))
    except (InvalidToken, ValueError):
        return False
    return True


def rotate(token: str) -> str:
    """Re-encrypt ``token`` with the primary key (``MultiFernet.rotate``); raises :class:`DecryptionError`."""
    try:
        return fernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError):
        raise DecryptionError("A stored attribute value does not decrypt with any configured key.") from None


# -- digests -----------------------------------------------------------------------------------------

_PHONE_LABEL = re.compile(r"(phone|mobile)", re.IGNORECASE)
_NOT_DIGITS = re.compile(r"[^0-9]")


def is_phone_label(label: str) -> bool:
    return bool(_PHONE_LABEL.search(label.rsplit(".", 1)[-1]))


def is_email_label(label: str) -> bool:
    """``contact.personal.email``, ``oidc.email``...: a label whose value is an email address."""
    return label.rsplit(".", 1)[-1].lower().endswith("email")


def is_searchable_label(label: str) -> bool:
    """The attributes the admin may find by value (email and phone, as documented). Every attribute has
    a digest, but matching any other one would let a viewer confirm a guessed masked value."""
    return is_email_label(label) or is_phone_label(label)


def normalise(value: str, *, phone: bool = False) -> str:
    """What the digest covers.

    ``"  Ann@Example.COM "`` -> ``"ann@example.com"``; phone: ``"+1 (555) 010-99"`` -> ``"+155501099"``.
    """
    value = value.strip()
    if phone:
        digits = _NOT_DIGITS.sub("", value)
        return ("+" + digits) if value.startswith("+") else digits
    return value.casefold()


def digest_key() -> bytes:
    configured = civic_settings.DIGEST_KEY
    if configured is not None and (not isinstance(configured, str) or not configured):
        raise ImproperlyConfigured("CIVIC['DIGEST_KEY'] must be a non-empty string or None.")
    return _digest_key(configured or settings.SECRET_KEY)


@lru_cache(maxsize=8)
def _digest_key(secret: str) -> bytes:
    return stretch(secret, _DIGEST_INFO)


def digest(value: str, *, phone: bool = False) -> str:
    """Hex HMAC-SHA256 of the normalised value (64 characters)."""
    return hmac.new(digest_key(), normalise(value, phone=phone).encode("utf-8"), hashlib.sha256).hexdigest()


def attribute_digest(label: str, value: str) -> str:
    """The digest stored for an attribute: phone normalisation for phone labels."""
    return digest(value, phone=is_phone_label(label))


def search_digests(term: str) -> Sequence[str]:
    """Digests a search term may match: as text (emails...) and, if it has digits, as a phone number."""
    term = term.strip()
    if not term:
        return []
    candidates = [digest(term)]
    if any(ch.isdigit() for ch in term):
        phone = digest(term, phone=True)
        if phone not in candidates:
            candidates.append(phone)
    return candidates
