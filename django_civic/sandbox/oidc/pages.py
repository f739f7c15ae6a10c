"""HTML pages of the sandbox provider (persona chooser, messages)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from django_civic.sandbox.pages import render_page


def render(name: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render_page(f"oidc/{name}", context, status)
    response["X-Frame-Options"] = "DENY"
    return response
