"""Command path: a command prints N short lines -> the runner (journaled, committed) -> one client attached live;
in the same run, the same command through the minimal relay (relay.py: a line -> an `output` event, no journal,
its own process, one frame per 10 ms).

    python tests/benchmarks/bench_command_path.py [--smoke]

Lines/s: N / (the client's request -> the final status event at the client), the command's start included on both
sides. CPU per line: the server process's user+system CPU over that interval / N (the command's own CPU is not
counted). Best of two alternating runs per side. Every line is checked once, in order, with seqs contiguous.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks._harness import Client, DeliveryCheck, ServerProcess, against_relay, is_exit

N = 200_000
SMOKE_N = 500
TIMEOUT = 600.0


def line_text(i: int) -> str:
    return f"line {i} of the command"


def command(n: int) -> list[str]:
    """Prints n short lines as fast as it can (one write per 2,000 lines)."""
    code = (
        "import sys\nw = sys.stdout.write\n"
        f"for s in range(0, {n}, 2000):\n"
        f"    w(''.join('line %d of the command\\n' % i for i in range(s, min(s + 2000, {n}))))\n"
    )
    return [sys.executable, "-c", code]


async def runner_run(server: ServerProcess, n: int) -> tuple[float, float]:
    client = await Client.open(server.url)
    try:
        with tempfile.TemporaryDirectory() as cwd:
            check = DeliveryCheck("output", line_text, is_exit)
            cpu0, t0 = server.cpu(), time.perf_counter()
            created = await client.request({"type": "create", "argv": command(n), "cwd": cwd})
            sid = created["session"]["id"]
            client.sinks[sid] = check
            await client.request({"type": "attach", "session": sid, "after": 0})
            await check.wait(TIMEOUT)
            elapsed, cpu = time.perf_counter() - t0, server.cpu() - cpu0
            check.verify(n, "runner")
            await client.request({"type": "delete", "session": sid})
    finally:
        await client.close()
    return elapsed, cpu


async def relay_run(server: ServerProcess, n: int) -> tuple[float, float]:
    client = await Client.open(server.url, token=None)
    try:
        check = DeliveryCheck("output", line_text, is_exit)
        client.sinks["relay"] = check
        cpu0, t0 = server.cpu(), time.perf_counter()
        await client.ws.send(json.dumps({"mode": "command", "argv": command(n)}))
        await check.wait(TIMEOUT)
        elapsed, cpu = time.perf_counter() - t0, server.cpu() - cpu0
        check.verify(n, "relay")
    finally:
        await client.close()
    return elapsed, cpu


async def _measure(smoke: bool) -> list[dict[str, Any]]:
    return await against_relay(SMOKE_N if smoke else N, 1 if smoke else 2, runner_run, relay_run,
                               "command path", "line", 8)


def measure(smoke: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(_measure(smoke))


if __name__ == "__main__":
    for r in measure("--smoke" in sys.argv):
        print(r)
