"""Shared fixtures. Keep this small and additive: each capability adds only what several test files need."""

from __future__ import annotations

import pytest

from django_civic.protocols.sip.types import Attribute

EMAIL = "contact.personal.email"
PHONE = "contact.personal.phoneNumber"


@pytest.fixture
def civic(settings, civic_sandbox):
    """The site against the sandbox (the ``civic_sandbox`` fixture) with throttling off and an empty cache.
    A test file that needs other settings defines its own ``civic``."""
    from django.core.cache import caches

    caches["default"].clear()
    settings.CIVIC = civic_sandbox.civic_settings(SANDBOX_ALLOW_WITHOUT_DEBUG=True,
                                                  API={"THROTTLE_RATE": None})
    return civic_sandbox


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


@pytest.fixture
def record_figure(request):
    """Publish a figure from a test: ``record_figure("replay.sip", tried=50, logins=1, refused=49)``.

    The security and reliability tests record what they tried and what held (cases, load, faults). With
    ``CIVIC_FIGURES_FILE`` set, each figure is appended to that file as one JSON line, with the test's node
    id so the table in SECURITY.md can say which command reproduces it (``make security-figures``).
    """
    import json
    import os

    def record(name: str, **values) -> dict:
        entry = {"figure": name, "test": request.node.nodeid, **values}
        path = os.environ.get("CIVIC_FIGURES_FILE")
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps(entry, sort_keys=True) + "\n")
        return entry

    return record
