"""Every benchmark still runs: each bench_*.py's measure(smoke=True), in its own process as run_all.py runs it.

Only the shape of the rows and the correctness part (rows named "delivery": every event once, in order) are
checked; smoke sizes are far too small for the timing targets, which the benchmarks themselves report.
"""

from __future__ import annotations

import pytest

from tests.benchmarks.run_all import benchmark_names, run_module, table

KEYS = {"metric": str, "figure": str, "baseline": str, "ratio": str, "target": str, "ok": bool}


def test_the_runner_benchmarks_are_found() -> None:
    names = benchmark_names()
    for name in ("bench_claude_live", "bench_command_path", "bench_runner_memory", "bench_catchup"):
        assert name in names


@pytest.mark.parametrize("name", benchmark_names())
def test_benchmark_smoke_run(name: str) -> None:
    rows = run_module(name, smoke=True, timeout=600)
    assert rows, f"{name} returned no rows"
    for row in rows:
        assert set(row) == set(KEYS), row
        for key, kind in KEYS.items():
            assert isinstance(row[key], kind), (key, row)
        assert row["metric"] and row["figure"] and row["target"], row
        assert not row["metric"].endswith("did not finish"), row["figure"]
        if "delivery" in row["metric"]:
            assert row["ok"], row
    assert table(rows).count("\n") == len(rows) + 1
