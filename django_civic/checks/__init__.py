"""System checks with stable ids: ``django_civic.E001``... (see the README's checks table)."""

from . import civic_auth, core, proofing  # noqa: F401  (importing registers the checks)
