"""A small closed-loop load generator: N threads, each with one kept-alive connection, send prepared
requests as fast as the server answers, until the requests run out or the time limit passes."""

from __future__ import annotations

import http.client
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .measure import percentile


@dataclass(frozen=True)
class Prepared:
    """One request, ready to send: URL path, body bytes, headers."""

    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class LoadResult:
    completed: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0

    def latency_ms(self, pct: float) -> float:
        return percentile(self.latencies, pct) * 1e3


def run(requests: Sequence[Prepared], *, threads: int, time_limit: float) -> LoadResult:
    """Send every request once over ``threads`` connections (requests are spread round-robin across
    their URLs' hosts by the caller). A request that fails or answers other than 200 counts as failed."""
    pending: queue.SimpleQueue[Prepared] = queue.SimpleQueue()
    for request in requests:
        pending.put(request)
    result = LoadResult()
    lock = threading.Lock()
    deadline = time.monotonic() + time_limit
    start = threading.Barrier(threads + 1)

    def worker() -> None:
        connections: dict[str, http.client.HTTPConnection] = {}
        latencies, statuses, failed = [], {}, 0
        start.wait()
        while time.monotonic() < deadline:
            try:
                request = pending.get_nowait()
            except queue.Empty:
                break
            parts = urlsplit(request.url)
            connection = connections.get(parts.netloc)
            if connection is None:
                connection = connections[parts.netloc] = http.client.HTTPConnection(parts.netloc, timeout=30)
            began = time.perf_counter()
            try:
                connection.request("POST", parts.path, body=request.body, headers=request.headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connections.pop(parts.netloc, None)
                status = 0
            latency = time.perf_counter() - began
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                latencies.append(latency)
            else:
                failed += 1
        for connection in connections.values():
            connection.close()
        with lock:
            result.latencies.extend(latencies)
            result.failed += failed
            for status, count in statuses.items():
                result.statuses[status] = result.statuses.get(status, 0) + count

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in workers:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in workers:
        thread.join(time_limit + 60)
    result.seconds = time.monotonic() - began
    result.completed = len(result.latencies)
    return result
