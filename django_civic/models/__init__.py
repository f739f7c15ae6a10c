"""django_civic's models: verified identities and attributes (``identity.py``), proofing sessions (``proofing.py``)."""

from django_civic.models.idemia import ProofingSession
from django_civic.models.identity import CivicIdentity, VerifiedAttribute

__all__ = ["CivicIdentity", "ProofingSession", "VerifiedAttribute"]
