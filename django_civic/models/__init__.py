"""django_civic's models.

Verified identities and attributes (``identity.py``), proofing sessions (``idemia.py``).
"""

from django_civic.models.idemia import ProofingSession
from django_civic.models.identity import CivicIdentity, VerifiedAttribute

__all__ = ["CivicIdentity", "ProofingSession", "VerifiedAttribute"]
