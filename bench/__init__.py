"""django_civic's benchmark: ``make bench`` (or ``python -m bench``). See docs/performance.md.

Each row of the issue's table is one module (listed in ``bench.rows``) whose ``run(options)`` returns a
``RowResult``; ``python -m bench`` runs every row in a child process of its own (fresh settings,
database and memory), prints the table and writes ``bench/results/latest.json``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

_START = time.monotonic()


@dataclass(frozen=True)
class Options:
    """How hard to run: ``quick`` is the smoke-test size (seconds, figures meaningless)."""

    quick: bool = False

    def pick(self, full: int, quick: int) -> int:
        return quick if self.quick else full


def log(message: str) -> None:
    """Progress on stderr (stdout carries the rows' JSON)."""
    print(f"[bench {time.monotonic() - _START:6.1f}s] {message}", file=sys.stderr, flush=True)
