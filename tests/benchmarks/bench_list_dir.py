"""`list_dir` on a huge folder (runner/files.py): 100,000 entries, of which the reply carries the first 10,000.

    python tests/benchmarks/bench_list_dir.py [--smoke]

Baselines, measured on the same folder in the same run: for time, a bare `os.scandir` loop that only counts the
entries (what any listing must at least cost); for memory, describing every entry and sorting them all before
cutting (how list_dir worked before), against keeping only the entries sent (`heapq.nsmallest`). Best of three.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from runner import files
from tests.benchmarks._harness import row

N = 100_000
SMOKE_N = 2_000


def best_of_three(fn: Callable[[], Any]) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_bytes(fn: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def count_only(path: str) -> int:
    with os.scandir(path) as it:
        return sum(1 for _ in it)


def sort_everything(path: str) -> list[dict[str, Any]]:
    with os.scandir(path) as it:
        entries = [files._describe(e, files._is_dir(e)) for e in it]
    entries.sort(key=lambda e: (not e["is_dir"], e["name"].casefold(), e["name"]))
    return entries[: files.MAX_ENTRIES]


def measure(smoke: bool = False) -> list[dict[str, Any]]:
    n = SMOKE_N if smoke else N
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            open(os.path.join(tmp, f"file-{i:06}.dat"), "wb").close()
        for i in range(20):
            os.mkdir(os.path.join(tmp, f"zz-folder-{i}"))
        reply = files.list_dir_sync(tmp)
        assert reply["total"] == n + 20 and len(reply["entries"]) == min(n + 20, files.MAX_ENTRIES)
        assert reply["entries"][0]["name"] == "zz-folder-0"
        took = best_of_three(lambda: files.list_dir_sync(tmp))
        base = best_of_three(lambda: count_only(tmp))
        peak = peak_bytes(lambda: files.list_dir_sync(tmp))
        old_peak = peak_bytes(lambda: sort_everything(tmp))
    return [
        row(f"list_dir: {n:,} entries, time", f"{took * 1000:.0f} ms", "ratio ≤ 6", took <= 6 * base,
            f"{base * 1000:.0f} ms (bare scandir count)", f"{took / base:.1f}"),
        row(f"list_dir: {n:,} entries, peak memory", f"{peak / 1e6:.1f} MB", "≤ 32 MB", peak <= 32e6,
            f"{old_peak / 1e6:.1f} MB (every entry kept and sorted)", f"{peak / old_peak:.2f}"),
    ]


if __name__ == "__main__":
    for r in measure("--smoke" in sys.argv):
        print(r)
