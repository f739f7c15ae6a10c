"""What "the same email" means when an identity is linked to an account (``CIVIC["LINK_BY_EMAIL"]``).

One comparison, computed here in Python so that every database gives the same answer. Databases do not
agree on case-insensitive matching: PostgreSQL's ``iexact`` is ``UPPER(a) = UPPER(b)``, which turns the
dotless ``ı`` of ``ceo@gmaıl.com`` into ``I`` and so matches ``ceo@gmail.com``; SQLite folds ASCII only;
MariaDB follows the column's collation (and ignores trailing spaces). A lookup in the database may only
fetch *candidates*; the match is decided by :func:`email_key`.

The normalisation is deliberately conservative:

- only ASCII addresses take part: an address with any other character never matches anything (no
  Unicode case folding, no confusables, no IDNA decoding to reason about);
- surrounding spaces are ignored; the local part (before the last ``@``) is compared exactly, as
  RFC 5321 section 2.4 says it is case-sensitive; the domain is lowercased (ASCII), as DNS names are
  case-insensitive. This is also what Django's ``BaseUserManager.normalize_email`` stores.

So ``Ann@Example.COM`` is the same email as ``Ann@example.com``, but not ``ann@example.com``, and
``ceo@gmaıl.com`` is the same as nothing. No Django import: this is a rule, not a query.
"""

from __future__ import annotations

__all__ = ["email_key", "same_email"]


def email_key(address: object) -> str | None:
    """The comparison key of an email address, or ``None`` if it must never match (see the module doc)."""
    if not isinstance(address, str) or not address.isascii():
        return None
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        return None
    return f"{local}@{domain.lower()}"


def same_email(first: object, second: object) -> bool:
    """Whether two addresses are the same email by :func:`email_key` (never true if either has no key)."""
    key = email_key(first)
    return key is not None and key == email_key(second)
