"""The adapter: the site's say in how a verified identity becomes (or meets) a Django user.

Set ``CIVIC["ADAPTER"] = "myproject.civic.MyAdapter"`` to a subclass of :class:`DefaultCivicAdapter` and
override the hooks you need. Hooks decide the flow (signals cannot: their handlers run in no fixed
order). Any hook may raise a :class:`~django_civic.exceptions.CivicLoginError` subclass to refuse; the
refusal reaches the client as ``{"error": code, "detail": detail}`` and nothing is written.

Every hook receives the ``request`` (or ``None`` outside a request) and the attributes the provider
returned, as objects with ``.label``, ``.value``, ``.is_valid``, ``.is_owner``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.http import HttpRequest
from django.utils.module_loading import import_string
from django.utils.text import slugify

from django_civic.conf import civic_settings

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from django_civic.core.results import RecordResult

logger = logging.getLogger(__name__)

USERNAME_PREFIX = "civic-"
# A reserved top-level domain (RFC 2606): placeholder addresses can never receive mail.
PLACEHOLDER_EMAIL_DOMAIN = "civic.invalid"
DOCUMENT_NAME_LABEL = "documents.genericId.name"
# Verified emails a readable username may come from (Civic SIP's label, which Civic Auth fills too).
_EMAIL_LABELS = ("contact.personal.email", "oidc.email")


class DefaultCivicAdapter:
    """Defaults: signup per ``CIVIC["SIGNUP_OPEN"]``, generated usernames, user fields synced from
    verified attributes by ``CIVIC["USER_FIELD_MAP"]``, email linking allowed whenever the rule of
    ``CIVIC["LINK_BY_EMAIL"]`` holds, nothing extra before login."""

    # -- signup --------------------------------------------------------------------------------------

    def is_open_for_signup(self, request: HttpRequest | None, provider: str,
                           attributes: Sequence[Any]) -> bool:
        """May a new user be created for this identity? (Runs only when no account matches.)"""
        return bool(civic_settings.SIGNUP_OPEN)

    def new_user(self, request: HttpRequest | None, provider: str,
                 attributes: Sequence[Any]) -> AbstractBaseUser:
        """An unsaved instance of the user model."""
        return get_user_model()()

    def populate_user(self, request: HttpRequest | None, user: AbstractBaseUser, provider: str, subject: str,
                      attributes: Sequence[Any]) -> None:
        """Fill a new user before it is saved: a generated username plus the mapped verified fields."""
        # Every user model sets USERNAME_FIELD (Django's contract); the stubs declare it on AbstractUser only.
        username_field = user.USERNAME_FIELD  # type: ignore[attr-defined]
        setattr(user, username_field, self.generate_username(request, provider, subject, attributes))
        values = {**self.name_values(user, attributes), **self.user_field_values(user, attributes)}
        for name, value in values.items():
            setattr(user, name, value)

    def save_user(self, request: HttpRequest | None, user: AbstractBaseUser, provider: str,
                  attributes: Sequence[Any]) -> None:
        """Save a new user. It gets no usable password: it logs in through its identity only."""
        user.set_unusable_password()
        user.save()

    def generate_username(self, request: HttpRequest | None, provider: str, subject: str,
                          attributes: Sequence[Any]) -> str:
        """A unique value for the user model's ``USERNAME_FIELD``, from what was verified.

        The local part of a verified email (``alice`` for ``alice@example.com``), else the verified name
        (``carol.danvers``), then, if taken, that name with a short hash of the identity (``alice-3f2a1b``):
        people who share a name and sign up at the same moment each get their own on the retry, where a
        counter (``alice2``) would have them collide again. With neither (an anonymous login), ``civic-`` + a
        short hash of the identity. Deterministic first (two racing first logins of one identity collide on
        it, and the loser then finds the winner's identity), longer hashes then random suffixes if
        everything is taken. For an ``EmailField`` username the placeholder is
        ``civic-<hash>@civic.invalid``.
        """
        model = get_user_model()
        field = model._meta.get_field(model.USERNAME_FIELD)
        digest = hashlib.sha256(f"{provider}\x00{subject}".encode()).hexdigest()
        readable: list[str] = []
        if not isinstance(field, models.EmailField):
            base = _readable_username(attributes)
            if base:
                readable = [base, f"{base}-{digest[:6]}"]
        candidates = readable + [_username_candidate(field, part) for part in (
            [digest[:10], digest[:16], digest[:24]] + [secrets.token_hex(8) for _ in range(3)])]
        max_length = getattr(field, "max_length", None)
        for candidate in candidates:
            if max_length and len(candidate) > max_length:
                continue
            lookup = {f"{model.USERNAME_FIELD}__iexact": candidate}
            if not model._default_manager.filter(**lookup).exists():
                return candidate
        raise RuntimeError("could not generate a unique username")  # 3 random 64-bit suffixes all taken

    def name_values(self, user: AbstractBaseUser, attributes: Sequence[Any]) -> dict[str, str]:
        """``first_name`` and ``last_name`` from verified names, for those of the two fields that are blank.

        Sources, first found wins: Civic Auth's ``given_name``/``family_name``, IDEMIA's
        ``givenName``/``surname``, then the name on a Civic SIP ID document (its last word is the last
        name). Never overwrites a name the user already has, and skips fields the user model lacks,
        ``PROTECTED_USER_FIELDS`` and names too long for the field.
        """
        verified = {a.label: a.value.strip() for a in attributes
                    if a.is_valid and a.is_owner and isinstance(a.value, str) and a.value.strip()}
        first = verified.get("oidc.given_name") or verified.get("idemia.givenName", "")
        last = verified.get("oidc.family_name") or verified.get("idemia.surname", "")
        document_name = verified.get(DOCUMENT_NAME_LABEL, "")
        if not (first or last) and document_name:
            first, _space, last = document_name.rpartition(" ")
        protected = set(civic_settings.PROTECTED_USER_FIELDS)
        values = {}
        for name, value in (("first_name", first), ("last_name", last)):
            try:
                field = user._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            max_length = getattr(field, "max_length", None) or len(value)
            if value and name not in protected and not getattr(user, name, "") and len(value) <= max_length:
                values[name] = value
        return values

    # -- every login ---------------------------------------------------------------------------------

    def update_user(self, request: HttpRequest | None, user: AbstractBaseUser, provider: str,
                    attributes: Sequence[Any]) -> list[str]:
        """Sync mapped user fields from verified attributes on a later login; returns the changed names."""
        changed = []
        values = {**self.name_values(user, attributes), **self.user_field_values(user, attributes)}
        for name, value in values.items():
            if getattr(user, name) != value:
                setattr(user, name, value)
                changed.append(name)
        if changed:
            user.save(update_fields=changed)
        return changed

    def user_field_values(self, user: AbstractBaseUser, attributes: Sequence[Any]) -> dict[str, Any]:
        """``{field: value}`` from ``CIVIC["USER_FIELD_MAP"]``, verified attributes only.

        Never touches ``PROTECTED_USER_FIELDS`` or the username field, skips fields the user model
        lacks and values the field would reject (too long, not an email...).
        """
        username_field = user.USERNAME_FIELD  # type: ignore[attr-defined]  # as in populate_user
        protected = set(civic_settings.PROTECTED_USER_FIELDS) | {username_field}
        by_label = {a.label: a for a in attributes if a.is_valid and a.is_owner}
        values: dict[str, Any] = {}
        for name, label in civic_settings.USER_FIELD_MAP.items():
            attribute = by_label.get(label)
            if attribute is None or name in protected:
                continue
            try:
                field = user._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            if not isinstance(field, models.Field) or not field.editable or field.is_relation:
                continue
            try:
                values[name] = field.clean(attribute.value.strip(), user)
            except ValidationError:
                logger.info("verified attribute %s does not fit user field %s; not synced", label, name)
        return values

    # -- linking by email ----------------------------------------------------------------------------

    def can_link_by_email(self, request: HttpRequest | None, provider: str, attributes: Sequence[Any],
                          user: AbstractBaseUser) -> bool:
        """Veto an email link the built-in rule already allows (``LINK_BY_EMAIL`` on, the email
        verified and owned, exactly one active account). Return ``False`` to refuse it."""
        return True

    def on_linked_by_email(self, request: HttpRequest | None, user: AbstractBaseUser) -> None:
        """Runs right after an identity was linked to an existing account by email. Default: nothing.

        The risk (pre-registration takeover): someone who does not own the address may have registered
        it here first, with a password, waiting for the real owner to link. After the link, that
        password still opens the account. To close it, as allauth does::

            def on_linked_by_email(self, request, user):
                user.set_unusable_password()
                user.save(update_fields=["password"])
                # and end the account's other sessions, e.g. with django-user-sessions or
                # update_session_auth_hash-style rotation.
        """

    # -- the site as an identity provider (django_civic.civic_auth.idp) ------------------------------

    def verified_email(self, user: AbstractBaseUser) -> str | None:
        """The user's email address if it is known to be theirs, else None. It goes into the identity
        tokens the site issues to Civic, whose access policy admits invited users by email: an address
        nobody verified would let anyone who types it in be taken for the invited person.

        By default: the user's ``email`` when one of their identities holds it as a valid, owned email
        attribute. Override to use your own proof (django-allauth's ``EmailAddress.verified``...)."""
        from django_civic.core.emails import same_email
        from django_civic.models import VerifiedAttribute
        from django_civic.models.identity import EMAIL_LABEL

        email = getattr(user, "email", None)
        if not email:
            return None
        owned = VerifiedAttribute.objects.filter(identity__user_id=user.pk, label=EMAIL_LABEL, is_valid=True,
                                                 is_owner=True)
        return email if any(same_email(attribute.value, email) for attribute in owned) else None

    # -- login ---------------------------------------------------------------------------------------

    def pre_login(self, request: HttpRequest | None, user: AbstractBaseUser, result: RecordResult) -> None:
        """Last word before a login goes through (not run when connecting to a logged-in user).
        Raise ``LoginRefused`` (or any ``CivicLoginError``) to refuse; nothing recorded is kept."""


def get_adapter() -> DefaultCivicAdapter:
    adapter_class = civic_settings.ADAPTER
    if isinstance(adapter_class, str):
        adapter_class = import_string(adapter_class)
    return adapter_class()


def _username_candidate(field: Any, part: str) -> str:
    if isinstance(field, models.EmailField):
        value = f"{USERNAME_PREFIX}{part}@{PLACEHOLDER_EMAIL_DOMAIN}"
    else:
        value = f"{USERNAME_PREFIX}{part}"
    max_length = getattr(field, "max_length", None)
    return value[:max_length] if max_length else value


def _readable_username(attributes: Sequence[Any]) -> str:
    """``alice`` from a verified email, else ``carol.danvers`` from a verified name; "" if neither (ASCII,
    the characters Django's username validator accepts)."""
    verified = {a.label: a.value for a in attributes
                if a.is_valid and a.is_owner and isinstance(a.value, str)}
    email = next((verified[label] for label in _EMAIL_LABELS if "@" in verified.get(label, "")), "")
    if email:
        base = _ascii(email.rpartition("@")[0])
    else:
        parts = [verified.get(label, "") for label in ("oidc.given_name", "oidc.family_name")]
        if not any(parts):
            parts = [verified.get(label, "") for label in ("idemia.givenName", "idemia.surname")]
        if not any(parts):
            parts = [verified.get(DOCUMENT_NAME_LABEL, "")]
        base = ".".join(filter(None, (slugify(part) for part in parts)))
    return base.strip(".-_+")[:30]


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9.+_-]", "", plain)
