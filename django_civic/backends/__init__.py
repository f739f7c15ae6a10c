"""Authentication backends: ``django_civic.backends.CivicSIPBackend`` and ``django_civic.backends.CivicAuthBackend``."""

from .civic_auth import CivicAuthBackend
from .sip import CivicSIPBackend

__all__ = ["CivicAuthBackend", "CivicSIPBackend"]
