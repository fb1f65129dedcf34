"""Run every benchmark and print one Markdown table of figures, baselines, ratios, targets and pass/fail.

    python tests/benchmarks/run_all.py            # full size (several minutes)
    python tests/benchmarks/run_all.py --smoke    # tiny N: checks that every benchmark still runs (seconds)
    python tests/benchmarks/run_all.py bench_catchup bench_command_path   # some of them

A benchmark is a module tests/benchmarks/bench_*.py with `measure(smoke: bool = False) -> list[dict]`; each dict
is one row: `metric`, `figure` (with its unit), `baseline` and `ratio` (or ""), `target`, `ok`. Each module runs
in its own Python process, one after the other, so a Qt application or an event loop of one never meets another's,
and a crash is reported as a failed row. Exit status 0 when every row passed.

These machines are shared and noisy: compare a figure with the baseline measured beside it, not with last week's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parents[1]
COLUMNS = ("metric", "figure", "baseline", "ratio", "target")
ROW_PREFIX = "BENCH-ROWS "


def benchmark_names() -> list[str]:
    """bench_*.py modules that define measure(); found by reading them, so nothing is imported here."""
    return sorted(
        path.stem for path in BENCH_DIR.glob("bench_*.py") if "\ndef measure(" in path.read_text(encoding="utf-8")
    )


def run_module(name: str, smoke: bool, timeout: float = 3600.0) -> list[dict[str, Any]]:
    """Run one benchmark's measure() in a child process and return its rows (a failed row if it broke)."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", name] + (["--smoke"] if smoke else [])
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    except subprocess.TimeoutExpired:
        return [failed(name, f"no result after {timeout:.0f} s")]
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(ROW_PREFIX):
            return json.loads(line[len(ROW_PREFIX):])
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return [failed(name, f"exit {done.returncode}: {tail}")]


def failed(name: str, why: str) -> dict[str, Any]:
    return {"metric": f"{name}: did not finish", "figure": why, "baseline": "", "ratio": "", "target": "runs",
            "ok": False}


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join((*COLUMNS, "pass")) + " |", "|" + " --- |" * (len(COLUMNS) + 1)]
    for r in rows:
        cells = [str(r.get(c, "")).replace("|", "\\|") for c in COLUMNS]
        lines.append("| " + " | ".join((*cells, "yes" if r.get("ok") else "**no**")) + " |")
    return "\n".join(lines)


def _child(name: str, smoke: bool) -> None:
    sys.path.insert(0, str(ROOT))
    import importlib

    module = importlib.import_module(f"tests.benchmarks.{name}")
    rows = module.measure(smoke=smoke)
    print(ROW_PREFIX + json.dumps(rows, ensure_ascii=False), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="benchmark modules to run (default: all)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: a check that they run, not figures")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.smoke)
        return 0
    names = args.names or benchmark_names()
    rows: list[dict[str, Any]] = []
    for name in names:
        started = time.monotonic()
        got = run_module(name, args.smoke)
        print(f"{name}: {len(got)} rows in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        rows += got
    print(f"Machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end"
          f"{' (smoke run: sizes too small for the targets)' if args.smoke else ''}.\n")
    print(table(rows))
    return 0 if all(r.get("ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
