"""``GET civic/api/schema/``: the OpenAPI 3 schema of django_civic's JSON API, made by drf-spectacular.

Mounted by ``django_civic.urls`` only when drf-spectacular is installed
(``pip install 'django-civic[openapi]'``).
The schema covers our API views only (every :class:`~django_civic.api.base.CivicAPIView` wherever the site
mounted it), not the site's own, so it reads the same on every site; the paths are the site's real ones. It
is public like the endpoints it describes: no authentication class, so none of the site's DRF defaults
(HTTP Basic among them) is reachable through it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

import django_civic
from django_civic.api.base import CivicAPIView
from django_civic.api.errors import exception_handler


def civic_endpoints_only(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """drf-spectacular preprocessing hook: keep the endpoints served by our views."""
    return [endpoint for endpoint in endpoints
            if issubclass(getattr(endpoint[3], "cls", object), CivicAPIView)]


SETTINGS = {
    "TITLE": "django_civic API",
    "DESCRIPTION": "Log in with Civic (SIP and Civic Auth) and read or unlink your verified identities. "
                   "Every failure is a JSON {\"error\": <code>, \"detail\": <message>} with its HTTP status.",
    "VERSION": django_civic.__version__,
    "PREPROCESSING_HOOKS": [f"{__name__}.civic_endpoints_only"],
    "COMPONENT_SPLIT_REQUEST": True,
    # What Django's <int:...> converter matches ([0-9]+): -1 is no id of ours but a path we do not serve.
    "PATH_CONVERTER_OVERRIDES": {"int": {"type": "integer", "minimum": 0}},
}


class CivicSchemaView(SpectacularAPIView):
    # Fixed here, not SPECTACULAR_SETTINGS' SERVE_* or REST_FRAMEWORK's defaults (api.base explains why).
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []
    # JSON unless YAML is asked for, like the API it describes.
    renderer_classes = [OpenApiJsonRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer, OpenApiYamlRenderer2]
    custom_settings = SETTINGS

    def get_exception_handler(self) -> Any:
        return exception_handler
