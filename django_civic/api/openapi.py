"""OpenAPI annotations of the API views, with or without drf-spectacular (the ``openapi`` extra).

With drf-spectacular installed, :func:`extend_schema` and :func:`extend_schema_field` are its decorators, and
:func:`view_schema` gives every :class:`~django_civic.api.base.CivicAPIView` its ``AutoSchema``, so our schema
does not depend on the site's ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``. Without it the decorators leave
what they decorate unchanged: the annotations cost nothing and the package does not need the library.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.util import find_spec
from typing import Any, TypeVar

from rest_framework.schemas import DefaultSchema

from django_civic.api.errors import ErrorSerializer

__all__ = ["INSTALLED", "error_responses", "extend_schema", "extend_schema_field", "view_schema"]

T = TypeVar("T")
INSTALLED = find_spec("drf_spectacular") is not None


def _unchanged(target: T) -> T:
    return target


def extend_schema(**kwargs: Any) -> Callable[[Any], Any]:
    """drf-spectacular's ``extend_schema(**kwargs)``, or a decorator that changes nothing."""
    if not INSTALLED:
        return _unchanged
    from drf_spectacular.utils import extend_schema as spectacular

    return spectacular(**kwargs)


def extend_schema_field(field: Any) -> Callable[[Any], Any]:
    """drf-spectacular's ``extend_schema_field(field)``, or a decorator that changes nothing."""
    if not INSTALLED:
        return _unchanged
    from drf_spectacular.utils import extend_schema_field as spectacular

    return spectacular(field)


def view_schema() -> Any:
    """The ``schema`` of our views: drf-spectacular's ``AutoSchema`` when installed, else DRF's default."""
    if not INSTALLED:
        return DefaultSchema()
    from drf_spectacular.openapi import AutoSchema

    return AutoSchema()


def error_responses(*statuses: int) -> dict[int, Any]:
    """``{status: ErrorSerializer}`` for each status a view can answer with ``{"error", "detail"}``."""
    return dict.fromkeys(statuses, ErrorSerializer)
