"""What django_civic stores about a person: export it, erase it (GDPR articles 15, 17 and 20).

Sites call these from their own privacy tooling; ``manage.py civic_export_user`` and
``manage.py civic_erase_user`` are thin wrappers around them.

What django_civic stores about a user, and so what both functions cover:

- ``CivicIdentity`` rows (provider, subject, timestamps) and their ``VerifiedAttribute`` rows (values
  encrypted at rest; exported decrypted);
- ``ProofingSession`` rows (IDEMIA proofing attempts; the callback secret's hash is never exported) and
  the encrypted proof archives they point to in ``CIVIC["IDEMIA"]["PROOF_STORAGE"]``;
- Civic access tokens obtained by token exchange for the user, in the shared cache (erased only).

Not covered: the user row itself, which belongs to the site (its fields that ``USER_FIELD_MAP`` fills
are exported; ``erase_user(delete_user=True)`` deletes the whole row), and sessions, whose store cannot
be searched by user (Civic tokens kept with ``STORE_TOKENS`` end with the session).
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from django_civic import signals
from django_civic.conf import civic_settings
from django_civic.core.encryption import DecryptionError
from django_civic.idemia.fetch import proof_storage, read_proof
from django_civic.models import CivicIdentity, ProofingSession, VerifiedAttribute

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "django_civic.export/1"


class UserNotFound(LookupError):
    """No user, or more than one, matches the identifier given."""


def find_user(identifier: str) -> Any:
    """The user whose primary key or username (``USERNAME_FIELD``) is ``identifier``.

    Raises :class:`UserNotFound` when none matches, or when the id of one user is the username of another.
    """
    model = get_user_model()
    manager = model._default_manager
    by_name = manager.filter(**{model.USERNAME_FIELD: identifier}).first()
    by_pk = None
    try:
        pk = model._meta.pk.to_python(identifier)
    except (ValidationError, ValueError, TypeError):
        pk = None
    if pk is not None:
        by_pk = manager.filter(pk=pk).first()
    if by_pk is not None and by_name is not None and by_pk.pk != by_name.pk:
        raise UserNotFound(f"{identifier!r} is the id of one user and the username of another; "
                           "pass the id of the one you mean")
    user = by_pk or by_name
    if user is None:
        raise UserNotFound(f"no user has the id or username {identifier!r}")
    return user


# -- export ------------------------------------------------------------------------------------------


def export_user(user: Any, *, include_proofs: bool = True) -> dict[str, Any]:
    """Everything django_civic stores about ``user``, as JSON-ready data (values decrypted).

    ``include_proofs`` adds each stored IDEMIA proof archive, decrypted, as Base64. A value or archive
    that no configured key opens is exported as ``null`` with ``"undecryptable": true``.
    """
    identities = (CivicIdentity.objects.filter(user=user).prefetch_related("attributes")
                  .order_by("created_at", "pk"))
    sessions = (ProofingSession.objects.filter(user=user).select_related("identity")
                .order_by("created_at", "pk"))
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _time(timezone.now()),
        "user": _user(user),
        "identities": [_identity(identity) for identity in identities],
        "proofing_sessions": [_session(session, include_proofs) for session in sessions],
    }


def _user(user: Any) -> dict[str, Any]:
    """The user's id and username, and the fields django_civic fills from verified attributes."""
    data: dict[str, Any] = {"id": user.pk, "username": user.get_username()}
    for field in civic_settings.USER_FIELD_MAP:
        if hasattr(user, field) and field not in data:
            value = getattr(user, field)
            data[field] = value if value is None or isinstance(value, (bool, int, float)) else str(value)
    return data


def _identity(identity: CivicIdentity) -> dict[str, Any]:
    attributes = sorted(identity.attributes.all(), key=lambda attribute: attribute.label)
    return {
        "provider": identity.provider,
        "subject": identity.subject,
        "created_at": _time(identity.created_at),
        "updated_at": _time(identity.updated_at),
        "last_login": _time(identity.last_login),
        "attributes": [_attribute(attribute) for attribute in attributes],
    }


def _attribute(attribute: VerifiedAttribute) -> dict[str, Any]:
    data: dict[str, Any] = {"label": attribute.label}
    try:
        data["value"] = attribute.value
    except DecryptionError:
        data.update(value=None, undecryptable=True)
    data.update(
        is_valid=attribute.is_valid, is_owner=attribute.is_owner, scope=attribute.scope,
        value_size=attribute.value_size, first_verified_at=_time(attribute.first_verified_at),
        last_verified_at=_time(attribute.last_verified_at),
    )
    return data


