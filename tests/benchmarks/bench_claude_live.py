"""Claude live path: a fake `claude` streams N text deltas -> the runner (journaled, committed) -> one client
attached live; in the same run, the same CLI output through the minimal relay (relay.py: stdlib json, no journal,
its own process, one frame per 10 ms).

    python tests/benchmarks/bench_claude_live.py [--smoke]

Deltas/s: N / (the client's `send` -> the `turn_end` event at the client), process start of the CLI included on
both sides. CPU per delta: the server process's user+system CPU over that interval / N (the CLI's own CPU is not
counted). Best of two alternating runs per side. Every delta is checked once, in order, with seqs contiguous.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks._harness import (
    FLOOD_CLAUDE,
    Client,
    DeliveryCheck,
    ServerProcess,
    against_relay,
    is_turn_end,
)
from tests.benchmarks.flood_claude import delta_text

N = 100_000
SMOKE_N = 300
TIMEOUT = 600.0


async def runner_turn(server: ServerProcess, n: int) -> tuple[float, float]:
    client = await Client.open(server.url)
    try:
        with tempfile.TemporaryDirectory() as cwd:
            created = await client.request({"type": "create", "agent": "claude", "cwd": cwd, "title": "bench"})
            sid = created["session"]["id"]
            check = DeliveryCheck("assistant", delta_text, is_turn_end)
            client.sinks[sid] = check
            await client.request({"type": "attach", "session": sid, "after": 0})
            cpu0, t0 = server.cpu(), time.perf_counter()
            await client.request({"type": "send", "session": sid, "text": f"deltas:{n}"})
            await check.wait(TIMEOUT)
            elapsed, cpu = time.perf_counter() - t0, server.cpu() - cpu0
            check.verify(n, "runner")
            await client.request({"type": "delete", "session": sid})
    finally:
        await client.close()
    return elapsed, cpu


async def relay_turn(server: ServerProcess, n: int) -> tuple[float, float]:
    client = await Client.open(server.url, token=None)
    try:
        check = DeliveryCheck("assistant", delta_text, is_turn_end)
        client.sinks["relay"] = check
        cpu0, t0 = server.cpu(), time.perf_counter()
        await client.ws.send(
            f'{{"mode": "claude", "argv": ["{sys.executable}", "{FLOOD_CLAUDE}"], "text": "deltas:{n}"}}'
        )
        await check.wait(TIMEOUT)
        elapsed, cpu = time.perf_counter() - t0, server.cpu() - cpu0
        check.verify(n, "relay")
    finally:
        await client.close()
    return elapsed, cpu


async def _measure(smoke: bool) -> list[dict[str, Any]]:
    return await against_relay(SMOKE_N if smoke else N, 1 if smoke else 2, runner_turn, relay_turn,
                               "Claude live path", "delta", 12)


def measure(smoke: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(_measure(smoke))


if __name__ == "__main__":
    for r in measure("--smoke" in sys.argv):
        print(r)
