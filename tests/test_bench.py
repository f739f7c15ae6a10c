"""Smoke test of the benchmark (``make bench``): the rows import, and a tiny run works end to end.

No timing is asserted anywhere (these machines are noisy); the figures of a quick run mean nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import processes, rows
from bench.login_throughput import machine_limits
from bench.measure import percentile, side_by_side
from bench.results import RowResult, Target, format_ratio, table

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("module_name", rows.ROW_MODULES)
def test_every_row_module_imports_and_declares_itself(module_name):
    module = rows.load(module_name)
    assert module.KEY and module.TITLE and callable(module.run)
    assert isinstance(module.TARGET, Target)


def test_rows_are_found_by_number_name_or_module():
    assert rows.find("1") == rows.ROW_MODULES[0] == rows.find("sip_exchange_cpu")
    assert rows.find("bench.payload_memory") == rows.ROW_MODULES[6]
    with pytest.raises(KeyError):
        rows.find("8")


def test_side_by_side_alternates_which_side_runs_first():
    order = []
    result = side_by_side(lambda: order.append("m") or 2.0, lambda: order.append("r") or 1.0, rounds=4)
    assert order == ["m", "r", "r", "m", "m", "r", "r", "m"]
    assert result.ratio == 2.0 and result.ratios == [2.0] * 4


def test_percentile_is_nearest_rank():
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile([1, 2, 3, 4], 99) == 4


def test_targets_and_the_table():
    at_most = Target("<=", 3.0, "at most 3x")
    row = RowResult.judged(
        "login_cpu",
        "A row",
        measured=7.0,
        measured_unit="ms",
        reference=2.0,
        reference_unit="ms",
        ratio=3.5,
        target=at_most,
    )
    assert row.status == "fail" and not row.passed
    assert RowResult.judged(
        "k", "A row", measured=1, measured_unit="", reference=1, reference_unit="", ratio=3.0, target=at_most
    ).passed
    assert Target(">=", 0.5, "").met_by(0.5) and not Target("==", 1.0, "").met_by(1.01)
    assert format_ratio(0.01) == "1/100" and format_ratio(1.5) == "1.5x"
    # Numbered as in the table, whichever rows ran.
    assert "| 2 | A row | 7 ms | 2 ms | 3.5x | at most 3x | FAIL |" in table([row])
    assert RowResult.from_json(json.loads(json.dumps(row.to_json()))) == row


def test_a_cpu_row_from_a_side_by_side_measurement():
    result = side_by_side(lambda: 0.004, lambda: 0.001, rounds=3)
    row = RowResult.cpu_side_by_side("k", "A row", result, unit="ms", target=Target("<=", 3.0, ""),
                                     details={"extra": 1})
    assert (row.measured, row.measured_unit, row.reference, row.reference_unit) == (
        4.0, "ms CPU", 1.0, "ms CPU")
    assert row.ratio == 4.0 and row.status == "fail"
    assert row.details == {"ratio_p25": 4.0, "ratio_p75": 4.0, "rounds": 3, "extra": 1}


def test_a_quick_run_of_two_rows_writes_the_results(tmp_path):
    output = tmp_path / "results.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "sip_exchange_cpu",
            "payload_memory",
            "--output",
            str(output),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    document = json.loads(output.read_text())
    assert [row["key"] for row in document["rows"]] == ["sip_exchange_cpu", "payload_memory"]
    for row in document["rows"]:
        # The rows ran (pass or fail is meaningless at this size): real figures and a verdict.
        assert row["status"] in ("pass", "fail"), row["note"]
        assert row["measured"] > 0 and row["reference"] > 0 and row["ratio"] > 0
        assert row["pass"] == (row["status"] == "pass")
    assert document["machine"]["cores"] >= 1 and document["quick"] is True
    assert "| 1 | Client CPU per SIP code exchange |" in completed.stdout
    assert "| 7 | Peak memory exchanging a 6 MB processed payload |" in completed.stdout
    assert completed.returncode == (0 if document["all_passed"] else 1)


def test_the_login_breakdown_runs():
    completed = subprocess.run([sys.executable, "-m", "bench.login_breakdown", "--logins", "3"], cwd=REPO,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "CPU per returning Civic login:" in completed.stdout
    assert "record_identity" in completed.stdout and "SIP exchange (client side)" in completed.stdout


def test_row_3_works_out_what_the_machine_allows():
    # 2 CPUs; per login the app servers spend 8 ms, everything else 4 ms (of which the sandbox 2 ms).
    cpu_ms = {"app servers": 8.0, "sandbox": 2.0, "whole machine": 12.0}
    # Free app servers: the rest fills 2 CPUs at 500 logins/s, as the sandbox fills its one: 500/800.
    assert machine_limits(cpu_ms, 800.0, cpus=2) == {"cpus": 2, "ceiling": 0.625, "app_cpu_budget_ms": 1.0}
    # With more CPUs the sandbox, one process, is the limit; the budget grows with the CPUs.
    assert machine_limits(cpu_ms, 800.0, cpus=8) == {"cpus": 8, "ceiling": 0.625, "app_cpu_budget_ms": 16.0}
    # The rest of the machine alone over-fills the CPUs the target needs: a negative budget.
    assert machine_limits(cpu_ms, 1200.0, cpus=2)["app_cpu_budget_ms"] < 0
    # A quick run may read no CPU tick for the sandbox: no ceiling rather than a division by zero.
    assert machine_limits({**cpu_ms, "sandbox": 0.0}, 800.0, cpus=2)["ceiling"] is None


def test_cpu_readings_count_this_process_and_the_machine_grows_with_work():
    command = Path("/proc/self/comm").read_text().strip()
    before_machine = processes.machine_busy_seconds()
    sum(i * i for i in range(3_000_000))  # some CPU work of our own
    own = processes.process_cpu_seconds(os.getpid())
    totals = processes.cpu_seconds_by_command([command, "no-such-command"])
    # Read after our own figure, and the sum of every process of our name: at least ours.
    assert own > 0 and totals[command] >= own
    assert totals["no-such-command"] == 0.0
    assert processes.machine_busy_seconds() > before_machine
