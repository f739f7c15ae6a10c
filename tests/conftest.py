"""Shared fixtures. Keep this small and additive: each capability adds only what several test files need."""

from __future__ import annotations

import pytest

from django_civic.sip.types import Attribute

EMAIL = "contact.personal.email"
PHONE = "contact.personal.phoneNumber"


@pytest.fixture
def make_attributes():
    """``make_attributes(email="a@example.com", phone=None, valid=True, owner=True, **extra_labels)``."""

    def make(email: str | None = "ann@example.com", phone: str | None = "+1 555 0100", *, valid: bool = True,
             owner: bool = True, extra: dict[str, str] | None = None) -> list[Attribute]:
        attributes = []
        if email is not None:
            attributes.append(Attribute(EMAIL, email, valid, owner))
        if phone is not None:
            attributes.append(Attribute(PHONE, phone, valid, owner))
        for label, value in (extra or {}).items():
            attributes.append(Attribute(label, value, valid, owner))
        return attributes

    return make
