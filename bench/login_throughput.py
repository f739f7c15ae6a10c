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
phases' p50/p99 minus the sandbox phases'.

The details add the CPU per request of each process (the app servers, the sandbox, PostgreSQL's
backends, Redis, this load generator) and of the whole machine, kernel included, and how many CPUs were
busy. Everything shares this machine's CPUs, so from those the row works out what the machine allows:
the ratio it could reach if the app servers cost nothing (``ceiling``), and the app servers' CPU per
login that the target leaves (``app_cpu_budget_ms``).
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import sys
import time

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

    app_cpu = {who: cpu("app", who) for who in CPU_USERS}
    limits = machine_limits(app_cpu, sandbox_rate, cpus=len(os.sched_getaffinity(0)))
    log(f"{KEY}: CPU per login (ms): {app_cpu}")
    log(
        f"{KEY}: on {limits['cpus']} CPUs, app servers that cost nothing would reach {limits['ceiling']}x; "
        f"{TARGET.text} leaves them {limits['app_cpu_budget_ms']} ms of CPU per login"
    )

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
                "app phases": app_cpu,
                "sandbox phases": {
                    who: cpu("sandbox", who) for who in ("sandbox", "load generator", "whole machine")
                },
            },
            "busy_cpus": {kind: round(statistics.median(c["busy cpus"] for _, c in results[kind]), 2)
                          for kind in results},
            **limits,
            "threads": threads,
            "requests_per_phase": {"app": logins, "sandbox": exchanges},
            "phases": phases,
            "rates": {kind: [round(r.per_second, 1) for r, _ in results[kind]] for kind in results},
        },
    )


# Whose CPU a phase accounts for: the processes the row started, the servers they use, and itself;
# "whole machine" is every CPU's busy time, kernel included.
CPU_USERS = ("app servers", "sandbox", "PostgreSQL", "Redis", "load generator", "whole machine")
_COMMANDS = {"PostgreSQL": "postgres", "Redis": "redis-server"}


def machine_limits(cpu_ms: dict[str, float], sandbox_rate: float, *, cpus: int) -> dict[str, float | None]:
    """What ``cpus`` CPUs allow, from the app phases' CPU per login in milliseconds.

    All processes share the CPUs, so at full load ``rate * whole machine's CPU per login = cpus``.
    ``ceiling``: the ratio the row would reach if the app servers cost nothing (the rest of the machine
    fills the CPUs, or the sandbox, one process, fills one); None if a reading was too small to tell (the
    clock ticks every 10 ms, which a quick run may not reach). ``app_cpu_budget_ms``: the app servers' CPU
    per login at which the target's rate would just fit (negative: not even free app servers reach it).
    """
    others_ms = cpu_ms["whole machine"] - cpu_ms["app servers"]
    if others_ms > 0 and cpu_ms["sandbox"] > 0:
        ceiling = round(min(cpus * 1e3 / others_ms, 1e3 / cpu_ms["sandbox"]) / sandbox_rate, 3)
    else:
        ceiling = None
    return {
        "cpus": cpus,
        "ceiling": ceiling,
        "app_cpu_budget_ms": round(cpus * 1e3 / (TARGET.value * sandbox_rate) - others_ms, 2),
    }


def _cpu_now(pids: dict) -> dict[str, float]:
    servers = processes.cpu_seconds_by_command(list(_COMMANDS.values()))
    return {
        "app servers": sum(processes.process_cpu_seconds(pid) for pid in pids["app servers"]),
        "sandbox": processes.process_cpu_seconds(pids["sandbox"]),
        **{who: servers[command] for who, command in _COMMANDS.items()},
        "load generator": time.process_time(),
        "whole machine": processes.machine_busy_seconds(),
    }


def _measured(
    requests: list[load.Prepared], threads: int, time_limit: float, pids: dict
) -> tuple[load.LoadResult, dict[str, float]]:
    """Run one phase; return its result, the CPU seconds per completed request of each of ``CPU_USERS``,
    and how many of the machine's CPUs were busy on average (``busy cpus``)."""
    before = _cpu_now(pids)
    result = load.run(requests, threads=threads, time_limit=time_limit)
    after = _cpu_now(pids)
    used = {who: after[who] - before[who] for who in before}
    spent = {who: seconds / max(1, result.completed) for who, seconds in used.items()}
    spent["busy cpus"] = used["whole machine"] / max(result.seconds, 1e-9)
    return result, spent
