"""django_civic's models: verified identities and attributes, and identity-proofing sessions."""

from .identity import CivicIdentity, VerifiedAttribute

__all__ = ["CivicIdentity", "VerifiedAttribute"]
