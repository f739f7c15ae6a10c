"""The browser side of the SIP sandbox: a stand-in for ``civic.sip.js`` and the wallet in its modal.

``{base}sip/js/civic.sip.js`` exposes the same global ``civic.sip`` as Civic's script (A8). Its modal
frames ``{base}sip/wallet/``, where a person picks a persona and approves or denies; the wallet asks
this module to mint the auth code and posts it to the page the way Civic's iframe did.

The assets are plain files under ``templates/civic_sandbox/sip/`` read without a template engine,
so they work in the stand-alone sandbox (no TEMPLATES setting) and in any project. Scripts and styles
are external files, so a site's Content-Security-Policy needs only to allow the sandbox's origin.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from django_civic.sandbox.http import BadRequest, base_url, error, json_body
from django_civic.sandbox.sip import personas
from django_civic.sandbox.sip.control import mint
from django_civic.sandbox.sip.state import state

ASSETS = Path(__file__).resolve().parent.parent / "templates" / "civic_sandbox" / "sip"
BASE_PLACEHOLDER = "__CIVIC_SANDBOX_BASE_URL__"


@cache
def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def _asset_response(name: str, content_type: str, text: str | None = None) -> HttpResponse:
    response = HttpResponse(text if text is not None else _asset(name), content_type=content_type)
    # The script embeds the base URL of the request, which differs per host: never share cached copies.
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def civic_sip_js(request: HttpRequest) -> HttpResponse:
    # json.dumps escapes quotes, backslashes and U+2028/2029, so the URL is one safe JS string literal.
    base = json.dumps(base_url(request)).replace("<", "\\u003c")
    text = _asset("civic.sip.js").replace(BASE_PLACEHOLDER, base)
    return _asset_response("civic.sip.js", "text/javascript; charset=utf-8", text)


@require_GET
def civic_modal_css(request: HttpRequest) -> HttpResponse:
    return _asset_response("civic-modal.css", "text/css; charset=utf-8")


@require_GET
def civic_mark(request: HttpRequest) -> HttpResponse:
    return _asset_response("civic-mark.svg", "image/svg+xml")


@xframe_options_exempt  # it lives in an iframe on the partner's page, as Civic's hosted page did
@require_GET
def wallet(request: HttpRequest) -> HttpResponse:
    return _asset_response("wallet.html", "text/html; charset=utf-8")


@require_GET
def wallet_js(request: HttpRequest) -> HttpResponse:
    return _asset_response("wallet.js", "text/javascript; charset=utf-8")


@require_GET
def wallet_css(request: HttpRequest) -> HttpResponse:
    return _asset_response("wallet.css", "text/css; charset=utf-8")


def _request(data: dict[str, Any]) -> tuple[Any, personas.Scope]:
    """The app and scope of a wallet request (the options civic.sip.js sent to the frame)."""
    app_id = data.get("appId")
    app = state.get_app(app_id) if isinstance(app_id, str) else None
    if app is None:
        raise BadRequest("This app is not registered with the sandbox (check appId).", 404)
    return app, personas.scope_from_options(data.get("verificationLevel"), data.get("attributes"))


@csrf_exempt
@require_POST
def wallet_preview(request: HttpRequest) -> JsonResponse:
    """What the wallet shows: the requesting app, the requested labels, and who can approve."""
    try:
        app, scope = _request(json_body(request))
    except BadRequest as exc:
        return error(str(exc), exc.status)
    except personas.ScopeError as exc:
        return error(str(exc))
    return JsonResponse({
        "app": {"appId": app.app_id, "name": app.name},
        "scope": {"name": scope.name, "description": scope.description, "labels": list(scope.labels)},
        "personas": [personas.describe(persona, scope) for persona in personas.PERSONAS.values()],
    })


@csrf_exempt
@require_POST
def wallet_approve(request: HttpRequest) -> JsonResponse:
    """The person approved: mint the auth code the wallet hands to the page (never the user data)."""
    try:
        data = json_body(request)
        app, scope = _request(data)
        persona = personas.get_persona(data.get("persona"))
        attributes = persona.release(scope)
    except BadRequest as exc:
        return error(str(exc), exc.status)
    except (personas.ScopeError, personas.PersonaError) as exc:
        return error(str(exc))
    token = mint(base_url(request), app_id=app.app_id, user_id=personas.user_id(app.app_id, persona.name),
                 attributes=attributes, scope=scope.name)
    return JsonResponse({"authToken": token})
