"""The path the README documented before Civic Auth had its own folder; the class lives in
:mod:`django_civic.civic_auth.authentication`."""

from django_civic.civic_auth.authentication import CivicAccessTokenAuthentication

__all__ = ["CivicAccessTokenAuthentication"]
