"""Row 5: Civic logins per second through two app servers, against the ceiling of this machine.

Three processes besides this one: the sandbox, and two app servers (``bench.app_server``) sharing a
PostgreSQL schema (``civic_bench``/``bench_login``) and a Redis cache, as two workers of a site would.
A closed-loop load generator in this process (``bench.load``: threads, kept-alive connections,
loopback only, bounded in count and time) alternates two kinds of phase:

- app phases: logins through ``POST /civic/sip/exchange/`` spread over both app servers (session mode,
  CSRF cookie and header as a browser sends them), each of which exchanges the code with the sandbox;
- sandbox phases: the same SIP code exchanges sent straight to the sandbox, partner-signed in advance:
  the latency the app servers add is the app phases' p50/p99 minus these.

Each app phase reads, from ``/proc``, the CPU time of every process involved (the app servers, the
sandbox, PostgreSQL's backends, Redis, this load generator) and of the whole machine. The ceiling is
the logins per second that phase would have reached if the app servers cost nothing: the CPUs left
over by everything else on the machine (other users' processes included) divided by the CPU per login
of the sandbox, database, cache and load generator, or the sandbox's one process full, whichever is
lower. Measured: logins/s (median of the app phases); reference: the ceiling of the same phases; the
ratio is the median of the per-phase ratios. Target: at least half the ceiling.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import statistics
import sys
import time

from django_civic.sandbox.testing import SandboxHandle

from . import Options, django_env, load, log, processes
from .codes import mint, mint_for_users, signed_exchanges
from .measure import percentile
from .results import RowResult, Target

KEY = "login_throughput"
TITLE = "Logins per second through the exchange endpoint, two app servers"
TARGET = Target(">=", 0.5, "at least 1/2 the ceiling")
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
    cpus = len(os.sched_getaffinity(0))
    limits = [machine_limits(cpu, cpus=cpus) for _, cpu in results["app"]]
    ratios = sorted(
        r.per_second / limit["ceiling_logins_per_s"]
        for (r, _), limit in zip(results["app"], limits, strict=True)
    )
    ceiling = statistics.median(limit["ceiling_logins_per_s"] for limit in limits)

    def median_ms(kind: str, pct: float) -> float:
        return statistics.median(r.latency_ms(pct) for r, _ in results[kind])

    def cpu(kind: str, who: str) -> float:
        return round(statistics.median(c[who] for _, c in results[kind]) * 1e3, 2)

    app_cpu = {who: cpu("app", who) for who in CPU_USERS}
    log(f"{KEY}: CPU per login (ms): {app_cpu}")
    log(f"{KEY}: {app_rate:.0f} logins/s against a ceiling of {ceiling:.0f}/s")

    return RowResult.judged(
        KEY,
        TITLE,
        measured=app_rate,
        measured_unit="logins/s",
        reference=ceiling,
        reference_unit="logins/s ceiling",
        ratio=statistics.median(ratios),
        target=TARGET,
        details={
            "ratio_p25": percentile(ratios, 25),
            "ratio_p75": percentile(ratios, 75),
            "added_latency_ms": {
                "p50": round(median_ms("app", 50) - median_ms("sandbox", 50), 2),
                "p99": round(median_ms("app", 99) - median_ms("sandbox", 99), 2),
            },
            "latency_ms": {
                kind: {"p50": round(median_ms(kind, 50), 2), "p99": round(median_ms(kind, 99), 2)}
                for kind in results
            },
            "cpu_ms_per_login": app_cpu,
            "ceilings": limits,
            "threads": threads,
            "requests_per_phase": {"app": logins, "sandbox": exchanges},
            "phases": phases,
            "rates": {kind: [round(r.per_second, 1) for r, _ in results[kind]] for kind in results},
        },
    )


# Whose CPU a phase accounts for: the processes the row started, the servers they use, and itself;
# "whole machine" is every CPU's busy time, kernel included.
CPU_USERS = ("app servers", "sandbox", "PostgreSQL", "Redis", "load generator", "whole machine")


def machine_limits(cpu: dict[str, float], *, cpus: int) -> dict[str, float]:
    """The ceiling of one app phase, from its CPU seconds per login of each of ``CPU_USERS`` and its
    ``foreign cpus`` (CPUs kept busy by what the row does not account for: other users, the kernel's
    own threads).

    ``ceiling_logins_per_s``: the CPUs left to the row, filled by everything but the app servers, or the
    sandbox's one process full, whichever comes first. ``app_cpu_budget_ms``: the app servers' CPU per
    login at which the target's rate, half the ceiling, would just fit in the CPUs left (when the CPUs are
    the limit, as much as everything else costs per login).
    """
    others = sum(cpu[who] for who in ("sandbox", "PostgreSQL", "Redis", "load generator"))
    available = max(cpus - cpu["foreign cpus"], 0.0)
    ceiling = min(available / others, 1 / cpu["sandbox"]) if others > 0 and cpu["sandbox"] > 0 else math.inf
    return {
        "cpus": cpus,
        "cpus_left_to_the_row": round(available, 2),
        "others_cpu_ms_per_login": round(others * 1e3, 3),
        "ceiling_logins_per_s": round(ceiling, 1),
        "app_cpu_budget_ms": round((available / (TARGET.value * ceiling) - others) * 1e3, 3),
    }


def _cpu_now(pids: dict) -> dict[str, float]:
    def total(group: tuple[int, ...]) -> float:
        seconds = 0.0
        for pid in group:
            try:
                seconds += processes.process_cpu_seconds(pid)
            except OSError:  # a backend that ended meanwhile
                pass
        return seconds

    servers = processes.cpu_seconds_by_command(["postgres", "redis-server"])
    return {
        "app servers": total(pids["app servers"]),
        "sandbox": processes.process_cpu_seconds(pids["sandbox"]),
        # By command name: other users of the same PostgreSQL and Redis count as the row's (that lowers the
        # ceiling, in the row's favour; both are a fraction of a ms per login).
        **{who: servers[command] for who, command in (("PostgreSQL", "postgres"), ("Redis", "redis-server"))},
        "load generator": time.process_time(),
        "whole machine": processes.machine_busy_seconds(),
    }


def _measured(
    requests: list[load.Prepared], threads: int, time_limit: float, pids: dict
) -> tuple[load.LoadResult, dict[str, float]]:
    """Run one phase; return its result, the CPU seconds per completed request of each of ``CPU_USERS``,
    and how many CPUs the rest of the machine kept busy on average (``foreign cpus``)."""
    before = _cpu_now(pids)
    result = load.run(requests, threads=threads, time_limit=time_limit)
    after = _cpu_now(pids)
    used = {who: after[who] - before[who] for who in before}
    spent = {who: seconds / max(1, result.completed) for who, seconds in used.items()}
    accounted = sum(used[who] for who in CPU_USERS if who != "whole machine")
    spent["foreign cpus"] = max(used["whole machine"] - accounted, 0.0) / max(result.seconds, 1e-9)
    return result, spent
