"""Admin for identities, verified attributes and proofing sessions."""

from . import identity, proofing  # noqa: F401  (importing registers the ModelAdmins)