def _session(session: ProofingSession, include_proofs: bool) -> dict[str, Any]:
    identity = session.identity
    recorded = {"provider": identity.provider, "subject": identity.subject} if identity else None
    data: dict[str, Any] = {
        "id": str(session.public_id),
        "status": session.status,
        "idemia_session_id": session.idemia_session_id,
        "idemia_identity_id": session.idemia_identity_id,
        "level_of_assurance": session.level_of_assurance,
        "idemia_status": session.idemia_status,
        "error_code": session.error_code,
        "recorded_identity": recorded,
        "created_at": _time(session.created_at),
        "expires_at": _time(session.expires_at),
        "callback_received_at": _time(session.callback_received_at),
        "completed_at": _time(session.completed_at),
        "proof": None,
    }
    if session.proof_file:
        proof: dict[str, Any] = {"size": session.proof_size, "fetched_at": _time(session.proof_fetched_at)}
        if include_proofs:
            try:
                proof["archive_base64"] = base64.b64encode(read_proof(session)).decode("ascii")
            except FileNotFoundError:
                proof.update(archive_base64=None, missing=True)
            except DecryptionError:
                proof.update(archive_base64=None, undecryptable=True)
        data["proof"] = proof
    return data


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# -- erasure -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErasureReport:
    """What :func:`erase_user` deleted (counts only: no personal data)."""

    identities: int = 0
    attributes: int = 0
    proofing_sessions: int = 0
    proof_files: int = 0
    proof_files_left: int = 0
    user_deleted: bool = False


def erasure_plan(user: Any) -> ErasureReport:
    """What :func:`erase_user` would delete, counted, without deleting anything (for a confirmation)."""
    sessions = ProofingSession.objects.filter(user=user)
    return ErasureReport(
        identities=CivicIdentity.objects.filter(user=user).count(),
        attributes=VerifiedAttribute.objects.filter(identity__user=user).count(),
        proofing_sessions=sessions.count(),
        proof_files=sessions.exclude(proof_file="").count(),
    )


def erase_user(user: Any, *, delete_user: bool = False, request: HttpRequest | None = None) -> ErasureReport:
    """Delete everything django_civic stores about ``user``; with ``delete_user``, the user too.

    In one transaction: the proofing sessions, every identity with its attributes, then the user if
    asked. Once it commits, the proof archives are deleted from the proof storage (by the sessions'
    ``post_delete`` handler) and ``identity_unlinked`` is sent for each identity, as
    :func:`~django_civic.core.identities.unlink_identity` does; cached exchanged Civic tokens are forgotten.

    Called outside a transaction (a management command, a task), the report's ``proof_files_left`` counts
    archives the storage still has afterwards. Called inside one (a view under ``ATOMIC_REQUESTS``), all
    of that happens when the caller's transaction commits, and nothing is left to count yet.
    """
    user_pk = user.pk
    deferred = transaction.get_connection().in_atomic_block
    with transaction.atomic():
        sessions = list(ProofingSession.objects.filter(user=user))
        files = [session.proof_file for session in sessions if session.proof_file]
        # A queryset delete sends post_delete per row: its handler deletes each proof file after the commit.
        ProofingSession.objects.filter(pk__in=[session.pk for session in sessions]).delete()
        attributes = VerifiedAttribute.objects.filter(identity__user=user).count()
        identities = list(CivicIdentity.objects.filter(user=user))
        for identity in identities:
            identity.delete()  # its attributes go with it (CASCADE)
        if delete_user:
            user.delete()

        def after_commit() -> None:
            # Only once committed: no receiver hears of a deletion that was rolled back.
            for identity in identities:
                signals.identity_unlinked.send(sender=CivicIdentity, identity=identity, user=user,
                                               request=request)
            _forget_exchanged_tokens(user_pk)

        transaction.on_commit(after_commit)
    left = 0 if deferred else sum(1 for name in files if _still_stored(name))
    report = ErasureReport(identities=len(identities), attributes=attributes,
                           proofing_sessions=len(sessions), proof_files=len(files) - left,
                           proof_files_left=left, user_deleted=delete_user)
    logger.info("django_civic data of user %s erased: %s", user_pk, report)
    return report


def _still_stored(name: str) -> bool:
    try:
        return proof_storage().exists(name)
    except Exception:  # a storage that cannot answer: report the file as possibly still there
        return True


def _forget_exchanged_tokens(user_pk: Any) -> None:
    """Drop the Civic access tokens token exchange cached for this user (when Civic Auth is set up)."""
    from django_civic.civic_auth.client import exchange_key, get_token_exchanger
    from django_civic.protocols.civic_auth import OIDCError

    try:
        exchanger = get_token_exchanger()
        for profile in {None, civic_settings.AUTH["PROFILE_ID"] or None}:
            for site_idp in (False, True):
                exchanger.forget(exchange_key(user_pk, site_idp=site_idp), profile)
    except (OIDCError, ImproperlyConfigured):
        pass  # Civic Auth is not configured here: token exchange never ran
    except Exception as exc:  # the cache is down: the cached tokens expire by themselves
        logger.warning("exchanged Civic tokens of user %s not forgotten: cache failed (%s)", user_pk,
                       type(exc).__name__)
