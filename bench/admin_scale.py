"""Row 7: the identity admin with a million verified people against the same admin with ten thousand.

Two data sets live side by side in the ``civic_bench`` PostgreSQL database (schemas ``bench_10k`` and
``bench_1m``, built once by ``bench.scale_data`` and reused). A logged-in superuser loads, through
Django's test client, the identities changelist and a search by exact email (the person in the middle
of the table), alternating between the two data sets. Measured: wall time at 1M (the database works in
its own process, so CPU time of this process would miss it); reference: at 10k. The row's ratio is the
larger of the two pages'. Target: at most 2x, and the same number of queries at both sizes.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from . import Options, django_env, log, scale_data
from .results import RowResult, Target

KEY = "admin_scale"
TITLE = "Admin changelist and exact-email search, 1M vs 10k identities (PostgreSQL)"
TARGET = Target("<=", 2.0, "time at most 2x, equal query counts")
CHANGELIST = "/admin/django_civic/civicidentity/"


def run(options: Options) -> RowResult:
    small, large = options.pick(10_000, 200), options.pick(1_000_000, 2_000)
    schemas = ("bench_10k", "bench_1m") if not options.quick else ("bench_quick_small", "bench_quick_large")
    rounds = options.pick(25, 2)
    django_env.setup(database="postgres", schema=schemas[0], extra_schemas=(schemas[1],))
    aliases = {small: "default", large: schemas[1]}

    from django.contrib.auth import get_user_model
    from django.db import connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from .router import use_database

    data = {size: scale_data.ensure(alias, size, log) for size, alias in aliases.items()}
    clients: dict[int, Any] = {}
    for size, alias in aliases.items():
        with use_database(alias):
            admin, _ = get_user_model().objects.get_or_create(
                username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
            )
            client = Client()
            client.force_login(admin)
            clients[size] = client

    pages = {
        "changelist": lambda size: CHANGELIST,
        "search by exact email": lambda size: f"{CHANGELIST}?q={data[size].search_email}",
    }

    def load(size: int, page: str) -> tuple[float, int]:
        """Wall time and query count of one page view at ``size``."""
        alias = aliases[size]
        with use_database(alias), CaptureQueriesContext(connections[alias]) as queries:
            started = time.perf_counter()
            response = clients[size].get(pages[page](size))
            elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"{page} at {size:,}: status {response.status_code}")
        if page != "changelist" and b"p***@bench.example" not in response.content:
            raise RuntimeError(f"the search at {size:,} did not find {data[size].search_email}")
        return elapsed, len(queries.captured_queries)

    for _ in range(3):  # warm the database's caches and Django's template loaders at both sizes
        for size in aliases:
            for page in pages:
                load(size, page)

    times: dict[str, dict[int, list[float]]] = {page: {size: [] for size in aliases} for page in pages}
    counts: dict[str, dict[int, set[int]]] = {page: {size: set() for size in aliases} for page in pages}
    log(f"{KEY}: {rounds} rounds of both pages at {small:,} and {large:,}")
    for number in range(rounds):
        order = (small, large) if number % 2 == 0 else (large, small)
        for page in pages:
            for size in order:
                elapsed, count = load(size, page)
                times[page][size].append(elapsed)
                counts[page][size].add(count)

    summary = {}
    for page in pages:
        ratios = [big / little for big, little in zip(times[page][large], times[page][small], strict=True)]
        summary[page] = {
            "ms_small": round(statistics.median(times[page][small]) * 1e3, 2),
            "ms_large": round(statistics.median(times[page][large]) * 1e3, 2),
            "ratio": statistics.median(ratios),
            "queries_small": sorted(counts[page][small]),
            "queries_large": sorted(counts[page][large]),
        }
    worst = max(summary, key=lambda page: summary[page]["ratio"])
    equal_queries = all(s["queries_small"] == s["queries_large"] for s in summary.values())
    row = RowResult.judged(
        KEY,
        TITLE,
        measured=summary[worst]["ms_large"],
        measured_unit=f"ms at {large:,}",
        reference=summary[worst]["ms_small"],
        reference_unit=f"ms at {small:,}",
        ratio=summary[worst]["ratio"],
        target=TARGET,
        details={
            "pages": summary,
            "shown": worst,
            "generation_seconds": {
                f"{d.people:,}": round(d.seconds, 1) for d in data.values() if d.generated
            },
            "reused_data_sets": [f"{d.people:,}" for d in data.values() if not d.generated],
        },
    )
    if not equal_queries:
        row.status = "fail"
        row.note = "query counts differ between the sizes: " + ", ".join(
            f"{page} {s['queries_small']} vs {s['queries_large']}" for page, s in summary.items()
        )
    return row
