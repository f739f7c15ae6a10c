"""The sandbox's SIP users (personas) and what each scope request releases (civic-protocols.md A4, A8).

A persona is a Civic wallet holder with verified attributes. A scope request names the labels it wants;
approving it releases the persona's attributes for those labels, in the scope's order, exactly as the
decrypted payload of a real exchange lists them (``[{label, value, isValid, isOwner}, ...]``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

EMAIL = "contact.personal.email"
PHONE = "contact.personal.phoneNumber"
IAL1 = "verifications.levels.CIVIC:IAL1"
_ID = "documents.genericId."

# A 16x16 greyscale baseline JPEG of an ID card (433 bytes), generated offline for the sandbox and
# checked to decode in Chromium. Base64 as Civic sends ``documents.genericId.image``.
ID_IMAGE = (
    "/9j/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/"
    "wAALCAAQABABAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQR"
    "BRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZn"
    "aGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo"
    "6erx8vP09fb3+Pn6/9oACAEBAAA/ALP23QtF0fRIpvC2m3ks+mQTvM8SBiWXnOUOTxnPvW/4k0TR4PDmrtD4Wto3jtJik6W0"
    "A2kIcMCDuHr0zWVbW3hLV9D0WTUPEFvBcQ6dBA0a3sS7cLyCDkg5Jq54k1DQp9D1dodW8OySyW0xRUVDKxKnABEnLe+Ovav/"
    "2Q=="
)
# md5 of the image bytes (not of the Base64 text), lowercase hex like Civic's sample.
ID_IMAGE_MD5 = hashlib.md5(base64.b64decode(ID_IMAGE)).hexdigest()


class ScopeError(ValueError):
    """A scope request the sandbox does not know or does not emulate."""


class PersonaError(ValueError):
    """An unknown persona, or one that cannot satisfy the scope request."""


@dataclass(frozen=True)
class Scope:
    """A scope request: its ``ScopeRequests`` name, its wire value, and the labels it releases."""

    name: str
    wire: str
    labels: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class Persona:
    name: str
    title: str
    description: str
    attributes: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    def labels(self) -> set[str]:
        return {item["label"] for item in self.attributes}

    def missing(self, scope: Scope) -> list[str]:
        have = self.labels()
        return [label for label in scope.labels if label not in have]

    def release(self, scope: Scope) -> list[dict[str, Any]]:
        """The attributes this persona hands over for ``scope``, in the scope's order."""
        missing = self.missing(scope)
        if missing:
            raise PersonaError(f"persona {self.name!r} has no verified {', '.join(missing)}")
        by_label = {item["label"]: item for item in self.attributes}
        return [dict(by_label[label]) for label in scope.labels]


def _attr(label: str, value: str, *, valid: bool = True, owner: bool = True) -> dict[str, Any]:
    # Key order is the wire order Civic uses: label, value, isValid, isOwner.
    return {"label": label, "value": value, "isValid": valid, "isOwner": owner}


BASIC_LABELS = (EMAIL, PHONE)
PROOF_OF_IDENTITY_LABELS = (
    IAL1,
    _ID + "type", _ID + "number", _ID + "name", _ID + "dateOfBirth", _ID + "dateOfIssue",
    _ID + "dateOfExpiry", _ID + "image", _ID + "image_md5", _ID + "country",
    EMAIL,
)

PERSONAS: dict[str, Persona] = {
    persona.name: persona
    for persona in (
        Persona("alice", "Alice Walker", "Verified email and phone.", (
            _attr(EMAIL, "alice@example.com"),
            _attr(PHONE, "+1 5556187380"),
        )),
        Persona("bob", "Bob Stone", "Email and phone; the email is no longer valid (isValid: false).", (
            _attr(EMAIL, "bob@example.org", valid=False),
            _attr(PHONE, "+44 7700900123"),
        )),
        Persona("anon", "Anonymous", "No attributes: anonymous login only (user id).", ()),
        Persona("carol", "Carol Danvers", "Verified email and phone, and a passport (proof of identity).", (
            _attr(IAL1, "CIVIC:IAL1"),
            _attr(_ID + "type", "Passport"),
            _attr(_ID + "number", "P12345678"),
            _attr(_ID + "name", "Carol Susan Danvers"),
            _attr(_ID + "dateOfBirth", "1984-11-23"),
            _attr(_ID + "dateOfIssue", "2019-10-11"),
            _attr(_ID + "dateOfExpiry", "2029-10-10"),
            _attr(_ID + "image", ID_IMAGE),
            _attr(_ID + "image_md5", ID_IMAGE_MD5),
            _attr(_ID + "country", "GBR"),
            _attr(EMAIL, "carol@example.net"),
            _attr(PHONE, "+1 5550104477"),
        )),
    )
}

