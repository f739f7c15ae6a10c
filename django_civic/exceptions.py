"""Why a Civic login or link was refused.

Every refusal is a :class:`CivicLoginError` with a stable ``code`` (the API's ``"error"`` value), a
translatable ``detail`` safe to show to the user (no token, no personal data) and the HTTP ``status``
the API answers with. Backends leave the error on ``request.civic_auth_error``; views turn it into
``{"error": code, "detail": detail}``.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


class CivicLoginError(Exception):
    """Base class: the login or link was refused."""

    code: str = "login_failed"
    status: int = 400
    default_detail: Any = _("The sign-in with Civic failed.")

    def __init__(self, code: str | None = None, detail: Any = None, status: int | None = None) -> None:
        self.code = code or self.code
        self.detail = detail if detail is not None else self.default_detail
        self.status = status or self.status
        super().__init__(self.code)

    def __str__(self) -> str:
        return str(self.detail)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status})"


class InvalidIdentity(CivicLoginError):
    """The provider returned an identity we cannot store (empty or over-long subject...)."""

    code = "invalid_identity"
    status = 400
    default_detail = _("The identity returned by the provider is not valid.")


class SignupClosed(CivicLoginError):
    """No account exists for this identity and the site does not create new ones."""

    code = "signup_closed"
    status = 403
    default_detail = _("Sign-up is closed: no account is linked to this identity.")


class IdentityLinkedElsewhere(CivicLoginError):
    """The identity already belongs to another user (raised when connecting it to a logged-in user)."""

    code = "already_linked"
    status = 409
    default_detail = _("This login belongs to another account. Sign out and sign in with it to use that "
                       "account; it was not connected to this one.")


class InactiveUser(CivicLoginError):
    """The account linked to the identity is disabled."""

    code = "inactive_user"
    status = 403
    default_detail = _("This account is disabled.")


class TokenReplayed(CivicLoginError):
    """The auth code (or ID token) was already used once."""

    code = "token_replayed"
    status = 400
    default_detail = _("This sign-in code was already used. Please sign in again.")


class ReplayCheckUnavailable(CivicLoginError):
    """The cache that enforces single use failed, so the login is refused (fail closed)."""

    code = "replay_check_unavailable"
    status = 503
    default_detail = _("Sign-in is temporarily unavailable. Please try again shortly.")


class EmailLinkRefused(CivicLoginError):
    """Linking by email was possible in principle but refused (several accounts, or the adapter said no)."""

    code = "email_link_refused"
    status = 409
    default_detail = _(
        "An account with this email address exists but cannot be linked automatically. "
        "Sign in to it first, then connect Civic."
    )


class LoginRefused(CivicLoginError):
    """The site's adapter (``pre_login``) refused the login."""

    code = "login_refused"
    status = 403
    default_detail = _("Sign-in was refused.")


class LastLoginMethod(CivicLoginError):
    """Disconnecting this identity would leave the account with no way to log in."""

    code = "last_login_method"
    status = 409
    default_detail = _("This is the only way to log in to your account. Set a password or connect "
                       "another login before removing it.")


class IdentityNotFound(CivicLoginError):
    """No identity of the user has this id (another user's answers the same, so ids cannot be probed)."""

    code = "not_found"
    status = 404
    default_detail = _("No such identity.")


__all__ = [
    "CivicLoginError", "EmailLinkRefused", "IdentityLinkedElsewhere", "IdentityNotFound", "InactiveUser",
    "InvalidIdentity", "LastLoginMethod", "LoginRefused", "ReplayCheckUnavailable", "SignupClosed",
    "TokenReplayed",
]
