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
from bench.measure import against, interleaved, percentile, side_by_side
from bench.results import RowResult, Target, format_ratio, table

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("module_name", rows.ROW_MODULES)
def test_every_row_module_imports_and_declares_itself(module_name):
    module = rows.load(module_name)
    assert module.KEY and module.TITLE and callable(module.run)
    assert isinstance(module.TARGET, Target)


def test_rows_are_found_by_number_name_or_module():
    assert rows.find("3") == rows.ROW_MODULES[2] == rows.find("sip_exchange_cpu")
    assert rows.find("bench.payload_memory") == rows.ROW_MODULES[7]
    assert len(rows.ROW_MODULES) == 8
    with pytest.raises(KeyError):
        rows.find("9")


def test_side_by_side_alternates_which_side_runs_first():
    order = []
    result = side_by_side(lambda: order.append("m") or 2.0, lambda: order.append("r") or 1.0, rounds=4)
    assert order == ["m", "r", "r", "m", "m", "r", "r", "m"]
    assert result.ratio == 2.0 and result.ratios == [2.0] * 4


def test_interleaved_rotates_the_order_and_pairs_rounds():
    order = []
    costs = interleaved({name: (lambda name=name, cost=cost: order.append(name) or cost)
                         for name, cost in (("a", 3.0), ("b", 1.0), ("c", 2.0))}, rounds=3)
    assert order == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert costs == {"a": [3.0] * 3, "b": [1.0] * 3, "c": [2.0] * 3}
    assert against(costs, "a", "c").ratio == 1.5 and against(costs, "b", "a").ratio == 1 / 3


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
    assert "| 4 | A row | 7 ms | 2 ms | 3.5x | at most 3x | FAIL |" in table([row])
    assert RowResult.from_json(json.loads(json.dumps(row.to_json()))) == row


def test_a_cpu_row_from_a_side_by_side_measurement():
    result = side_by_side(lambda: 0.004, lambda: 0.001, rounds=3)
    row = RowResult.cpu_side_by_side("k", "A row", result, unit="ms", target=Target("<=", 3.0, ""),
                                     details={"extra": 1})
    assert (row.measured, row.measured_unit) == (4.0, "ms CPU")
    assert (row.reference, row.reference_unit) == (1.0, "ms CPU")
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
            "login_queries",
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
    assert [row["key"] for row in document["rows"]] == ["login_queries", "payload_memory"]
    for row in document["rows"]:
        # The rows ran (pass or fail is meaningless at this size): real figures and a verdict.
        assert row["status"] in ("pass", "fail"), row["note"]
        assert row["measured"] > 0 and row["reference"] > 0 and row["ratio"] > 0
        assert row["pass"] == (row["status"] == "pass")
    assert document["machine"]["cores"] >= 1 and document["quick"] is True
    assert "| 6 | Database queries per Civic login, 12 vs 2 attributes |" in completed.stdout
    assert "| 8 | Peak memory exchanging a 6 MB processed payload |" in completed.stdout
    assert completed.returncode == (0 if document["all_passed"] else 1)


def test_the_login_breakdown_runs():
    completed = subprocess.run([sys.executable, "-m", "bench.login_breakdown", "--logins", "3"], cwd=REPO,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "CPU per returning Civic login:" in completed.stdout
    assert "record_identity" in completed.stdout and "SIP exchange (client side)" in completed.stdout


def test_row_5_works_out_the_ceiling_of_the_machine():
    # Per login: sandbox 2 ms, PostgreSQL 0.5, Redis 0.5, load generator 1: 4 ms besides the app servers.
    cpu = {"sandbox": 0.002, "PostgreSQL": 0.0005, "Redis": 0.0005, "load generator": 0.001,
           "foreign cpus": 0.0}
    # 2 free CPUs filled by 4 ms per login: 500/s (the sandbox alone would take 500/s too, on one CPU).
    limits = machine_limits(cpu, cpus=2)
    assert limits["ceiling_logins_per_s"] == 500.0 and limits["others_cpu_ms_per_login"] == 4.0
    # Half of it fits when the app servers spend at most what everything else does per login.
    assert limits["app_cpu_budget_ms"] == 4.0
    # Other users taking a CPU leave the row half the machine, and half the ceiling.
    assert machine_limits({**cpu, "foreign cpus": 1.0}, cpus=2)["ceiling_logins_per_s"] == 250.0
    # On 8 CPUs the sandbox, one process, is the limit: 1 / 2 ms.
    assert machine_limits(cpu, cpus=8)["ceiling_logins_per_s"] == 500.0
    assert machine_limits(cpu, cpus=8)["app_cpu_budget_ms"] == 28.0


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
