"""Runner throughput, end to end, next to the raw `websockets` send loop on the same machine.

    python tests/benchmarks/bench_runner.py [--events N]

Figures printed:
- live: a command agent prints N lines as fast as it can; a view attached before it starts receives every event
  (journaled, committed, then sent); events/s from `create` to the view holding the final status event;
- catch-up: a second view attaches from seq 0 to the finished session (backlog replay from the journal);
- raw websockets: a bare server sends N event-shaped JSON frames to a client, one frame per event, and in batches of
  500 (the runner's batch size), with no journal, no process and no parsing on the server side.
A benchmark, not a test: it asserts only that every event arrived exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

TOKEN = "bench-token"


async def receive_until(ws, session: str, last_seq: int) -> tuple[int, int]:
    """Read frames until the event with seq == last_seq; return (events, frames)."""
    events = frames = 0
    expect = None
    while True:
        msg = json.loads(await ws.recv())
        if msg.get("session") != session or msg["type"] not in ("event", "events"):
            continue
        batch = msg["events"] if msg["type"] == "events" else [msg]
        frames += 1
        for e in batch:
            if expect is not None:
                assert e["seq"] == expect, f"gap or duplicate at {e['seq']} (expected {expect})"
            expect = e["seq"] + 1
            events += 1
            if e["seq"] >= last_seq:
                return events, frames


async def runner_end_to_end(n: int) -> dict[str, float]:
    data_dir = tempfile.mkdtemp(prefix="ns-bench-")
    env = {**os.environ, "NIGHTSHIFT_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "runner", "--port", "0", "--data-dir", data_dir],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    url = proc.stdout.readline().split()[-1]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with connect(url, additional_headers=headers, proxy=None, max_size=2**26, compression=None) as ws:
            code = f"import sys\nw = sys.stdout.write\nfor i in range({n}): w('event line %d of the benchmark\\n' % i)"
            t0 = time.perf_counter()
            await ws.send(json.dumps({"type": "create", "argv": [sys.executable, "-c", code], "id": 1}))
            while True:
                msg = json.loads(await ws.recv())
                if msg.get("re") == 1:
                    sid = msg["session"]["id"]
                    break
            await ws.send(json.dumps({"type": "attach", "session": sid, "after": 0}))
            last = n + 3  # idle, running, n lines, exited
            events, frames = await receive_until(ws, sid, last)
            live = time.perf_counter() - t0
        async with connect(url, additional_headers=headers, proxy=None, max_size=2**26, compression=None) as ws:
            t0 = time.perf_counter()
            await ws.send(json.dumps({"type": "attach", "session": sid, "after": 0}))
            events2, frames2 = await receive_until(ws, sid, last)
            catchup = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait()
    assert events == events2 == last
    return {"live_eps": last / live, "live_frames": frames, "catchup_eps": last / catchup, "catchup_frames": frames2}


async def raw_websockets(n: int, batch: int) -> float:
    event = {"seq": 0, "ts": 1764480000.123, "kind": "output", "stream": "stdout",
             "text": "event line 123456 of the benchmark"}

    async def handler(ws) -> None:
        if batch == 1:
            for i in range(1, n + 1):
                event["seq"] = i
                await ws.send(json.dumps({"type": "event", "session": "s-bench", **event}))
        else:
            for start in range(1, n + 1, batch):
                items = []
                for i in range(start, min(start + batch, n + 1)):
                    event["seq"] = i
                    items.append(json.dumps(event))
                await ws.send('{"type":"events","session":"s-bench","events":[' + ",".join(items) + "]}")

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", proxy=None, max_size=2**26, compression=None) as ws:
            t0 = time.perf_counter()
            events, _ = await receive_until(ws, "s-bench", n)
            elapsed = time.perf_counter() - t0
    assert events == n
    return n / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    n = args.events
    runner = await runner_end_to_end(n)
    single = await raw_websockets(n, 1)
    batched = await raw_websockets(n, 500)
    print(f"events: {n} (machine: {os.cpu_count()} cores)")
    print(f"runner live, end to end     : {runner['live_eps']:>10,.0f} events/s  ({runner['live_frames']} frames)")
    catchup, frames = runner["catchup_eps"], runner["catchup_frames"]
    print(f"runner catch-up from seq 0  : {catchup:>10,.0f} events/s  ({frames} frames)")
    print(f"raw websockets, 1 per frame : {single:>10,.0f} events/s")
    print(f"raw websockets, 500 / frame : {batched:>10,.0f} events/s")
    print(f"ratio runner live / raw 1-per-frame     : {runner['live_eps'] / single:.2f}")
    print(f"ratio runner live / raw batched         : {runner['live_eps'] / batched:.2f}")
    print(f"ratio runner catch-up / raw batched     : {runner['catchup_eps'] / batched:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
