"""Deleting a big session while another one streams: how long the other session's events wait for their commit.

    python tests/benchmarks/bench_delete.py [--smoke]

A journal (runner/journal.py, a real SQLite file) holds a session of N command lines, indexed for search. Another
session appends one event every millisecond; the delay from each append to its commit is recorded. The figure is
the longest delay while the big session is deleted (from the deletion's request until its events are all gone);
the baseline, the longest delay over as long a time with no deletion, in the same run. Before the events of a
deleted session were removed a slice at a time, the whole deletion was one transaction that held every other
session's events back until it ended.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from runner.journal import Journal
from tests.benchmarks._harness import row

N = 200_000
SMOKE_N = 5_000


class Ticker:
    """Appends an event to session "live" every millisecond and records how long each waited for its commit."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.seq = 0
        self.sent: dict[int, float] = {}
        self.delays: list[float] = []

    def on_commit(self, committed: dict[str, list[tuple[int, str]]]) -> None:
        now = time.perf_counter()
        for seq, _ in committed.get("live", ()):
            self.delays.append(now - self.sent.pop(seq))

    async def run_for(self, seconds: float) -> float:
        """The longest delay of the events appended during `seconds`."""
        start = len(self.delays)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            self.seq += 1
            self.sent[self.seq] = time.perf_counter()
            self.journal.append("live", self.seq, f'{{"seq":{self.seq},"kind":"output","text":"tick"}}')
            await asyncio.sleep(0.001)
        await self.journal.flush()
        return max(self.delays[start:])


async def _measure(n: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="ns-bench-delete-") as folder:
        ticker: Ticker | None = None
        journal = await Journal.open(str(Path(folder) / "j.sqlite3"),
                                     lambda committed: ticker.on_commit(committed) if ticker else None)
        try:
            journal.save_session("live", {"id": "live", "created_at": 1})
            journal.save_session("big", {"id": "big", "created_at": 2})
            for start in range(0, n, 5000):
                rows = [("big", seq, f'{{"seq":{seq},"ts":1.0,"kind":"output","stream":"stdout",'
                                     f'"text":"line {seq} of the command"}}')
                        for seq in range(start + 1, min(start + 5000, n) + 1)]
                journal.extend(rows, sum(len(p) for _, _, p in rows))
                await journal.flush()
            await journal.purged()
            ticker = Ticker(journal)
            await ticker.run_for(0.5)  # warm
            t0 = time.perf_counter()
            journal.delete_session("big")
            deleting = asyncio.ensure_future(journal.sync())
            start = len(ticker.delays)
            while not (deleting.done() and journal._purged.is_set()):
                await ticker.run_for(0.05)
            took = time.perf_counter() - t0
            during = max(ticker.delays[start:])
            baseline = await ticker.run_for(max(took, 0.5))
        finally:
            await journal.close()
    return [row(f"deleting a {n:,}-event session: longest wait of another session's event for its commit",
                f"{during * 1000:.0f} ms (the deletion took {took:.2f} s)", "≤ 100 ms", during <= 0.100,
                f"{baseline * 1000:.0f} ms (as long without a deletion)", f"{during / baseline:.1f}x")]


def measure(smoke: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(_measure(SMOKE_N if smoke else N))


if __name__ == "__main__":
    from tests.benchmarks.run_all import table

    print(table(measure("--smoke" in sys.argv)))
