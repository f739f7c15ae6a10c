"""Signals sent by :mod:`django_civic.core.identities` (side effects only: handlers run in no fixed order,
so anything that must *decide* the flow belongs in the adapter, see :mod:`django_civic.core.adapter`).

Every signal is sent after the database work of the call succeeded, with ``sender`` the model class
(:class:`~django_civic.models.CivicIdentity`). Django's own ``user_logged_in`` and
``user_login_failed`` are sent by ``django.contrib.auth.login()`` and ``authenticate()``.
"""

from __future__ import annotations

from django.dispatch import Signal

# A new identity was stored (first login, email link or connect).
# Arguments: identity, user, request (or None), user_created (bool), linked_by_email (bool).
identity_created = Signal()

# An existing identity logged in again or was refreshed.
# Arguments: identity, user, request (or None), changed_labels (tuple of labels, may be empty).
identity_updated = Signal()

# An identity was removed from its user (admin action, API disconnect).
# Arguments: identity (deleted: its pk is None; provider/subject are kept), user, request (or None).
identity_unlinked = Signal()

# Attributes were added, changed in value or validity, or purged.
# Arguments: identity, user, request (or None), labels (tuple of the labels that changed), purged (bool).
attributes_changed = Signal()

__all__ = ["attributes_changed", "identity_created", "identity_unlinked", "identity_updated"]
