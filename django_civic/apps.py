from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DjangoCivicConfig(AppConfig):
    name = "django_civic"
    verbose_name = _("Civic identity")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Importing these registers each part's system checks, and the receiver that deletes a deleted
        # proofing session's proof archive.
        from django_civic.api.openapi import INSTALLED as OPENAPI_INSTALLED
        from django_civic.civic_auth import checks as civic_auth_checks  # noqa: F401
        from django_civic.core import checks as core_checks  # noqa: F401
        from django_civic.idemia import checks as idemia_checks  # noqa: F401
        from django_civic.idemia import maintenance  # noqa: F401
        from django_civic.sip import checks as sip_checks  # noqa: F401

        if OPENAPI_INSTALLED:  # the openapi extra: the Civic bearer scheme in schemas
            from django_civic.civic_auth import schema  # noqa: F401
