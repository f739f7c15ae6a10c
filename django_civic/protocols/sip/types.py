"""Result types of a SIP code exchange."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EMAIL = "contact.personal.email"
PHONE = "contact.personal.phoneNumber"


@dataclass(frozen=True)
class Attribute:
    """One verified attribute as Civic returns it: ``{label, value, isValid, isOwner}``."""

    label: str
    value: str = field(repr=False)  # personal data: never in reprs, hence never in logs or tracebacks
    is_valid: bool
    is_owner: bool

    @classmethod
    def from_wire(cls, item: Any) -> Attribute:
        if not isinstance(item, dict) or not isinstance(item.get("label"), str):
            raise ValueError("attribute is not an object with a string label")
        value = item.get("value", "")
        if not isinstance(value, str):
            # Civic sends strings; anything else is kept as its JSON-ish text rather than dropped.
            value = "" if value is None else str(value)
        return cls(
            label=item["label"],
            value=value,
            is_valid=item.get("isValid") is True,
            is_owner=item.get("isOwner") is True,
        )

    @property
    def verified(self) -> bool:
        """Valid and owned by the user: the only kind safe to trust for account linking."""
        return self.is_valid and self.is_owner


@dataclass(frozen=True)
class SIPUserData:
    """What an exchanged auth code yields: Civic's stable per-app user id and the attributes."""

    user_id: str
    attributes: tuple[Attribute, ...] = ()

    def get(self, label: str) -> Attribute | None:
        for attribute in self.attributes:
            if attribute.label == label:
                return attribute
        return None

    @property
    def email(self) -> str | None:
        attribute = self.get(EMAIL)
        return attribute.value if attribute else None

    @property
    def phone(self) -> str | None:
        attribute = self.get(PHONE)
        return attribute.value if attribute else None
