"""OpenAPI annotations of the API views, with or without drf-spectacular (the ``openapi`` extra).

With drf-spectacular installed, ``extend_schema`` and ``extend_schema_field`` are its decorators, and
:func:`view_schema` gives every :class:`~django_civic.api.base.CivicAPIView` its ``AutoSchema``, so our schema
does not depend on the site's ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``. Without it the decorators leave
what they decorate unchanged: the annotations cost nothing and the package does not need the library.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework.schemas import DefaultSchema

from django_civic.api.errors import ErrorSerializer

try:
    from drf_spectacular.openapi import AutoSchema
    from drf_spectacular.utils import extend_schema, extend_schema_field
except ImportError:  # the openapi extra is not installed
    AutoSchema = None

    def extend_schema(*args: Any, **kwargs: Any) -> Callable[[Any], Any]:  # type: ignore[no-redef]
        return lambda target: target

    extend_schema_field = extend_schema  # type: ignore[assignment]

__all__ = ["error_responses", "extend_schema", "extend_schema_field", "view_schema"]


def view_schema() -> Any:
    """The ``schema`` of our views: drf-spectacular's ``AutoSchema`` when installed, else DRF's default."""
    return AutoSchema() if AutoSchema is not None else DefaultSchema()


def error_responses(*statuses: int) -> dict[int, Any]:
    """``{status: ErrorSerializer}`` for each status a view can answer with ``{"error", "detail"}``."""
    return dict.fromkeys(statuses, ErrorSerializer)
