"""Row 3: Civic logins per second through two app servers, against the sandbox's own requests per second.

Three processes besides this one: the sandbox, and two app servers (``bench.app_server``) sharing a
PostgreSQL schema (``civic_bench``/``bench_login``) and a Redis cache, as two workers of a site would.
A closed-loop load generator in this process (``bench.load``: threads, kept-alive connections,
loopback only, bounded in count and time) alternates two kinds of phase:

- sandbox phases: SIP code exchanges sent straight to the sandbox, partner-signed in advance, so the
  figure is the sandbox's own capacity;
- app phases: logins through ``POST /civic/sip/exchange/`` spread over both app servers (session mode,
  CSRF cookie and header as a browser sends them), each of which exchanges the code with the sandbox.

Codes are minted before each phase. Measured: logins/s (median of the app phases); reference: the
sandbox's exchanges/s (median of its phases). Target: at least half. The added latency is the app
phases' p50/p99 minus the sandbox phases'. The details add each process's CPU per request.
"""

from __future__ import annotations

import json
import secrets
import statistics
import sys

from django_civic.sandbox.testing import SandboxHandle

from . import Options, django_env, load, log, processes
from .codes import mint, mint_for_users, signed_exchanges
from .results import RowResult, Target

KEY = "login_throughput"
TITLE = "Logins per second, two app servers, sandbox in a third process"
TARGET = Target(">=", 0.5, "at least 1/2")
SCHEMA = "bench_login"
CSRF = "b" * 32  # a CSRF secret as Django's cookie carries it; the header repeats it


def _login_requests(app_urls: list[str], codes: list[str]) -> list[load.Prepared]:
    headers = {"Content-Type": "application/json", "Cookie": f"csrftoken={CSRF}", "X-CSRFToken": CSRF}
    return [
        load.Prepared(
            f"{app_urls[i % len(app_urls)]}civic/sip/exchange/", json.dumps({"token": code}).encode(), headers
        )
        for i, code in enumerate(codes)
    ]


def run(options: Options) -> RowResult:
    phases = options.pick(3, 1)
    logins = options.pick(300, 12)
    exchanges = options.pick(600, 24)
    threads = options.pick(4, 2)
    people = options.pick(150, 6)
    time_limit = 60.0
    if not django_env.redis_available():
        raise RuntimeError(
            "Redis is not reachable at 127.0.0.1:6379 (the app servers share their cache there)"
        )

    with processes.sandbox() as sandbox:
        handle = SandboxHandle(sandbox.info["base_url"])
        sip = sandbox.info["sip"]
        # Create and migrate the schema here, once, before two servers start on it.
        django_env.setup(database="postgres", schema=SCHEMA, cache="redis", sandbox_url=handle.url)
        env = processes.child_env(
            CIVIC_BENCH_DB="postgres",
            CIVIC_BENCH_SCHEMA=SCHEMA,
            CIVIC_BENCH_CACHE="redis",
            CIVIC_BENCH_SANDBOX_URL=handle.url,
        )
        server = [sys.executable, "-m", "bench.app_server"]
        with (
            processes.running(server, env=env, name="app server 1") as app1,
            processes.running(server, env=env, name="app server 2") as app2,
        ):
            app_urls = [app1.info["url"], app2.info["url"]]
            pids = {"sandbox": sandbox.pid, "app servers": (app1.pid, app2.pid)}
            user_ids = [secrets.token_hex(32) for _ in range(people)]

            def login_phase() -> tuple[load.LoadResult, dict[str, float]]:
                codes = mint_for_users(handle, [user_ids[i % people] for i in range(logins)], persona="alice")
                return _measured(_login_requests(app_urls, codes), threads, time_limit, pids)

            def sandbox_phase() -> tuple[load.LoadResult, dict[str, float]]:
                return _measured(
                    signed_exchanges(handle, sip, mint(handle, exchanges)), threads, time_limit, pids
                )

            log(f"{KEY}: sign-up of {people} people, then warm-up")
            warm = load.run(
                _login_requests(app_urls, mint_for_users(handle, user_ids, persona="alice")),
                threads=threads,
                time_limit=time_limit,
            )
            if warm.failed:
                raise RuntimeError(f"logins failed during the warm-up: {warm.statuses}")
            sandbox_phase()

            results: dict[str, list[tuple[load.LoadResult, dict[str, float]]]] = {"app": [], "sandbox": []}
            for number in range(phases):
                order = ("sandbox", "app") if number % 2 == 0 else ("app", "sandbox")
                for kind in order:
                    outcome = login_phase() if kind == "app" else sandbox_phase()
                    if outcome[0].failed:
                        raise RuntimeError(
                            f"{kind} phase: {outcome[0].failed} requests failed: {outcome[0].statuses}"
                        )
                    results[kind].append(outcome)
                    log(
                        f"{KEY}: {kind} phase {number + 1}: {outcome[0].per_second:.0f}/s, "
                        f"p50 {outcome[0].latency_ms(50):.1f} ms, p99 {outcome[0].latency_ms(99):.1f} ms"
                    )

    app_rate = statistics.median(r.per_second for r, _ in results["app"])
    sandbox_rate = statistics.median(r.per_second for r, _ in results["sandbox"])

    def median_ms(kind: str, pct: float) -> float:
        return statistics.median(r.latency_ms(pct) for r, _ in results[kind])

    def cpu(kind: str, who: str) -> float:
        return round(statistics.median(c[who] for _, c in results[kind]) * 1e3, 2)

    return RowResult.judged(
        KEY,
        TITLE,
        measured=app_rate,
        measured_unit="logins/s",
        reference=sandbox_rate,
        reference_unit="exchanges/s",
        ratio=app_rate / sandbox_rate,
        target=TARGET,
        details={
            "added_latency_ms": {
                "p50": round(median_ms("app", 50) - median_ms("sandbox", 50), 2),
                "p99": round(median_ms("app", 99) - median_ms("sandbox", 99), 2),
            },
            "latency_ms": {
                kind: {"p50": round(median_ms(kind, 50), 2), "p99": round(median_ms(kind, 99), 2)}
                for kind in results
            },
            "cpu_ms_per_request": {
                "app phases": {"app servers": cpu("app", "app servers"), "sandbox": cpu("app", "sandbox")},
                "sandbox phases": {"sandbox": cpu("sandbox", "sandbox")},
            },
            "threads": threads,
            "requests_per_phase": {"app": logins, "sandbox": exchanges},
            "phases": phases,
            "rates": {kind: [round(r.per_second, 1) for r, _ in results[kind]] for kind in results},
        },
    )


def _measured(
    requests: list[load.Prepared], threads: int, time_limit: float, pids: dict
) -> tuple[load.LoadResult, dict[str, float]]:
    """Run one phase; return its result and the CPU seconds per completed request of each process."""
    before = {
        "sandbox": processes.process_cpu_seconds(pids["sandbox"]),
        "app servers": sum(processes.process_cpu_seconds(pid) for pid in pids["app servers"]),
    }
    result = load.run(requests, threads=threads, time_limit=time_limit)
    after = {
        "sandbox": processes.process_cpu_seconds(pids["sandbox"]),
        "app servers": sum(processes.process_cpu_seconds(pid) for pid in pids["app servers"]),
    }
    done = max(1, result.completed)
    return result, {who: (after[who] - before[who]) / done for who in before}
