"""IDEMIA identity-proofing pages and the IPA callback endpoint, mounted at ``civic/proofing/``.

``proofing/``                          GET: start page (logged in)
``proofing/start/``                    POST (CSRF): create a session, redirect to its page
``proofing/<id>/``                     GET: the QR code and link to IDEMIA's journey; follows the status
``proofing/<id>/status/``              GET: ``{"status", "final", "level_of_assurance", "outcome_url"}``
``proofing/<id>/done/``                GET: IDEMIA's ``gotoUrl``: the outcome (owner only; others: neutral)
``proofing/callback/<secret>/``        POST: IDEMIA's end-of-process notification (``proofing_flow``)

``<id>`` is the session's public UUID; every page checks it belongs to ``request.user`` (404 otherwise).
"""

from __future__ import annotations

import logging
from typing import Any

import segno
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from django_civic.api.errors import error_response
from django_civic.core.debug import hide_secrets_in_error_reports
from django_civic.core.redirects import login_redirect_url
from django_civic.idemia.flow import (
    MAX_CALLBACK_BYTES,
    ProofingRefused,
    accept_callback,
    start_session,
    start_url,
)
from django_civic.models.idemia import ProofingSession
from django_civic.protocols.idemia import ProofingError

logger = logging.getLogger(__name__)

Status = ProofingSession.Status
RECENT_SESSIONS = 5
POLL_SECONDS = 2

_OUTCOMES: dict[str, Any] = {
    Status.VERIFIED: _("Your identity is verified."),
    Status.NOT_VERIFIED: _("Your identity could not be verified. You can try again with another document."),
    Status.ERROR: _("The identity check did not finish. Please try again."),
    Status.TIMED_OUT: _("The identity check timed out. Please start again."),
}
_PENDING = _("Waiting for the result of your identity check…")


def _own(request: HttpRequest, public_id: Any) -> ProofingSession:
    return get_object_or_404(ProofingSession, public_id=public_id, user=request.user)


def _outcome(session: ProofingSession) -> Any:
    return _OUTCOMES.get(session.status, _PENDING)


@never_cache
@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    assert request.user.is_authenticated  # login_required
    sessions = ProofingSession.objects.filter(user=request.user)[:RECENT_SESSIONS]
    return render(request, "django_civic/proofing/index.html",
                  {"sessions": sessions, "continue_url": login_redirect_url(request)})


@never_cache
@login_required
@require_POST
def start(request: HttpRequest) -> HttpResponse:
    try:
        session = start_session(request)
    except ProofingRefused as exc:
        return render(request, "django_civic/proofing/problem.html",
                      {"error_code": exc.code, "message": exc.detail}, status=exc.status)
    response = redirect("django_civic:proofing-session", session.public_id)
    response.status_code = 303  # see other: the POST is done, the browser GETs the session page
    return response


@never_cache
@login_required
@require_GET
def session_page(request: HttpRequest, public_id: Any) -> HttpResponse:
    session = _own(request, public_id)
    journey_url = qr_svg = ""
    if session.status == Status.STARTED and not session.is_expired():
        try:
            journey_url = start_url(session)
        except ProofingError:
            journey_url = ""
        if journey_url:
            title = str(_("QR code of the identity check link"))
            qr_code = segno.make(journey_url, error="m")
            qr_svg = qr_code.svg_inline(scale=4, border=2, svgclass="civic-proofing-qr", title=title)
    return render(request, "django_civic/proofing/session.html", {
        "session": session,
        "journey_url": journey_url,
        "qr_svg": qr_svg,
        "outcome": _outcome(session),
        "status_url": reverse("django_civic:proofing-status", args=[session.public_id]),
        "done_url": reverse("django_civic:proofing-done", args=[session.public_id]),
        "poll_ms": POLL_SECONDS * 1000,
    })


@never_cache
@require_GET
def status(request: HttpRequest, public_id: Any) -> JsonResponse:
    if not request.user.is_authenticated:
        return error_response("not_authenticated", _("You need to log in first."), 401)
    session = ProofingSession.objects.filter(public_id=public_id, user=request.user).first()
    if session is None:
        return error_response("not_found", _("Not found."), 404)
    return JsonResponse({
        "status": session.status,
        "final": session.is_final,
        "level_of_assurance": session.level_of_assurance,
        "message": str(_outcome(session)),
        "outcome_url": reverse("django_civic:proofing-done", args=[session.public_id]),
    })


@never_cache
@require_GET
def done(request: HttpRequest, public_id: Any) -> HttpResponse:
    """Where IDEMIA sends the browser at the end. Often a phone that is not logged in: then a neutral page."""
    session = None
    if request.user.is_authenticated:
        session = ProofingSession.objects.filter(public_id=public_id, user=request.user).first()
    return render(request, "django_civic/proofing/done.html", {
        "session": session,
        "continue_url": login_redirect_url(request),
        "outcome": _outcome(session) if session else "",
        "status_url": reverse("django_civic:proofing-status", args=[public_id]) if session else "",
        "poll_ms": POLL_SECONDS * 1000,
    })


@hide_secrets_in_error_reports
@csrf_exempt  # IDEMIA cannot send a CSRF token; the per-session secret in the URL authenticates instead
@never_cache
@sensitive_variables()  # the secret, the body, and below them what GIPS says of the person
def callback(request: HttpRequest, secret: str) -> HttpResponse:
    if request.method != "POST":
        code, detail, status_code = "method_not_allowed", _("This method is not allowed here."), 405
    else:
        body = request.read(MAX_CALLBACK_BYTES + 1)
        if len(body) > MAX_CALLBACK_BYTES:
            code, detail, status_code = "payload_too_large", _("The request body is too large."), 413
        else:
            outcome = accept_callback(secret, body)
            code, detail, status_code = outcome.code, outcome.detail, outcome.status
    if status_code < 300:
        response = HttpResponse(status=status_code)
    else:
        headers = {"Allow": "POST"} if status_code == 405 else None
        response = error_response(code, detail, status_code, headers=headers)
        logger.warning("IDEMIA callback refused: %s (%s)", status_code, code)
    # Django logs every 4xx with the request path, which here holds the session's secret: we logged above.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response
