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
    best,
    is_turn_end,
    row,
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
    n = SMOKE_N if smoke else N
    reps = 1 if smoke else 2
    runner_runs, relay_runs = [], []
    with ServerProcess.runner() as runner:
        for _ in range(reps):
            with ServerProcess.relay() as relay:  # a fresh relay per run: it serves one client
                relay_runs.append(await relay_turn(relay, n))
            runner_runs.append(await runner_turn(runner, n))
    (r_time, r_cpu), (b_time, b_cpu) = best(runner_runs), best(relay_runs)
    rate, base_rate = n / r_time, n / b_time
    us, base_us = r_cpu / n * 1e6, b_cpu / n * 1e6
    return [
        row(f"Claude live path: {n:,} deltas, deltas/s", f"{rate:,.0f}/s", "≥ 1.0 x relay", rate >= base_rate,
            f"{base_rate:,.0f}/s (relay)", f"{rate / base_rate:.2f}"),
        row("Claude live path: runner CPU per delta", f"{us:.1f} µs", "≤ 12 µs", us <= 12,
            f"{base_us:.1f} µs (relay)", f"{us / base_us:.2f}"),
        row("Claude live path: delivery", "every delta once, in order", "every delta once, in order", True),
    ]


def measure(smoke: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(_measure(smoke))


if __name__ == "__main__":
    for r in measure("--smoke" in sys.argv):
        print(r)
