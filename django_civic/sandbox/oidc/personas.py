"""The sandbox's Civic Auth users: the same people as the SIP sandbox's personas, as OIDC claims.

``sub`` is a stable id per person (Civic's user id); ``email_verified`` is false for bob, whose
email the SIP sandbox also marks invalid, so the "unverified email is never linked" rule can be shown.
"""

from __future__ import annotations

import uuid
from typing import Any

_NAMESPACE = uuid.UUID("5c1e4a52-7d1c-4f0e-9d2b-3a6f1b0c9e11")

_PEOPLE = {
    "alice": {"given_name": "Alice", "family_name": "Walker", "email": "alice@example.com",
              "email_verified": True},
    "bob": {"given_name": "Bob", "family_name": "Stone", "email": "bob@example.org", "email_verified": False},
    "carol": {"given_name": "Carol", "family_name": "Danvers", "email": "carol@example.net",
              "email_verified": True},
}

# Which claims each scope releases (OIDC Core 5.4).
SCOPE_CLAIMS = {
    "openid": ("sub",),
    "email": ("email", "email_verified"),
    "profile": ("name", "given_name", "family_name", "picture", "preferred_username", "updated_at"),
}
SUPPORTED_SCOPES = ("openid", "email", "profile", "offline_access")
UPDATED_AT = 1735689600  # fixed, so claims are reproducible


def names() -> list[str]:
    return list(_PEOPLE)


def subject(persona: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, persona))


def claims(persona: str, scopes: list[str] | tuple[str, ...] = ("openid", "email", "profile"),
           ) -> dict[str, Any]:
    """The persona's claims released by ``scopes``; ``KeyError`` for an unknown persona."""
    person = _PEOPLE[persona]
    everything = {
        "sub": subject(persona),
        "email": person["email"],
        "email_verified": person["email_verified"],
        "name": f"{person['given_name']} {person['family_name']}",
        "given_name": person["given_name"],
        "family_name": person["family_name"],
        "picture": f"https://avatars.example.invalid/{persona}.png",
        "preferred_username": persona,
        "updated_at": UPDATED_AT,
    }
    released: dict[str, Any] = {}
    for scope in scopes:
        for claim in SCOPE_CLAIMS.get(scope, ()):
            released[claim] = everything[claim]
    return released


def persona_for_subject(sub: str) -> str | None:
    for name in _PEOPLE:
        if subject(name) == sub:
            return name
    return None


def describe() -> list[dict[str, Any]]:
    return [{"name": name, "sub": subject(name), "title": f"{p['given_name']} {p['family_name']}",
             "email": p["email"], "email_verified": p["email_verified"]} for name, p in _PEOPLE.items()]
