"""The IPA end-of-process notification, sent the way IDEMIA does (seeds/idemia-ipa-integration.txt, step 4).

A JSON POST to the session's ``callbackUrl``; anything but a 2xx (or no answer) is retried "up to 2 more
attempts with a delay of 1 second". Delivery runs in a background thread so the journey page answers at
once. Faults on the ``idemia.callback`` channel change the delivery:

- ``drop``: the notification is lost (never sent), as after IDEMIA gives up;
- ``duplicate``: it is delivered twice at the same moment (two threads), as overlapping retries can be;
- ``latency`` (``delay`` seconds): it is sent late.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import requests

from django_civic.sandbox.faults import faults, register_kinds
from django_civic.sandbox.idemia.state import ABNORMAL, APPLICATION_ID, IpaSession, store

ATTEMPTS = 3  # the first delivery and "up to 2 more attempts"
CHANNEL = "idemia.callback"
register_kinds(CHANNEL, {"drop": None, "duplicate": None})


def callback_body(session: IpaSession, base: str) -> dict[str, Any]:
    body: dict[str, Any] = {"applicationId": APPLICATION_ID, "sessionId": session.session_id}
    if session.identity_id:
        body["identityId"] = session.identity_id
        body["proofUrl"] = f"{base}idemia/gips/v1/identities/{session.identity_id}/proof"
    if session.outcome in ABNORMAL:
        body["status"] = session.outcome
    body["timestamp"] = time.time()
    return body


def schedule(session: IpaSession, base: str, *, wait: bool = False) -> list[threading.Thread]:
    """Queue the session's notification (no-op without a callbackUrl); ``wait`` joins the delivery threads."""
    if not session.callback_url:
        return []
    fault = faults.take(CHANNEL)
    with store.lock:
        session.callback.body = callback_body(session, base)
        if fault is not None and fault.kind == "drop":
            session.callback.state = "dropped"
            return []
        session.callback.state = "pending"
    copies = 2 if fault is not None and fault.kind == "duplicate" else 1
    delay = fault.delay if fault is not None else 0.0
    generation = store.generation
    threads = [threading.Thread(target=_deliver, args=(session, delay, generation), daemon=True,
                                name="idemia-sandbox-callback") for _ in range(copies)]
    for thread in threads:
        thread.start()
    if wait:
        for thread in threads:
            thread.join(timeout=60)
    return threads


def _deliver(session: IpaSession, delay: float, generation: int) -> None:
    if delay:
        time.sleep(delay)
    body = session.callback.body
    for attempt in range(1, ATTEMPTS + 1):
        if store.generation != generation:
            return  # the sandbox was reset: this notification belongs to a finished test
        record: dict[str, Any] = {"attempt": attempt}
        try:
            response = requests.post(session.callback_url or "", json=body, allow_redirects=False,
                                     timeout=store.config["callback_timeout"])
            record["status"] = response.status_code
            response.close()
            ok = 200 <= response.status_code < 300
        except requests.RequestException as exc:
            record["error"] = type(exc).__name__
            ok = False
        with store.lock:
            session.callback.attempts.append(record)
            if ok:
                session.callback.state = "delivered"
            elif attempt == ATTEMPTS and session.callback.state != "delivered":
                session.callback.state = "failed"
        if ok:
            return
        if attempt < ATTEMPTS:
            time.sleep(store.config["retry_delay"])
