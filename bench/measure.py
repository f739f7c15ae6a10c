"""Measuring side by side on a noisy machine.

Every figure of the benchmark is a ratio of two things measured in the same run. The machines it runs on
are shared, so absolute times drift by tens of percent from one second to the next; a ratio survives that
only if both sides feel the same drift. So the two sides are measured in small batches that alternate
(A B B A A B ...), each batch yields one cost per operation, and the ratio is the median of the
per-round ratios: a burst of noise spoils one round, not the result.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


def cpu_seconds() -> float:
    """CPU time of this process (all its threads, user + system), the clock every CPU row uses."""
    return time.process_time()


def per_op(operation: Callable[[], object], count: int, clock: Callable[[], float] = cpu_seconds) -> float:
    """Run ``operation`` ``count`` times and return the cost of one run on ``clock``."""
    gc.collect()  # a collection triggered by the previous batch's garbage must not land in this one
    start = clock()
    for _ in range(count):
        operation()
    return (clock() - start) / count


@dataclass
class SideBySide:
    """Per-round costs of a measured operation and its reference, and what follows from them."""

    measured: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [m / r for m, r in zip(self.measured, self.reference, strict=True) if r > 0]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def measured_median(self) -> float:
        return statistics.median(self.measured)

    @property
    def reference_median(self) -> float:
        return statistics.median(self.reference)

    def spread(self) -> dict[str, float]:
        """The ratio's interquartile range: how much the noise moved it."""
        ratios = sorted(self.ratios)
        return {
            "ratio_p25": percentile(ratios, 25),
            "ratio_p75": percentile(ratios, 75),
            "rounds": len(ratios),
        }


def side_by_side(measured: Callable[[], float], reference: Callable[[], float], rounds: int) -> SideBySide:
    """Alternate batches of ``measured`` and ``reference`` (each returns its cost per operation).

    The order flips every round so that neither side always runs first (warm caches, a frequency
    step, a neighbour's burst that starts at a fixed phase).
    """
    result = SideBySide()
    for index in range(rounds):
        if index % 2:
            ref = reference()
            meas = measured()
        else:
            meas = measured()
            ref = reference()
        result.measured.append(meas)
        result.reference.append(ref)
    return result


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (already sorted or not)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def interleaved(sides: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Like :func:`side_by_side` for any number of sides: every round runs each side once (each returns
    its cost per operation), the order rotating from round to round so that no side always goes first."""
    names = list(sides)
    costs: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            costs[name].append(sides[name]())
    return costs


def against(costs: dict[str, list[float]], measured: str, reference: str) -> SideBySide:
    """Two sides of an :func:`interleaved` measurement, as a :class:`SideBySide`."""
    return SideBySide(list(costs[measured]), list(costs[reference]))
