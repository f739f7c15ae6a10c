"""Authentication backends.

``django_civic.backends.CivicSIPBackend`` and ``django_civic.backends.CivicAuthBackend``.
"""

from django_civic.civic_auth.backend import CivicAuthBackend
from django_civic.sip.backend import CivicSIPBackend

__all__ = ["CivicAuthBackend", "CivicSIPBackend"]
