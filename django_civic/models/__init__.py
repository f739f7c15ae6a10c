"""django_civic's models: verified identities and attributes (``identity.py``), proofing sessions
(``idemia.py``), the site's signing keys (``idp.py``)."""

from django_civic.models.idemia import ProofingSession
from django_civic.models.identity import CivicIdentity, VerifiedAttribute
from django_civic.models.idp import SiteSigningKey

__all__ = ["CivicIdentity", "ProofingSession", "SiteSigningKey", "VerifiedAttribute"]
