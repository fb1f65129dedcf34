"""Search: `search_journal` (runner/search.py) over a session of 100,000 events in a real journal file, in the mix a
Claude Code session has (mostly streamed deltas, tool calls and results, some terminal lines with colours).

    python tests/benchmarks/bench_search.py [--smoke]

Baseline, measured on the same file in the same run: SQLite alone scanning the session's payloads with
`LIKE '%word%'` (C, no JSON parsing, no merging, ASCII-only case folding), what the simplest search would cost.
Beside it, the scan search used before the full-text index (and still used for a session the index has not caught
up with yet): `_scan_journal`. Cases: a word that is absent, a rare word near the start, a word in every assistant
message (the first 50 newest matches are enough), a non-ASCII word. Best of three each.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import orjson

from runner.journal import Journal
from runner.search import _Scan, _scan_journal, search_journal
from tests.benchmarks._harness import row

N = 100_000
SMOKE_N = 2_000
SESSION = "bench"


def events(n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    i = 0
    while len(out) < n:
        out.append({"kind": "user", "text": f"please look at module {i} and fix it"})
        for d in range(30):
            out.append({"kind": "assistant", "message_id": f"m{i}", "text": f"word{d} of the answer {i}, "})
        out.append({"kind": "tool_call", "tool_id": f"t{i}", "name": "Bash", "input": {"command": f"ls dir{i}"}})
        out.append({"kind": "tool_result", "tool_id": f"t{i}", "output": f"file{i}.py\nREADME.md", "is_error": False})
        for k in range(5):
            out.append({"kind": "output", "stream": "stdout", "text": f"\x1b[32mok\x1b[0m test {i}.{k} passed"})
        i += 1
    out = out[:n]
    out[10] = {"kind": "user", "text": "the rare zebra is here, and a café"}
    return out


async def build(path: str, n: int) -> None:
    journal = await Journal.open(path, lambda committed: None)
    try:
        rows = [(SESSION, seq, orjson.dumps({"seq": seq, "ts": 1.0, **e}).decode())
                for seq, e in enumerate(events(n), 1)]
        journal.extend(rows, sum(len(r[2]) for r in rows))
        await journal.flush()
    finally:
        await journal.close()


def timed(fn: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(3):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def like_scan(path: str, word: str) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM events WHERE session_id=? AND payload LIKE ?",
                            (SESSION, f"%{word}%")).fetchone()[0]
    finally:
        conn.close()


def scan_search(path: str, query: str) -> int:
    """The search as it was before the index: the session read newest first."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        scan = _Scan(query, 50)
        _scan_journal(conn, SESSION, scan, None)
        return len(scan.matches)
    finally:
        conn.close()


async def migrate(path: str) -> float:
    """Seconds from opening a journal written without the index until it is indexed (the runner serves meanwhile:
    the work is done in slices between commits)."""
    conn = sqlite3.connect(path)
    try:
        conn.executescript("DROP TABLE search_words; DROP TABLE search_docs; DROP TABLE search_backlog; "
                           "DELETE FROM meta WHERE key='search_index';")
    finally:
        conn.close()
    t0 = time.perf_counter()
    journal = await Journal.open(path, lambda committed: None)
    try:
        probe = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            while probe.execute("SELECT count(*) FROM search_backlog").fetchone()[0]:
                await asyncio.sleep(0.01)
        finally:
            probe.close()
        return time.perf_counter() - t0
    finally:
        await journal.close()


def measure(smoke: bool = False) -> list[dict[str, Any]]:
    n = SMOKE_N if smoke else N
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "journal.sqlite3")
        t0 = time.perf_counter()
        asyncio.run(build(path, n))
        written = time.perf_counter() - t0
        for label, query, expect_some in (
            ("absent word", "giraffe", False),
            ("rare word near the start", "ZEBRA", True),
            ("word in every message", "answer", True),
            ("non-ASCII word", "CAFÉ", True),
        ):
            took, found = timed(lambda q=query: search_journal(path, SESSION, q, 50, None))
            base, _ = timed(lambda q=query: like_scan(path, q))
            before, _ = timed(lambda q=query: scan_search(path, q))
            assert bool(found["matches"]) == expect_some, (label, found)
            rows.append(row(f"search: {n:,} events, {label}", f"{took * 1000:.0f} ms", "≤ 100 ms",
                            took <= 0.1, f"{base * 1000:.0f} ms (SQLite LIKE scan); scan without the index "
                            f"{before * 1000:.0f} ms", f"{took / base:.2f}"))
        took = asyncio.run(migrate(path))
        rows.append(row(f"search index of a journal from before it: {n:,} events", f"{took:.1f} s",
                        "≤ 2 x writing them", took <= 2 * written, f"{written:.1f} s (writing the journal)",
                        f"{took / written:.2f}"))
        assert search_journal(path, SESSION, "ZEBRA", 50, None)["matches"]
    return rows


if __name__ == "__main__":
    for r in measure("--smoke" in sys.argv):
        print(r)
