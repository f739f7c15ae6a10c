"""What every django_civic API view shares: JSON in, JSON out, one error shape, bounded bodies.

Views subclass :class:`CivicAPIView` instead of DRF's ``APIView``. It does not depend on the project's
``REST_FRAMEWORK`` settings for anything that affects correctness or safety: renderers, parsers, content
negotiation and the exception handler are fixed here, so a site's global DRF choices (the browsable API,
form parsers, a custom exception handler) cannot turn our 4xx JSON errors into HTML pages or 500s.

Who may call a view is fixed the same way: DRF's defaults (``SessionAuthentication`` and
``BasicAuthentication``, ``AllowAny``, the project's throttles) are never inherited. HTTP Basic on our
endpoints would be an unthrottled password oracle. Each view names its authentication, permission and
throttle classes; one that names none admits nobody.
"""

from __future__ import annotations

import json
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from django_civic.api.errors import PayloadTooLarge, exception_handler
from django_civic.api.openapi import view_schema
from django_civic.core.debug import always_active_filter

#: Largest JSON body our endpoints read. A SIP auth code is about 1 KB; everything else is smaller.
MAX_BODY_BYTES = 64 * 1024


class UnsupportedCharset(UnsupportedMediaType):
    default_detail = _("Send the JSON body in UTF-8 (charset=utf-8, or no charset at all).")
    default_code = "unsupported_charset"

    def __init__(self) -> None:
        super().__init__(media_type="application/json")


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with a size cap and without the ways bad JSON turns into a 500.

    JSON is UTF-8 (RFC 8259 8.1), so the body is decoded as UTF-8 and nothing else: never with the
    request's ``charset``, which Django and DRF would hand to ``codecs`` as it stands, so that
    ``charset=bz2_codec`` or ``zlib_codec`` made the cap below apply to compressed bytes and the
    decoding inflate them to gigabytes. A charset other than UTF-8 is refused (415); without one, UTF-8
    is read whatever the site's ``DEFAULT_CHARSET``. UTF-8 text never has more characters than bytes,
    so the cap on the bytes read also bounds what is parsed.
    """

    max_bytes = MAX_BODY_BYTES

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        request = (parser_context or {}).get("request")
        charset = getattr(getattr(request, "_request", request), "content_params", {}).get("charset")
        if charset is not None and not is_utf8(charset):
            raise UnsupportedCharset()
        # Read one byte more than allowed, whatever Content-Length claims (it may be absent or lie).
        raw = stream.read(self.max_bytes + 1) if stream is not None else b""
        if len(raw) > self.max_bytes:
            raise PayloadTooLarge()
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            # ValueError covers bad JSON, bad UTF-8 and NaN/Infinity; RecursionError deeply nested arrays.
            raise ParseError() from None


def is_utf8(charset: str) -> bool:
    """Whether a ``charset`` parameter (Django has unquoted it) names UTF-8 (``utf-8``, ``UTF8``).

    Compared as text rather than through ``codecs.lookup``, which would import whatever codec module
    the name points at just to say no.
    """
    return charset.strip().lower() in ("utf-8", "utf8")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class JSONOnlyNegotiation(BaseContentNegotiation):
    """Always answer JSON, whatever ``Accept`` says (a browser's ``text/html`` must not become a 406)."""

    def select_parser(self, request: Any, parsers: Any) -> Any:
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        for parser in parsers:
            if parser.media_type == content_type:
                return parser
        return None

    def select_renderer(self, request: Any, renderers: Any, format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


class CivicAPIView(APIView):
    """Base class of django_civic's API views."""

    renderer_classes = [JSONRenderer]
    parser_classes = [BoundedJSONParser]
    content_negotiation_class = JSONOnlyNegotiation
    # Not REST_FRAMEWORK's defaults (see the module docstring): no authenticator and IsAuthenticated
    # refuse everyone until a subclass says who may come in.
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = [IsAuthenticated]
    throttle_classes: list[Any] = []
    # drf-spectacular's AutoSchema when installed, whatever the site's DEFAULT_SCHEMA_CLASS (api.openapi).
    schema = view_schema()

    def initialize_request(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # Our views handle codes, tokens and personal values: Django's error page and reports hide what
        # is marked sensitive even with DEBUG on (django_civic.core.debug).
        request.exception_reporter_filter = always_active_filter()
        return super().initialize_request(request, *args, **kwargs)

    def get_exception_handler(self) -> Any:
        return exception_handler

    def check_body_size(self) -> None:
        """Refuse a declared-too-large body before anything reads it."""
        try:
            declared = int(self.request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > MAX_BODY_BYTES:
            raise PayloadTooLarge()