_BASIC = Scope("BASIC_SIGNUP", "civicBasic", BASIC_LABELS, "Email address and phone number")
SCOPES: dict[str, Scope] = {
    "BASIC_SIGNUP": _BASIC,
    "CIVIC_BASIC": _BASIC,
    "ANONYMOUS_LOGIN": Scope("ANONYMOUS_LOGIN", "Anonymous_Login", (), "Nothing but an anonymous user id"),
    "PROOF_OF_IDENTITY": Scope("PROOF_OF_IDENTITY", "proofOfIdentity", PROOF_OF_IDENTITY_LABELS,
                               "Identity document, its image, and email address"),
}
_BY_WIRE = {scope.wire: scope for scope in SCOPES.values()}

# ScopeRequests that civic.sip.js knows but whose released data no public source shows; the sandbox
# refuses them rather than invent an answer.
NOT_EMULATED = {
    "BASIC_LOGIN": "Login", "LEGAL": "Legal", "ID_VERIFICATION": "id_verification", "PASSPORT": "passport",
    "DRIVER_LICENSE": "driversLicense", "PROOF_OF_RESIDENCE": "proofOfResidence",
    "PROOF_OF_AGE": "proofOfAge",
}


def resolve_scope(value: Any) -> Scope:
    """A scope from its ``ScopeRequests`` name (``BASIC_SIGNUP``) or wire value (``civicBasic``)."""
    if isinstance(value, str):
        scope = SCOPES.get(value) or _BY_WIRE.get(value)
        if scope is not None:
            return scope
        if value in NOT_EMULATED or value in NOT_EMULATED.values():
            raise ScopeError(f"the sandbox does not emulate the scope request {value!r}")
    supported = ", ".join(sorted(SCOPES))
    raise ScopeError(f"unknown scope request; the sandbox supports {supported}")


def scope_for_attributes(labels: Any) -> Scope:
    """The scope ``civic.sip.js`` sends as an explicit ``attributes`` list (``civicBasic`` does this)."""
    if (not isinstance(labels, list) or not labels or len(labels) > 50
            or not all(isinstance(label, str) and 0 < len(label) <= 200 for label in labels)):
        raise ScopeError("attributes must be a list of 1 to 50 labels")
    if tuple(labels) == BASIC_LABELS:
        return _BASIC
    return Scope("ATTRIBUTES", "", tuple(dict.fromkeys(labels)), "The listed attributes")


def scope_from_options(verification_level: Any, attributes: Any) -> Scope:
    """The scope of a browser request (``{verificationLevel}`` or ``{attributes}``, as civic.sip.js sends)."""
    if attributes is not None:
        return scope_for_attributes(attributes)
    return resolve_scope(verification_level)


def get_persona(name: Any) -> Persona:
    persona = PERSONAS.get(name) if isinstance(name, str) else None
    if persona is None:
        raise PersonaError(f"unknown persona; the sandbox has {', '.join(PERSONAS)}")
    return persona


def user_id(app_id: str, persona: str) -> str:
    """Civic's ``userId``: 64 lowercase hex, stable for one person and one app, different across apps."""
    return hashlib.sha256(f"django-civic-sandbox|{app_id}|{persona}".encode()).hexdigest()


def normalise_data(items: Any) -> list[dict[str, Any]]:
    """Custom attributes given through the control API, in Civic's wire shape."""
    if not isinstance(items, list) or len(items) > 200:
        raise PersonaError("data must be a list of at most 200 attributes")
    result = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("label"), str) or not item["label"]:
            raise PersonaError("each attribute needs a non-empty string label")
        value = item.get("value", "")
        valid, owner = item.get("isValid", True), item.get("isOwner", True)
        if not isinstance(value, str) or not isinstance(valid, bool) or not isinstance(owner, bool):
            raise PersonaError("value must be a string, isValid and isOwner booleans")
        result.append(_attr(item["label"], value, valid=valid, owner=owner))
    return result


def describe(persona: Persona, scope: Scope | None = None) -> dict[str, Any]:
    """A persona as the wallet and the control API show it (labels, never values)."""
    info: dict[str, Any] = {"name": persona.name, "title": persona.title, "description": persona.description,
                            "labels": [item["label"] for item in persona.attributes]}
    if scope is not None:
        missing = persona.missing(scope)
        info["eligible"] = not missing
        info["missing"] = missing
    return info


def all_scopes() -> Iterable[Scope]:
    return dict.fromkeys(SCOPES.values()).keys()
