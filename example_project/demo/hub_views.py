"""The demo's hub page: every user of the site lists and calls their Civic tools, however they logged in.

``/hub/`` asks Civic's hub (the sandbox's, in the demo) for the signed-in user's tools through Civic's own
client, ``civic_mcp_client`` (:func:`~django_civic.civic_auth.hub.civic_hub_client`), and calls one when a
button is pressed. A user who signed up with a password gets their Civic token by federated exchange of an
identity token the site issues; a Civic Auth user's own token is used as it is. ``/signup/`` and ``/login/``
are plain Django password pages, so the first kind of user exists in the demo.
"""

from __future__ import annotations

import json
from typing import Any

from asgiref.sync import async_to_sync
from django import forms
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from django_civic.civic_auth.client import session_access_token
from django_civic.civic_auth.hub import civic_hub_client
from django_civic.protocols.civic_auth import OIDCError


class ToolCall(forms.Form):
    name = forms.CharField(max_length=100)
    text = forms.CharField(max_length=2000, required=False)


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form: UserCreationForm = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.save(), backend="django.contrib.auth.backends.ModelBackend")
        return redirect("hub")
    return render(request, "demo/signup.html", {"form": form}, status=400 if form.errors else 200)


async def _use_hub(user: Any, request: HttpRequest, call: dict[str, Any] | None) -> dict[str, Any]:
    client = civic_hub_client(user, request=request)
    try:
        tools = (await client.get_tools()).get("tools", [])
        result = await client.call_tool(name=call["name"], args=call["args"]) if call else None
    finally:
        await client.close()
    shown = None
    if result is not None:
        structured = result.get("structuredContent")
        shown = json.dumps(structured, indent=2) if structured is not None else "".join(
            part.get("text", "") for part in result.get("content", []) if isinstance(part, dict))
    return {"tools": tools, "result": shown}


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def hub(request: HttpRequest) -> HttpResponse:
    call, status = None, 200
    if request.method == "POST":
        form = ToolCall(request.POST)
        if not form.is_valid():
            return render(request, "demo/hub.html", {"error": _("Choose a tool to call.")}, status=400)
        args = {"text": form.cleaned_data["text"]} if form.cleaned_data["name"] == "echo" else {}
        call = {"name": form.cleaned_data["name"], "args": args}
    try:
        has_civic_login = bool(session_access_token(request))
    except OIDCError:
        has_civic_login = False
    context: dict[str, Any] = {"via": "civic_auth" if has_civic_login else "exchange"}
    try:
        context.update(async_to_sync(_use_hub)(request.user, request, call))
    except ImproperlyConfigured:
        context["error"] = _("This site issues no identity tokens yet (manage.py civic_idp_keys create).")
        status = 503
    except OIDCError:
        context["error"] = _("Civic refused to give you an access token, or could not be reached.")
        status = 502
    except Exception as exc:
        context["error"] = _("Civic's hub refused the request.")
        status = 400 if isinstance(exc, RuntimeError) else 502
    return render(request, "demo/hub.html", context, status=status)
