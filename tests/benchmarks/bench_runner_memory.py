"""Runner memory: 1,000,000 Claude text deltas over 10 turns (two sessions, five turns each, one client attached
live), then every session stopped, then deleted. The runner process's RSS (from /proc) is sampled every 50 ms.

    python tests/benchmarks/bench_runner_memory.py [--smoke]

Figures: the peak RSS growth over the start (runner started, client connected, before any session), the growth
once the sessions are stopped, and what is left once they are deleted. No baseline: the targets are absolute.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks._harness import Client, DeliveryCheck, ServerProcess, is_turn_end, row
from tests.benchmarks.flood_claude import delta_text

TURNS = 10
SESSIONS = 2
DELTAS_PER_TURN = 100_000
SMOKE_DELTAS_PER_TURN = 200
TIMEOUT = 600.0
MB = 1024 * 1024


async def settled_rss(server: ServerProcess, seconds: float = 3.0) -> int:
    """RSS once it stops falling (memory freed after a delete is handed back over a moment), at most `seconds`."""
    deadline = time.monotonic() + seconds
    last = server.rss()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        now = server.rss()
        if now >= last:
            return now
        last = now
    return last


async def _measure(smoke: bool) -> list[dict[str, Any]]:
    per_turn = SMOKE_DELTAS_PER_TURN if smoke else DELTAS_PER_TURN
    with ServerProcess.runner() as server, tempfile.TemporaryDirectory() as cwd:
        client = await Client.open(server.url)
        try:
            start = await settled_rss(server, 1.0)
            peak = start
            sampling = True

            async def sample() -> None:
                nonlocal peak
                while sampling:
                    peak = max(peak, server.rss())
                    await asyncio.sleep(0.05)

            sampler = asyncio.create_task(sample())
            sids = []
            for _ in range(SESSIONS):
                created = await client.request({"type": "create", "agent": "claude", "cwd": cwd})
                sids.append(created["session"]["id"])
            turns_each = TURNS // SESSIONS
            # Each session's deltas restart at 0 every turn: the check expects delta_text(i % per_turn).
            checks = {
                sid: DeliveryCheck("assistant", lambda i: delta_text(i % per_turn), is_turn_end, turns_each)
                for sid in sids
            }
            for sid in sids:
                client.sinks[sid] = checks[sid]
                await client.request({"type": "attach", "session": sid, "after": 0})
            for turn in range(turns_each):
                for sid in sids:
                    await client.request({"type": "send", "session": sid, "text": f"deltas:{per_turn} turn {turn}"})
            for sid in sids:
                await checks[sid].wait(TIMEOUT)
                checks[sid].verify(per_turn * turns_each, f"session {sid}")
            for sid in sids:
                await client.request({"type": "stop", "session": sid})
            sampling = False
            await sampler
            stopped = await settled_rss(server)
            for sid in sids:
                await client.request({"type": "delete", "session": sid})
            deleted = await settled_rss(server)
        finally:
            await client.close()
    total = per_turn * TURNS
    grow, after_stop, after_delete = (peak - start) / MB, (stopped - start) / MB, (deleted - start) / MB
    return [
        row(f"runner memory: peak RSS growth, {total:,} deltas in {TURNS} turns", f"+{grow:.0f} MB", "≤ 50 MB",
            grow <= 50),
        row("runner memory: RSS growth with the sessions stopped", f"+{after_stop:.0f} MB", "≤ 50 MB",
            after_stop <= 50),
        row("runner memory: RSS after the sessions are deleted", f"{after_delete:+.0f} MB of the start",
            "within 20 MB of the start", after_delete <= 20),
        row("runner memory: delivery", "every delta once, in order", "every delta once, in order", True),
    ]


def measure(smoke: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(_measure(smoke))


if __name__ == "__main__":
    for r in measure("--smoke" in sys.argv):
        print(r)
