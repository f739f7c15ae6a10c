"""One catalogue of human names: every attribute label Civic SIP, Civic Auth and IDEMIA send, and providers.

The profile page, the admin, the ``me/`` API (``label_display``, ``provider_display``) and the templates
(``{{ label|civic_label }}``) all read it, so a label is named the same everywhere and translated once.
A label missing from the catalogue (a scope Civic adds later) is still shown readably: its last part,
split at capitals (``documents.genericId.placeOfBirth`` -> "Place of birth").
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

# The provider of an identity (CivicIdentity.provider): these two, or a Civic Auth issuer URL, whose kind
# is CIVIC_AUTH (provider_kind).
CIVIC_SIP = "civic_sip"
IDEMIA = "idemia"
CIVIC_AUTH = "civic_auth"

ATTRIBUTE_LABELS: dict[str, Any] = {
    # Civic SIP (civic-protocols.md A5): BASIC_SIGNUP and PROOF_OF_IDENTITY.
    "contact.personal.email": _("Email"),
    "contact.personal.phoneNumber": _("Phone number"),
    "verifications.levels.CIVIC:IAL1": _("Civic verification level"),
    "documents.genericId.type": _("ID document type"),
    "documents.genericId.number": _("ID document number"),
    "documents.genericId.name": _("Name on the ID document"),
    "documents.genericId.dateOfBirth": _("Date of birth"),
    "documents.genericId.dateOfIssue": _("Date of issue"),
    "documents.genericId.dateOfExpiry": _("Date of expiry"),
    "documents.genericId.country": _("Issuing country"),
    "documents.genericId.image": _("ID document image"),
    "documents.genericId.image_md5": _("ID document image checksum"),
    # Civic Auth (OIDC Core 5.1 standard claims, as recorded by civic_auth/backend.py).
    "oidc.email": _("Email"),
    "oidc.phone_number": _("Phone number"),
    "oidc.name": _("Full name"),
    "oidc.given_name": _("Given name"),
    "oidc.family_name": _("Family name"),
    "oidc.middle_name": _("Middle name"),
    "oidc.nickname": _("Nickname"),
    "oidc.preferred_username": _("Preferred username"),
    "oidc.profile": _("Profile page"),
    "oidc.picture": _("Picture"),
    "oidc.website": _("Website"),
    "oidc.gender": _("Gender"),
    "oidc.birthdate": _("Date of birth"),
    "oidc.zoneinfo": _("Time zone"),
    "oidc.locale": _("Locale"),
    "oidc.updated_at": _("Profile updated"),
    # IDEMIA identity proofing (idemia-ipa.md, the GIPS identity's document and portrait).
    "idemia.givenName": _("Given names"),
    "idemia.givenNames": _("Given names"),
    "idemia.surname": _("Surname"),
    "idemia.dateOfBirth": _("Date of birth"),
    "idemia.gender": _("Gender"),
    "idemia.documentType": _("ID document type"),
    "idemia.documentNumber": _("ID document number"),
    "idemia.issuingCountry": _("Issuing country"),
    "idemia.issuingDate": _("Date of issue"),
    "idemia.expiryDate": _("Date of expiry"),
    "idemia.levelOfAssurance": _("Level of assurance"),
    "idemia.portrait": _("Portrait"),
}

#: Civic Auth's provider is its issuer URL (``https://auth.civic.com/oauth/``): every URL is Civic Auth.
CIVIC_AUTH_NAME = _("Civic Auth")
#: By provider, and by kind (``provider_kind``) for Civic Auth.
PROVIDER_NAMES: dict[str, Any] = {
    CIVIC_SIP: _("Civic SIP"),
    IDEMIA: _("IDEMIA"),
    CIVIC_AUTH: CIVIC_AUTH_NAME,
}

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def attribute_label(label: str) -> str:
    """The human, translated name of an attribute label."""
    known = ATTRIBUTE_LABELS.get(label)
    if known is not None:
        return str(known)
    last = label.rsplit(".", 1)[-1]
    words = _WORDS.findall(last)
    if not words:
        return label
    return capfirst(" ".join(word if word.isupper() else word.lower() for word in words))


def provider_name(provider: str) -> str:
    """``Civic SIP``, ``Civic Auth`` or ``IDEMIA``: never an issuer URL."""
    known = PROVIDER_NAMES.get(provider)
    if known is not None:
        return str(known)
    if provider.startswith(("https://", "http://")):
        return str(CIVIC_AUTH_NAME)
    return provider


def provider_kind(provider: str) -> str:
    """``civic_sip``, ``civic_auth`` or ``idemia``: the system an identity's provider belongs to."""
    if provider.startswith(("https://", "http://")):
        return CIVIC_AUTH
    return provider
