"""Fault injection shared by every part of the sandbox.

A test (or a person, through the control API) queues faults on a *channel*, for example
``sip.exchange``, ``oidc.token`` or ``idemia.gips``; the next N requests on that channel suffer them.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.http import HttpResponse

# Kinds every endpoint understands; the rest (bad_signature, wrong_key, large_payload, ...) are
# interpreted by the endpoint that owns the channel.
GENERIC_KINDS = {"status", "latency", "malformed", "timeout"}


@dataclass
class Fault:
    kind: str
    status: int | None = None
    delay: float = 0.0
    body: str | None = None
    retry_after: int | str | None = None  # seconds, or a header value as is (an HTTP-date, or garbage)
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        known = {"kind", "status", "delay", "body", "retry_after"}
        kind = data.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ValueError("kind is required")
        status = data.get("status")
        if status is not None and (not isinstance(status, int) or not 100 <= status <= 599):
            raise ValueError("status must be an HTTP status code")
        delay = data.get("delay", 0.0)
        if not isinstance(delay, (int, float)) or not 0 <= delay <= 120:
            raise ValueError("delay must be between 0 and 120 seconds")
        body = data.get("body")
        if body is not None and not isinstance(body, str):
            raise ValueError("body must be a string")
        retry_after = data.get("retry_after")
        if isinstance(retry_after, str):
            # Sent verbatim, so a client can be tried on both forms and on values that are neither.
            if not 0 < len(retry_after) <= 64 or not all(" " <= c <= "~" for c in retry_after):
                raise ValueError("retry_after must be seconds, or up to 64 printable ASCII characters")
        elif retry_after is not None and (not isinstance(retry_after, int) or isinstance(retry_after, bool)):
            raise ValueError("retry_after must be seconds, or up to 64 printable ASCII characters")
        options = {k: v for k, v in data.items() if k not in known | {"channel", "count"}}
        return cls(kind=kind, status=status, delay=float(delay), body=body, retry_after=retry_after,
                   options=options)


class FaultQueue:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Fault]] = defaultdict(deque)

    def inject(self, channel: str, fault: Fault, count: int = 1) -> None:
        with self._lock:
            self._queues[channel].extend([fault] * count)

    def take(self, channel: str) -> Fault | None:
        with self._lock:
            queue = self._queues.get(channel)
            return queue.popleft() if queue else None

    def pending(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            return {channel: [asdict(f) for f in queue] for channel, queue in self._queues.items() if queue}

    def clear(self, channel: str | None = None) -> None:
        with self._lock:
            if channel is None:
                self._queues.clear()
            else:
                self._queues.pop(channel, None)


faults = FaultQueue()

# Endpoint-specific kinds per channel, registered by the part that owns the channel. A fault of any other
# kind on a registered channel is refused when it is queued, so a typo fails loudly instead of doing nothing.
_channel_kinds: dict[str, dict[str, Callable[[dict[str, Any]], None] | None]] = {}


def register_kinds(channel: str, kinds: dict[str, Callable[[dict[str, Any]], None] | None]) -> None:
    """Declare the kinds ``channel`` understands besides the generic ones, each with an optional
    validator of the fault's extra options (it raises ``ValueError``)."""
    _channel_kinds[channel] = dict(kinds)


def validate(channel: str, fault: Fault) -> None:
    kinds = _channel_kinds.get(channel)
    if kinds is None or fault.kind in GENERIC_KINDS:
        return
    if fault.kind not in kinds:
        known = ", ".join(sorted(GENERIC_KINDS | set(kinds)))
        raise ValueError(f"channel {channel} does not understand kind {fault.kind!r} (known: {known})")
    check = kinds[fault.kind]
    if check is not None:
        check(fault.options)


def apply_generic(channel: str) -> tuple[HttpResponse | None, Fault | None]:
    """Take the next fault on ``channel``; apply latency, and answer for the generic kinds.

    Returns ``(response, None)`` when the fault decides the answer, ``(None, fault)`` when the endpoint
    must apply an endpoint-specific fault itself, and ``(None, None)`` when nothing is queued.
    """
    fault = faults.take(channel)
    if fault is None:
        return None, None
    if fault.delay:
        time.sleep(fault.delay)
    if fault.kind == "latency":
        return None, None
    if fault.kind == "timeout":
        # Long enough for any client timeout used in tests to fire; bounded so threads end.
        time.sleep(float(fault.options.get("seconds", 5)))
        return HttpResponse(status=504), None
    if fault.kind == "status":
        status = fault.status or 500
        body = fault.body if fault.body is not None else json.dumps({"message": f"sandbox fault {status}"})
        response = HttpResponse(body, status=status, content_type="application/json")
        if fault.retry_after is not None:
            response["Retry-After"] = str(fault.retry_after)
        return response, None
    if fault.kind == "malformed":
        return HttpResponse(fault.body or '{"data": "not json', status=fault.status or 200,
                            content_type="application/json"), None
    return None, fault
