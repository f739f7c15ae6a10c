"""Admin for identities and verified attributes (``identity.py``) and IDEMIA's proofing sessions."""

from django_civic.admin import identity  # noqa: F401  (importing registers the ModelAdmins)
from django_civic.idemia import admin as idemia_admin  # noqa: F401
