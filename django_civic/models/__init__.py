"""django_civic's models: verified identities and attributes (``identity.py``), proofing sessions (``proofing.py``)."""

from .identity import CivicIdentity, VerifiedAttribute
from .proofing import ProofingSession

__all__ = ["CivicIdentity", "ProofingSession", "VerifiedAttribute"]
