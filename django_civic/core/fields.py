"""``EncryptedTextField``: a text column stored Fernet-encrypted, decrypted only when read.

Loading a row does not decrypt: the column's ciphertext is kept as a :class:`Ciphertext` and the model
attribute decrypts it on first access (then caches the plain text on the instance). So listing
attributes, counting them or re-saving an untouched row never pays for decryption, and a row whose
value is never displayed (document images on list pages) is never decrypted at all. Saving an
untouched row writes the same ciphertext back instead of re-encrypting.

Only ``isnull`` lookups are allowed: ciphertexts are randomised, so ``value="x"`` could never match.
Use the keyed digest (``value_digest``) for exact-match lookups.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.lookups import IsNull
from django.db.models.query_utils import DeferredAttribute

from django_civic.core import encryption


class Ciphertext:
    """A stored, not yet decrypted value. Its repr never shows the token."""

    __slots__ = ("token", "_plain")

    def __init__(self, token: str) -> None:
        self.token = token
        self._plain: str | None = None

    def decrypt(self) -> str:
        if self._plain is None:
            self._plain = encryption.decrypt(self.token)
        return self._plain

    def __repr__(self) -> str:
        return "<Ciphertext>"

    def __len__(self) -> int:
        return len(self.token)


class EncryptedAttribute(DeferredAttribute):
    """Model attribute for the field: plain text on read, whatever was assigned on write.

    A data descriptor (it defines ``__set__``), so every read goes through ``__get__`` even when the
    instance dict holds a value; that is where a loaded :class:`Ciphertext` becomes text.
    """

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        value = super().__get__(instance, cls)  # loads a deferred column if needed
        if isinstance(value, Ciphertext):
            return value.decrypt()
        return value

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


class EncryptedTextField(models.TextField):
    """A ``TextField`` whose content is encrypted at rest with ``CIVIC["ENCRYPTION_KEYS"]``."""

    descriptor_class = EncryptedAttribute

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return Ciphertext(value)

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, Ciphertext):
            return value
        return super().to_python(value)

    def pre_save(self, model_instance: Any, add: bool) -> Any:
        # The raw slot, not getattr(): an untouched Ciphertext is written back as is, undecrypted.
        return model_instance.__dict__.get(self.attname)

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, Ciphertext):
            return value.token
        return encryption.encrypt(str(value))

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name == "isnull":
            return IsNull
        return None


class ExactCharField(models.CharField):
    """A ``CharField`` the database compares byte for byte, as Python does.

    PostgreSQL and SQLite do already; MariaDB and MySQL compare text case-insensitively by default, so a
    unique index there would make ``"abc"`` and ``"AbC"`` one identity key. This field asks them for a
    binary collation instead: the same column definition on the others.
    """

    def db_parameters(self, connection: Any) -> dict[str, Any]:
        parameters = super().db_parameters(connection)
        if connection.vendor == "mysql" and not self.db_collation:
            parameters["collation"] = "utf8mb4_bin"
        return parameters
