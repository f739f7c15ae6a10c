"""``record_identity()``: the one place a verified identity is written, for every provider.

The decision tree (``user`` is ``None`` on login/signup, a user when connecting to a logged-in account):

1. Look the identity up by ``(provider, subject)``, compared exactly (also in Python: databases with a
   case-insensitive collation would otherwise match ``ABC`` to ``abc``, CVE-2024-32879).
2. Found: it logs its user in (connect: refused with ``IdentityLinkedElsewhere`` if it belongs to
   someone else).
3. Not found, connect: the identity is added to ``user``.
4. Not found, login: if ``CIVIC["LINK_BY_EMAIL"]`` is on and the provider returned the email as valid
   *and* owned, and exactly one active account has the same email (``emails.email_key``: ASCII only,
   the local part exact, the domain case-insensitive, compared in Python), the identity is
   linked to that account (``EmailLinkRefused`` when several active accounts match or the adapter
   vetoes). Otherwise a new user is created if the adapter says signup is open (``SignupClosed``).
5. Attributes are upserted in bulk (a constant number of queries whatever their number); those the
   provider did not return this time are kept. Mapped user fields are synced from verified ones.

All of it runs in one transaction: a refusal (inactive user, adapter veto) leaves nothing behind.
Races: two first logins of one subject at once both try to insert; the loser's user and identity are
created in one savepoint, rolled back on ``IntegrityError``, and the loser re-fetches the winner's
identity by ``(provider, subject)`` only, never by any wider match (CVE-2025-61783).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.http import HttpRequest
from django.utils import timezone

from django_civic import signals
from django_civic.conf import civic_settings
from django_civic.core.adapter import DefaultCivicAdapter, get_adapter
from django_civic.core.emails import email_key
from django_civic.core.encryption import attribute_digest
from django_civic.core.labels import IDEMIA
from django_civic.core.results import RecordResult
from django_civic.exceptions import (
    CivicLoginError,
    EmailLinkRefused,
    IdentityLinkedElsewhere,
    IdentityNotFound,
    InactiveUser,
    InvalidIdentity,
    LastLoginMethod,
    SignupClosed,
)
from django_civic.models import CivicIdentity, VerifiedAttribute
from django_civic.models.identity import EMAIL_LABEL, IMAGE_WORDS, KEY_MAX_LENGTH, is_image_label

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

_CREATE_ATTEMPTS = 3
_ATTRIBUTE_UPDATE_FIELDS = ["value", "value_digest", "value_size", "is_valid", "is_owner", "scope",
                            "last_verified_at"]


def record_identity(
    *,
    provider: str,
    subject: str,
    attributes: Iterable[Any],
    scope: str = "",
    request: HttpRequest | None = None,
    user: AbstractBaseUser | None = None,
) -> RecordResult:
    """Upsert the identity and its attributes; return who it belongs to and what changed.

    Raises a :class:`~django_civic.exceptions.CivicLoginError` subclass on refusal, never on a race.
    """
    _check_key(provider, subject)
    scope = scope if isinstance(scope, str) and len(scope) <= KEY_MAX_LENGTH else ""
    incoming = _dedupe(attributes)
    adapter = get_adapter()
    now = timezone.now()
    with transaction.atomic():
        if user is None:
            identity, owner, user_created, identity_created, by_email = _resolve_login(
                adapter, request, provider, subject, incoming)
            # An existing disabled account: refuse and write nothing. A user the adapter just created
            # inactive (sign-up pending approval) is kept; the backend's user_can_authenticate refuses it.
            if not user_created and not getattr(owner, "is_active", True):
                raise InactiveUser()
        else:
            identity, identity_created = _resolve_connect(provider, subject, user)
            owner, user_created, by_email = user, False, False
        # The identity row is locked (by this UPDATE) before any attribute row: every login of one
        # identity takes its locks in the same order, so concurrent logins queue instead of deadlocking.
        CivicIdentity.objects.filter(pk=identity.pk).update(last_login=now, updated_at=now)
        identity.last_login = identity.updated_at = now
        changed, stored = _upsert_attributes(identity, incoming, scope, now, identity_created)
        if not user_created:
            adapter.update_user(request, owner, provider,
                                _without_email_sync(owner, incoming) if by_email else incoming)
        identity.user = owner
        result = RecordResult(owner, identity, user_created, identity_created, changed, by_email, stored,
                              connected=user is not None)
        if user is None:
            adapter.pre_login(request, owner, result)
        if by_email:
            adapter.on_linked_by_email(request, owner)
    _send_signals(result, request)
    return result


#: Providers whose identities prove who someone is but cannot log them in (proofing only).
NON_LOGIN_PROVIDERS = frozenset({IDEMIA})


def signed_in_user(request: HttpRequest | None) -> Any:
    """The user a Civic login is connected to instead of logging in: the request's signed-in user, or None.

    Both backends pass it to :func:`record_identity` as ``user``, so pressing a Civic button while signed
    in never switches accounts: the identity joins this account, or is refused with
    ``IdentityLinkedElsewhere`` if it belongs to another. Views that accept a session make sure the
    request passed Django's CSRF check first (a cross-site post must not connect the attacker's login).
    """
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def disconnect_identity(user: Any, pk: Any, *, request: HttpRequest | None = None) -> CivicIdentity:
    """Delete the identity ``pk`` of ``user``, never the last way in; sends ``identity_unlinked`` on commit.

    Raises ``IdentityNotFound`` (also for another user's identity, so ids cannot be probed) and
    ``LastLoginMethod`` when it is the only identity that logs in and the account has no usable password.
    """
    with transaction.atomic():
        # Lock the user's identities so two concurrent disconnects cannot each see "one other left".
        identities = list(CivicIdentity.objects.select_for_update().filter(user=user).order_by("pk"))
        identity = next((row for row in identities if row.pk == pk), None)
        if identity is None:
            raise IdentityNotFound()
        if not can_disconnect(user, identity, identities):
            raise LastLoginMethod()
        identity.delete()  # clears the pk only: the signal's receivers still see provider and subject
        transaction.on_commit(lambda: signals.identity_unlinked.send(
            sender=CivicIdentity, identity=identity, user=user, request=request))
    return identity


def can_disconnect(user: Any, identity: CivicIdentity, identities: Iterable[CivicIdentity]) -> bool:
    """Whether ``user`` keeps a way to log in without ``identity``, one of their ``identities``: it does not
    log in (proofing only), or another of them does, or the account has a usable password."""
    return (identity.provider in NON_LOGIN_PROVIDERS or user.has_usable_password()
            or any(row.pk != identity.pk and row.provider not in NON_LOGIN_PROVIDERS for row in identities))


def unlink_identity(identity: CivicIdentity, *, request: HttpRequest | None = None) -> None:
    """Delete an identity (and its attributes) and send ``identity_unlinked``."""
    user = identity.user
    identity.delete()
    signals.identity_unlinked.send(sender=CivicIdentity, identity=identity, user=user, request=request)


def purge_attributes(identity: CivicIdentity, labels: Iterable[str] | None = None, *,
                     request: HttpRequest | None = None) -> int:
    """Delete an identity's stored attributes (all, or those ``labels``); returns how many went."""
    queryset = VerifiedAttribute.objects.filter(identity=identity)
    if labels is not None:
        queryset = queryset.filter(label__in=list(labels))
    with transaction.atomic():
        purged = tuple(queryset.values_list("label", flat=True))
        count, _ = queryset.delete()
    if purged:
        signals.attributes_changed.send(sender=CivicIdentity, identity=identity, user=identity.user,
                                        request=request, labels=purged, purged=True)
    return count


def purge_document_images(older_than_days: int | None = None) -> int:
    """Delete stored document images (``is_image_label``) last verified more than ``older_than_days``
    ago; the default is ``CIVIC["DOCUMENT_IMAGE_RETENTION_DAYS"]`` (``None``: keep them, return 0).
    Other attributes stay. Returns how many were deleted. Meant for a periodic job."""
    days = civic_settings.DOCUMENT_IMAGE_RETENTION_DAYS if older_than_days is None else older_than_days
    if days is None:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    words = Q()
    for word in IMAGE_WORDS:
        words |= Q(label__icontains=word)
    candidates = (VerifiedAttribute.objects.filter(words, last_verified_at__lt=cutoff)
                  .values_list("pk", "label"))
    ids = [pk for pk, label in candidates.iterator() if is_image_label(label)]
    deleted = 0
    for start in range(0, len(ids), 500):
        deleted += VerifiedAttribute.objects.filter(pk__in=ids[start:start + 500]).delete()[0]
    return deleted


# -- resolution ------------------------------------------------------------------------------------

def _resolve_login(adapter: DefaultCivicAdapter, request: HttpRequest | None, provider: str, subject: str,
                   incoming: list[Any]) -> tuple[CivicIdentity, Any, bool, bool, bool]:
    identity = _find(provider, subject)
    if identity is not None:
        return identity, identity.user, False, False, False

    linked_user = _email_link_target(adapter, request, provider, incoming)
    if linked_user is not None:
        identity, created = _create_identity(provider, subject, lambda: linked_user)
        if not created and identity.user_id != linked_user.pk:
            # Lost a race to a login that created its own user: log into that one, never widen.
            return identity, identity.user, False, False, False
        return identity, identity.user, False, created, created

    if not adapter.is_open_for_signup(request, provider, incoming):
        raise SignupClosed()

    def new_user() -> Any:
        candidate = adapter.new_user(request, provider, incoming)
        adapter.populate_user(request, candidate, provider, subject, incoming)
        adapter.save_user(request, candidate, provider, incoming)
        return candidate

    identity, created = _create_identity(provider, subject, new_user)
    return identity, identity.user, created, created, False


def _resolve_connect(provider: str, subject: str, user: Any) -> tuple[CivicIdentity, bool]:
    identity = _find(provider, subject)
    if identity is None:
        identity, created = _create_identity(provider, subject, lambda: user)
    else:
        created = False
    if identity.user_id != user.pk:
        raise IdentityLinkedElsewhere()
    return identity, created


def _find(provider: str, subject: str, *, lock: bool = False) -> CivicIdentity | None:
    queryset = CivicIdentity.objects.select_related("user").for_key(provider, subject)
    if lock:
        # A locking read sees rows committed after this transaction's snapshot (MySQL REPEATABLE READ).
        queryset = queryset.select_for_update(of=("self",)) if connection.features.has_select_for_update_of \
            else queryset.select_for_update()
    return _exact_match(queryset, provider, subject)


def _exact_match(candidates: Iterable[CivicIdentity], provider: str, subject: str) -> CivicIdentity | None:
    """The candidate whose key is exactly ``(provider, subject)``: the database may have ignored case."""
    return next((identity for identity in candidates if identity.matches(provider, subject)), None)


def _create_identity(provider: str, subject: str, make_user: Any) -> tuple[CivicIdentity, bool]:
    """Create the identity (and, through ``make_user``, maybe its user) in one savepoint.

    On ``IntegrityError`` the savepoint is rolled back, so a user created for the losing side of a race
    does not survive, and the winner's identity is fetched by ``(provider, subject)`` alone.
    """
    for _attempt in range(_CREATE_ATTEMPTS):
        try:
            with transaction.atomic():
                owner = make_user()
                identity = CivicIdentity.objects.create(user=owner, provider=provider, subject=subject)
                return identity, True
        except IntegrityError:
            existing = _find(provider, subject, lock=True)
            if existing is not None:
                return existing, False
            # Not our identity: a generated username was taken meanwhile, or a case-insensitive
            # collation sees a different subject as equal. Try again; generate_username skips taken names.
            logger.info("identity creation conflicted without a matching identity; retrying")
    raise CivicLoginError("identity_conflict", status=409)


def _email_link_target(adapter: DefaultCivicAdapter, request: HttpRequest | None, provider: str,
                       incoming: list[Any]) -> Any:
    """The one account a new identity may be linked to by email, or ``None`` (then: signup).

    The rule, exactly: ``LINK_BY_EMAIL`` on; the email attribute ``isValid`` and ``isOwner``; exactly
    one *active* user with the same email by :func:`~django_civic.core.emails.email_key` (ASCII only, local
    part exact, domain case-insensitive); and the adapter does not veto.
    Several active matches, or a veto, refuse the login rather than create yet another account.
    """
    if not civic_settings.LINK_BY_EMAIL:
        return None
    email_attribute = next((a for a in incoming if a.label == EMAIL_LABEL), None)
    if email_attribute is None or not (email_attribute.is_valid is True and email_attribute.is_owner is True):
        return None
    wanted = email_key(email_attribute.value)
    if wanted is None:  # not an address the comparison accepts (e.g. non-ASCII): never links
        return None
    model = get_user_model()
    email_field = model.get_email_field_name()
    try:
        model._meta.get_field(email_field)
    except FieldDoesNotExist:
        return None
    # The database only narrows down candidates: LOWER() keeps every address whose key is ``wanted``
    # on every backend (they all lowercase ASCII alike) but may keep more (PostgreSQL lowercases the
    # Kelvin sign to "k", MariaDB's collations ignore case and trailing spaces). The match itself is
    # email_key's, in Python, so no database decides what "the same email" is.
    candidates = (model._default_manager.annotate(civic_email_lower=Lower(email_field))
                  .filter(civic_email_lower=wanted.lower()).order_by("pk"))
    if any(f.name == "is_active" for f in model._meta.get_fields()):
        candidates = candidates.filter(is_active=True)
    matches = []
    for candidate in candidates.iterator():
        if email_key(getattr(candidate, email_field)) == wanted:
            matches.append(candidate)
            if len(matches) > 1:
                break
    if not matches:
        return None
    if len(matches) > 1:
        raise EmailLinkRefused()
    target = matches[0]
    if not getattr(target, "is_active", True):
        raise EmailLinkRefused()
    if not adapter.can_link_by_email(request, provider, incoming, target):
        raise EmailLinkRefused()
    return target


def _without_email_sync(user: Any, incoming: list[Any]) -> list[Any]:
    """``incoming`` less what ``USER_FIELD_MAP`` would write into the user's email field.

    A link by email joins an account that already had its address: the sync of that login must not
    rewrite it (with this provider's spelling, or with anything a too-wide match would have let in).
    """
    email_field = user.get_email_field_name()
    labels = {label for name, label in civic_settings.USER_FIELD_MAP.items() if name == email_field}
    return [attribute for attribute in incoming if attribute.label not in labels]


# -- attributes ------------------------------------------------------------------------------------

def _upsert_attributes(identity: CivicIdentity, incoming: list[Any], scope: str, now: Any,
                       identity_created: bool) -> tuple[tuple[str, ...], tuple[VerifiedAttribute, ...]]:
    """Insert new labels, rewrite changed ones, touch unchanged ones: at most 3 queries for any count.

    Returns the labels written and every attribute now stored for the identity, by label.
    """
    existing: dict[str, VerifiedAttribute] = {}
    if not identity_created:
        existing = {a.label: a for a in VerifiedAttribute.objects.filter(identity=identity)}
    writes: list[VerifiedAttribute] = []
    untouched: list[VerifiedAttribute] = []
    for attribute in incoming:
        digest = attribute_digest(attribute.label, attribute.value)
        size = len(attribute.value.encode("utf-8"))
        old = existing.get(attribute.label)
        if old is not None and _same(old, attribute, digest, size):
            untouched.append(old)
            continue
        writes.append(VerifiedAttribute(
            identity=identity, label=attribute.label, value=attribute.value, value_digest=digest,
            value_size=size, is_valid=bool(attribute.is_valid), is_owner=bool(attribute.is_owner),
            scope=scope, first_verified_at=now, last_verified_at=now,
        ))
    if writes:
        # An upsert, so a concurrent login adding the same label cannot fail on the unique constraint.
        # first_verified_at is not among the update fields: the first sighting is kept.
        options: dict[str, Any] = {"update_conflicts": True, "update_fields": _ATTRIBUTE_UPDATE_FIELDS}
        if connection.features.supports_update_conflicts_with_target:
            options["unique_fields"] = ["identity", "label"]
        VerifiedAttribute.objects.bulk_create(writes, **options)
    if untouched:
        VerifiedAttribute.objects.filter(pk__in=[a.pk for a in untouched]).update(
            last_verified_at=now, scope=scope)
        for attribute in untouched:
            attribute.last_verified_at, attribute.scope = now, scope
    for attribute in writes:
        old = existing.get(attribute.label)
        if old is not None:  # rewritten in place: keep the row's id and first sighting
            attribute.pk, attribute.first_verified_at = old.pk, old.first_verified_at
        existing[attribute.label] = attribute
    stored = tuple(existing[label] for label in sorted(existing))
    return tuple(a.label for a in writes), stored


def _same(old: VerifiedAttribute, new: Any, digest: str, size: int) -> bool:
    if old.is_valid != bool(new.is_valid) or old.is_owner != bool(new.is_owner):
        return False
    if old.value_digest != digest or old.value_size != size:
        return False
    # Same normalised digest and size: compare exactly (the digest ignores case and spacing).
    return old.value == new.value


def _dedupe(attributes: Iterable[Any]) -> list[Any]:
    """One attribute per label (the last wins), each checked for the shape the models need."""
    by_label: dict[str, Any] = {}
    for attribute in attributes:
        label = getattr(attribute, "label", None)
        value = getattr(attribute, "value", None)
        if not isinstance(label, str) or not 0 < len(label) <= KEY_MAX_LENGTH or not isinstance(value, str):
            raise InvalidIdentity()
        by_label[label] = attribute
    return list(by_label.values())


def _check_key(provider: Any, subject: Any) -> None:
    for part in (provider, subject):
        if not isinstance(part, str) or not part or len(part) > KEY_MAX_LENGTH or part != part.strip():
            raise InvalidIdentity()


def _send_signals(result: RecordResult, request: HttpRequest | None) -> None:
    common = {"sender": CivicIdentity, "identity": result.identity, "user": result.user, "request": request}
    if result.identity_created:
        signals.identity_created.send(
            user_created=result.user_created, linked_by_email=result.linked_by_email, **common)
    else:
        signals.identity_updated.send(changed_labels=result.changed_labels, **common)
    if result.changed_labels:
        signals.attributes_changed.send(labels=result.changed_labels, purged=False, **common)
