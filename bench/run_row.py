"""``python -m bench.run_row MODULE [--quick]``: run one row in this process, print its JSON last.

``python -m bench`` starts one of these per row, so every row gets fresh Django settings, a fresh
database connection and a clean heap (row 8 measures memory).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback

from . import Options, log
from .results import RowResult
from .rows import find, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_row")
    parser.add_argument("row")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    module = load(find(args.row))
    try:
        result: RowResult = module.run(Options(quick=args.quick))
    except Exception as exc:  # a row that cannot run is reported as such, with the reason
        traceback.print_exc()
        log(f"{module.KEY}: could not run: {type(exc).__name__}: {exc}")
        result = RowResult.failed_to_run(
            module.KEY, module.TITLE, module.TARGET, f"{type(exc).__name__}: {exc}"
        )
    print(json.dumps(result.to_json()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
