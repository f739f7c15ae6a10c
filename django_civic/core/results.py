"""What :func:`~django_civic.core.identities.record_identity` returns (the adapter's hooks receive it too)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django_civic.models import CivicIdentity, VerifiedAttribute

__all__ = ["RecordResult"]


@dataclass(frozen=True)
class RecordResult:
    user: Any
    identity: CivicIdentity
    user_created: bool
    identity_created: bool
    changed_labels: tuple[str, ...]
    linked_by_email: bool = False
    #: Every attribute stored for the identity after this login (not only this login's), by label.
    attributes: tuple[VerifiedAttribute, ...] = ()
    #: Recorded for a signed-in user (connected to their account) rather than as a login.
    connected: bool = False
