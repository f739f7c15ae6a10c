"""The end user's side of IPA, simulated: ``GET {rp-handler}/api/v1/ipa/start?session-id=...``.

The real journey (document capture, selfie, liveness) runs on IDEMIA's pages on the user's phone. The
sandbox replaces it with one page: pick a persona and an outcome. Finishing creates the GIPS identity (for
VERIFIED and NOT_VERIFIED), sends the callback in the background and redirects the browser to ``gotoUrl``,
in that order, as IDEMIA does. The control API finishes a session the same way (:func:`complete_session`).
"""

from __future__ import annotations

import threading
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from django_civic.sandbox.http import base_url
from django_civic.sandbox.idemia import callbacks
from django_civic.sandbox.idemia.personas import DEFAULT_PERSONA, PERSONAS
from django_civic.sandbox.idemia.state import ABNORMAL, OUTCOMES, VERIFIED, IpaSession, store
from django_civic.sandbox.pages import render_page

DEFAULT_LOA = {VERIFIED: "LOA3"}
_OUTCOME_LABELS = {
    "VERIFIED": "The checks pass (VERIFIED)",
    "NOT_VERIFIED": "The checks fail (NOT_VERIFIED)",
    "ERROR": "The app fails or the user aborts (ERROR)",
    "HEARTBEAT_TIMEOUT": "The user drops off (HEARTBEAT_TIMEOUT)",
}


class JourneyError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _render(name: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    return render_page(f"idemia/{name}", context, status)


def open_session(session_id: str | None) -> IpaSession:
    with store.lock:
        session = store.sessions.get(session_id or "")
        if session is None:
            raise JourneyError("This identity-proofing session does not exist.", 404)
        if session.state == "COMPLETED":
            raise JourneyError("This identity-proofing session is already finished.", 409)
        if session.expired():
            raise JourneyError("This identity-proofing session has expired.", 410)
        return session


def complete_session(session: IpaSession, outcome: str, persona: str, base: str, *, loa: str | None = None,
                     wait: bool = False) -> list[threading.Thread]:
    """End the journey with ``outcome``: create the identity if there is one, then send the callback."""
    if outcome not in OUTCOMES:
        raise JourneyError(f"outcome must be one of {', '.join(OUTCOMES)}", 400)
    if persona not in PERSONAS:
        raise JourneyError("unknown persona", 400)
    with store.lock:
        if session.state == "COMPLETED":
            raise JourneyError("This identity-proofing session is already finished.", 409)
        if session.expired():
            raise JourneyError("This identity-proofing session has expired.", 410)
        session.state, session.outcome, session.persona = "COMPLETED", outcome, persona
        if outcome not in ABNORMAL:
            level = loa or DEFAULT_LOA.get(outcome, "LOA0")
            session.identity_id = store.new_identity(session, persona, outcome, level).identity_id
    return callbacks.schedule(session, base, wait=wait)


@csrf_exempt
@require_GET
def start(request: HttpRequest) -> HttpResponse:
    try:
        session = open_session(request.GET.get("session-id"))
    except JourneyError as exc:
        return _render("problem.html", {"message": str(exc)}, exc.status)
    with store.lock:
        session.state = "STARTED"
    return _render("journey.html", {
        "session_id": session.session_id,
        "personas": PERSONAS.values(),
        "default_persona": DEFAULT_PERSONA,
        "outcomes": [(outcome, outcome.lower().replace("_", "-"), _OUTCOME_LABELS[outcome])
                     for outcome in OUTCOMES],
    })


@csrf_exempt
@require_POST
def finish(request: HttpRequest) -> HttpResponse:
    try:
        session = open_session(request.POST.get("session-id"))
        outcome, persona = request.POST.get("outcome", ""), request.POST.get("persona", DEFAULT_PERSONA)
        complete_session(session, outcome, persona, base_url(request))
    except JourneyError as exc:
        return _render("problem.html", {"message": str(exc)}, exc.status)
    if session.goto_url:
        return HttpResponseRedirect(session.goto_url)
    return _render("finished.html", {"outcome": session.outcome})
