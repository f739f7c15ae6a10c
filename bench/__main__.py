"""``python -m bench [ROW ...] [--quick]``: run the benchmark, print the table, write the results.

Without arguments every row runs and the results go to ``bench/results/latest.json``; a selection of
rows (numbers or names) writes ``bench/results/partial.json`` instead, so a quick look at one row never
overwrites the figures of a full run. The exit status is 0 when every row that ran met its target.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import log
from .processes import child_env, run_json
from .results import RESULTS_DIR, RowResult, format_ratio, table, write
from .rows import ROW_MODULES, find, load

ROW_TIMEOUT = 30 * 60  # generating the 1M-identity data set for the first time takes a few minutes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("rows", nargs="*", help="row numbers or names (default: all)")
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks that the rows run, figures meaningless"
    )
    parser.add_argument("--output", type=Path, help="where to write the JSON results")
    args = parser.parse_args(argv)
    try:
        modules = [find(selector) for selector in args.rows] if args.rows else list(ROW_MODULES)
    except KeyError as exc:
        parser.error(str(exc.args[0]))
    output = args.output or RESULTS_DIR / (
        "latest.json" if not args.rows and not args.quick else "partial.json"
    )

    results: list[RowResult] = []
    started = time.monotonic()
    for module_name in modules:
        module = load(module_name)
        log(f"row {ROW_MODULES.index(module_name) + 1}: {module.TITLE}")
        argv_row = [sys.executable, "-m", "bench.run_row", module_name] + (["--quick"] if args.quick else [])
        try:
            result = RowResult.from_json(run_json(argv_row, env=child_env(), timeout=ROW_TIMEOUT))
        except Exception as exc:  # the child crashed or hung: report it as a row that did not run
            result = RowResult.failed_to_run(
                module.KEY, module.TITLE, module.TARGET, f"{type(exc).__name__}: {exc}"
            )
        results.append(result)
        log(
            f"  -> {result.status}"
            + (f" (ratio {format_ratio(result.ratio)})" if result.ratio is not None else "")
            + (f": {result.note}" if result.status != "pass" and result.note else "")
        )

    write(results, output, {"quick": args.quick, "duration_seconds": round(time.monotonic() - started)})
    print(table(results))
    print(f"\nResults written to {output}")
    return 0 if all(row.passed for row in results) else 1


if __name__ == "__main__":
    sys.exit(main())
