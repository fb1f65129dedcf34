"""Catch-up, runner side: a session holds N = 100,000 events a view missed (a command printed them while no view was
attached); a new client attaches from seq 0 and receives them all. In the same run, the baseline: a bare websockets
server sending the same events, already encoded, 500 per frame (the runner's batch size), with nothing else to do.

    python tests/benchmarks/bench_catchup.py [--smoke]

Figure: `attach` sent -> the last event at the client (every event checked once, in order), best of three views
attaching one after the other. The desktop's part
(events into the transcript model) is measured by the GUI benchmarks.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks._harness import TOKEN, Client, DeliveryCheck, ServerProcess, row
from tests.benchmarks.bench_command_path import command, line_text

N = 100_000
SMOKE_N = 500
TIMEOUT = 300.0
BATCH = 500
ATTACHES = 3  # best of three: the least disturbed by other load


async def receive_all(ws: ClientConnection, head: int) -> list[str]:
    """Frames until the one holding event `head`, kept raw: parsing and checking them here would time the client
    (which is slower than the runner at this), so they are checked after the clock stops."""
    marker = f'"seq":{head},'
    frames = []
    while True:
        frame = await ws.recv()
        assert isinstance(frame, str)
        frames.append(frame)
        if marker in frame:
            return frames


def check_frames(frames: list[str], session: str, n: int, what: str) -> list[str]:
    """Every event once, in order; returns the events re-encoded (for the baseline to send)."""
    check = DeliveryCheck("output", line_text, lambda event: False)
    payloads = []
    for frame in frames:
        msg = json.loads(frame)
        if msg.get("session") != session or msg.get("type") not in ("event", "events"):
            continue
        events = msg["events"] if msg["type"] == "events" else [msg]
        check(events)
        payloads.extend(json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in events)
    check.verify(n, what)
    return payloads


async def runner_catchup(n: int) -> tuple[float, list[str]]:
    """Seconds from `attach` to the last event at the client, and the events (for the baseline to send)."""
    with ServerProcess.runner() as server, tempfile.TemporaryDirectory() as cwd:
        client = await Client.open(server.url)
        try:
            created = await client.request({"type": "create", "argv": command(n), "cwd": cwd})
            sid = created["session"]["id"]
            head = n + 3  # idle, running, n lines, exited
            deadline = time.monotonic() + TIMEOUT
            while (await client.request({"type": "get", "session": sid}))["session"]["head"] < head:
                if time.monotonic() > deadline:
                    raise TimeoutError("the command's output was not committed in time")
                await asyncio.sleep(0.1)
        finally:
            await client.close()
        times = []
        for _ in range(ATTACHES):  # each a new view that missed everything
            async with connect(server.url, additional_headers={"Authorization": f"Bearer {TOKEN}"}, proxy=None,
                               max_size=None, compression=None) as ws:
                t0 = time.perf_counter()
                await ws.send(json.dumps({"type": "attach", "session": sid, "after": 0}))
                frames = await asyncio.wait_for(receive_all(ws, head), TIMEOUT)
                times.append(time.perf_counter() - t0)
            payloads = check_frames(frames, sid, n, "runner catch-up")
    return min(times), payloads


async def baseline_catchup(payloads: list[str]) -> float:
    async def handler(ws: ServerConnection) -> None:
        await ws.recv()
        for i in range(0, len(payloads), BATCH):
            await ws.send('{"type":"events","session":"base","events":[' + ",".join(payloads[i : i + BATCH]) + "]}")

    head = json.loads(payloads[-1])["seq"]
    times = []
    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
        url = f"ws://127.0.0.1:{next(iter(server.sockets)).getsockname()[1]}"
        for _ in range(ATTACHES):
            async with connect(url, proxy=None, max_size=None, compression=None) as ws:
                t0 = time.perf_counter()
                await ws.send("{}")
                frames = await asyncio.wait_for(receive_all(ws, head), TIMEOUT)
                times.append(time.perf_counter() - t0)
            check_frames(frames, "base", len(payloads) - 3, "baseline")
    return min(times)


async def _measure(smoke: bool) -> list[dict[str, Any]]:
    n = SMOKE_N if smoke else N
    runner_s, payloads = await runner_catchup(n)
    base_s = await baseline_catchup(payloads)
    return [
        row(f"catch-up, runner side: {n:,} missed events, attach -> last event", f"{runner_s:.3f} s", "≤ 0.3 s",
            runner_s <= 0.3, f"{base_s:.3f} s (bare websockets, 500/frame)", f"{runner_s / base_s:.2f}"),
        row("catch-up: delivery", "every event once, in order", "every event once, in order", True),
    ]


def measure(smoke: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(_measure(smoke))


if __name__ == "__main__":
    for r in measure("--smoke" in sys.argv):
        print(r)
