"""The sandbox's fixed, documented credentials (defined in :mod:`django_civic.core.sandbox_credentials`,
which the site's clients use in sandbox mode)."""

from django_civic.core.sandbox_credentials import *  # noqa: F403
