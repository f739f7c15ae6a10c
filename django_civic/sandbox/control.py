"""The sandbox's JSON control API (shared part): index, fault injection, reset.

Each emulated service adds its own control endpoints under ``control/<part>/`` (see ``urls.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from django_civic.sandbox import defaults
from django_civic.sandbox.faults import Fault, faults
from django_civic.sandbox.faults import validate as validate_fault
from django_civic.sandbox.http import BadRequest, base_url, error, json_body

_resets: list[Callable[[], None]] = []


def register_reset(func: Callable[[], None]) -> Callable[[], None]:
    """Register a part's ``reset()``; ``POST control/reset`` calls them all."""
    _resets.append(func)
    return func


def reset_all() -> None:
    faults.clear()
    for func in _resets:
        func()


@require_GET
def index(request: HttpRequest) -> JsonResponse:
    """What this sandbox is and how to use it: base URL and the default credentials."""
    base = base_url(request)
    return JsonResponse({
        "sandbox": "django_civic",
        "base_url": base,
        "sip": {
            "api_url": f"{base}sip/",
            "env": "prod",
            "app_id": defaults.SIP_APP_ID,
            "app_secret": defaults.SIP_APP_SECRET,
            "private_key": defaults.SIP_APP_PRIVATE_KEY,
            "public_key": defaults.SIP_APP_PUBLIC_KEY,
            "civic_public_key": defaults.SIP_CIVIC_PUBLIC_KEY,
            "script_url": f"{base}sip/js/civic.sip.js",
        },
        "oidc": {
            "issuer": f"{base}oauth/",
            "client_id": defaults.OIDC_CLIENT_ID,
            "client_secret": defaults.OIDC_CLIENT_SECRET,
        },
        "hub": {"url": f"{base}hub/mcp", "identity_providers": f"{base}control/oidc/providers"},
        "idemia": {
            "token_url": f"{base}idemia/oauth2/token",
            "rp_handler_url": f"{base}idemia/rp/",
            "gips_url": f"{base}idemia/gips/",
            "client_id": defaults.IDEMIA_CLIENT_ID,
            "client_secret": defaults.IDEMIA_CLIENT_SECRET,
            "api_key": defaults.IDEMIA_API_KEY,
        },
    })


@csrf_exempt
@require_http_methods(["GET", "POST", "DELETE"])
def fault_list(request: HttpRequest) -> JsonResponse:
    """``POST {"channel": "sip.exchange", "kind": "status", "status": 504, "count": 1}`` queues faults."""
    if request.method == "GET":
        return JsonResponse({"pending": faults.pending()})
    if request.method == "DELETE":
        faults.clear(request.GET.get("channel") or None)
        return JsonResponse({"pending": faults.pending()})
    try:
        data = json_body(request)
        channel = data.get("channel")
        if not isinstance(channel, str) or not channel:
            raise BadRequest("channel is required")
        count = data.get("count", 1)
        if not isinstance(count, int) or not 1 <= count <= 1000:
            raise BadRequest("count must be an integer from 1 to 1000")
        fault = Fault.from_json(data)
        validate_fault(channel, fault)
    except BadRequest as exc:
        return error(str(exc), exc.status)
    except ValueError as exc:
        return error(str(exc))
    faults.inject(channel, fault, count)
    return JsonResponse({"pending": faults.pending()}, status=201)


@csrf_exempt
@require_http_methods(["POST"])
def reset(request: HttpRequest) -> JsonResponse:
    reset_all()
    return JsonResponse({"reset": True})


urlpatterns: list[URLPattern | URLResolver] = [
    path("faults", fault_list, name="faults"),
    path("reset", reset, name="reset"),
    path("sip/", include("django_civic.sandbox.sip.control")),
    path("oidc/", include("django_civic.sandbox.oidc.control")),
    path("idemia/", include("django_civic.sandbox.idemia.control")),
]
