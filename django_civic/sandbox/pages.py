"""HTML pages of the sandbox, rendered by a template engine of its own.

The sandbox must look the same in any host project, or in none when it runs standalone, so it does not
depend on the project's TEMPLATES setting. Templates live in ``templates/civic_sandbox/<part>/``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from django.http import HttpResponse
from django.template import Context, Engine

TEMPLATES = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=1)
def _engine() -> Engine:
    return Engine(dirs=[str(TEMPLATES)], autoescape=True)


def render_page(name: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    """Render ``civic_sandbox/<name>`` (e.g. ``oidc/authorize.html``); never cached by the browser."""
    html = _engine().get_template(f"civic_sandbox/{name}").render(Context(context))
    response = HttpResponse(html, status=status, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response
