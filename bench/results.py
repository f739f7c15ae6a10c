"""One row of the benchmark: what was measured, against what, the ratio and the verdict.

The JSON written to ``bench/results/latest.json`` is a list of these rows plus a description of the
machine; the table printed at the end of ``make bench`` is the same data.
"""

from __future__ import annotations

import json
import operator
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import rows as rows_module

if TYPE_CHECKING:
    from .measure import SideBySide

RESULTS_DIR = Path(__file__).resolve().parent / "results"

_COMPARE = {"<=": operator.le, ">=": operator.ge, "==": operator.eq}


@dataclass
class Target:
    """``ratio <op> value``, e.g. ``Target("<=", 3.0, "at most 3x")``."""

    op: str
    value: float
    text: str

    def met_by(self, ratio: float) -> bool:
        return _COMPARE[self.op](ratio, self.value)


@dataclass
class RowResult:
    key: str
    title: str
    measured: float | None
    measured_unit: str
    reference: float | None
    reference_unit: str
    ratio: float | None
    target: Target
    status: str = "pass"  # pass, fail, error (the row could not run), skipped
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def judged(
        cls,
        key: str,
        title: str,
        *,
        measured: float,
        measured_unit: str,
        reference: float,
        reference_unit: str,
        ratio: float,
        target: Target,
        note: str = "",
        details: dict[str, Any] | None = None,
    ) -> RowResult:
        """A row whose status follows from the ratio and the target."""
        return cls(
            key,
            title,
            measured,
            measured_unit,
            reference,
            reference_unit,
            ratio,
            target,
            "pass" if target.met_by(ratio) else "fail",
            note,
            details or {},
        )

    @classmethod
    def cpu_side_by_side(
        cls, key: str, title: str, result: SideBySide, *, unit: str, target: Target, details: dict[str, Any]
    ) -> RowResult:
        """A row of CPU time per operation, measured side by side: both medians in ``unit`` ("µs" or
        "ms"), the median ratio, and the ratio's spread ahead of ``details``."""
        scale = {"µs": 1e6, "ms": 1e3}[unit]
        return cls.judged(
            key,
            title,
            measured=result.measured_median * scale,
            measured_unit=f"{unit} CPU",
            reference=result.reference_median * scale,
            reference_unit=f"{unit} CPU",
            ratio=result.ratio,
            target=target,
            details={**result.spread(), **details},
        )

    @classmethod
    def failed_to_run(
        cls, key: str, title: str, target: Target, reason: str, status: str = "error"
    ) -> RowResult:
        return cls(key, title, None, "", None, "", None, target, status, reason)

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["pass"] = self.passed
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RowResult:
        data = {k: v for k, v in data.items() if k != "pass"}
        data["target"] = Target(**data["target"])
        return cls(**data)


def machine() -> dict[str, Any]:
    """What the figures were measured on (they mean little without it)."""
    import cryptography
    import django

    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        memory_kb = 0
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    return {
        "cpu": cpu_model or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "django": django.get_version(),
        "cryptography": cryptography.__version__,
        "load_average_at_start": [round(x, 2) for x in load],
    }


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def write(rows: list[RowResult], path: Path, extra: dict[str, Any] | None = None) -> None:
    document = {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": machine(),
        "all_passed": all(row.passed for row in rows),
        "rows": [row.to_json() for row in rows],
        **(extra or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n")
    tmp.replace(path)


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) < 1e6:
        text = f"{int(value):,}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def format_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    if 0 < ratio < 0.1:
        return f"1/{1 / ratio:,.0f}"
    return f"{ratio:.3g}x"


def table(rows: list[RowResult]) -> str:
    """The rows as a Markdown table (readable in a terminal, pasteable into the README)."""
    header = ["#", "What", "Measured", "Reference (same run)", "Ratio", "Target", "Result"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        ratio = format_ratio(row.ratio)
        verdict = {"pass": "pass", "fail": "FAIL", "error": "ERROR", "skipped": "skipped"}[row.status]
        lines.append(
            "| "
            + " | ".join(
                [
                    str(rows_module.number(row.key)),
                    row.title,
                    _fmt(row.measured, row.measured_unit),
                    _fmt(row.reference, row.reference_unit),
                    ratio,
                    row.target.text,
                    verdict,
                ]
            )
            + " |"
        )
    notes = [f"{rows_module.number(row.key)}. {row.note}" for row in rows if row.note]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)
