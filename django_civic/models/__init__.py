"""django_civic's models: verified identities and attributes (``identity.py``), proofing sessions (``proofing.py``)."""

from .identity import CivicIdentity, VerifiedAttribute

__all__ = ["CivicIdentity", "VerifiedAttribute"]
