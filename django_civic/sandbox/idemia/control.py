"""Control API of the IDEMIA sandbox, under ``{base}control/idemia/``.

  GET  sessions                       the IPA sessions, newest first
  GET  sessions/<id>                  one session: state, outcome, identity id, callback deliveries
  POST sessions/<id>/complete         {"outcome": "VERIFIED", "persona": "alice", "loa": "LOA3",
                                       "wait": false}
  GET  identities/<id>                a GIPS identity: identity and proof fetch counts, closed or not
  GET  state                          configuration and counters (tokens issued, sessions created)
  POST config                         {"token_ttl": s, "session_ttl": s, "retry_delay": s,
                                       "callback_timeout": s}
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from django_civic.sandbox.control import register_reset
from django_civic.sandbox.http import BadRequest, base_url, error, json_body
from django_civic.sandbox.idemia.journey import JourneyError, complete_session
from django_civic.sandbox.idemia.personas import DEFAULT_PERSONA
from django_civic.sandbox.idemia.state import DEFAULT_CONFIG, store

register_reset(store.reset)


@require_GET
def session_list(request: HttpRequest) -> JsonResponse:
    with store.lock:
        sessions = sorted(store.sessions.values(), key=lambda s: s.created, reverse=True)
        return JsonResponse({"sessions": [s.as_json() for s in sessions]})


@require_GET
def session_detail(request: HttpRequest, session_id: str) -> JsonResponse:
    with store.lock:
        session = store.sessions.get(session_id)
        if session is None:
            return error("unknown session", 404)
        return JsonResponse(session.as_json())


@csrf_exempt
@require_POST
def session_complete(request: HttpRequest, session_id: str) -> JsonResponse:
    """Finish a session as if the user had gone through the journey, then send the callback."""
    with store.lock:
        session = store.sessions.get(session_id)
    if session is None:
        return error("unknown session", 404)
    try:
        data = json_body(request)
        outcome, persona = data.get("outcome"), data.get("persona", DEFAULT_PERSONA)
        loa, wait = data.get("loa"), data.get("wait", False)
        if loa is not None and (not isinstance(loa, str) or not loa.startswith("LOA") or len(loa) > 8):
            raise BadRequest("loa must look like LOA0..LOA6")
        if not isinstance(wait, bool):
            raise BadRequest("wait must be a boolean")
        if not isinstance(outcome, str) or not isinstance(persona, str):
            raise BadRequest("outcome and persona must be strings")
        complete_session(session, outcome, persona, base_url(request), loa=loa, wait=wait)
    except BadRequest as exc:
        return error(str(exc), exc.status)
    except JourneyError as exc:
        return error(str(exc), exc.status)
    with store.lock:
        return JsonResponse(session.as_json())


@require_GET
def identity_detail(request: HttpRequest, identity_id: str) -> JsonResponse:
    with store.lock:
        identity = store.identities.get(identity_id)
        if identity is None:
            return error("unknown identity", 404)
        return JsonResponse(identity.as_json())


@require_GET
def state(request: HttpRequest) -> JsonResponse:
    return JsonResponse(store.as_json())


@csrf_exempt
@require_POST
def config(request: HttpRequest) -> JsonResponse:
    try:
        data = json_body(request)
        for key, value in data.items():
            if key not in DEFAULT_CONFIG:
                raise BadRequest(f"unknown setting {key!r}; known: {', '.join(DEFAULT_CONFIG)}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 86400:
                raise BadRequest(f"{key} must be a number of seconds from 0 to 86400")
    except BadRequest as exc:
        return error(str(exc), exc.status)
    with store.lock:
        store.config.update({key: float(value) for key, value in data.items()})
    return JsonResponse(store.as_json())


urlpatterns = [
    path("sessions", session_list, name="idemia-control-sessions"),
    path("sessions/<str:session_id>", session_detail, name="idemia-control-session"),
    path("sessions/<str:session_id>/complete", session_complete, name="idemia-control-complete"),
    path("identities/<str:identity_id>", identity_detail, name="idemia-control-identity"),
    path("state", state, name="idemia-control-state"),
    path("config", config, name="idemia-control-config"),
]
