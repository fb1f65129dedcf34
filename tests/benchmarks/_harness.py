"""Shared pieces of the runner benchmarks: server processes measured from outside (CPU and RSS from /proc), a lean
protocol client that checks deliveries as they stream in, and row formatting.

Figures are taken as a user's client sees them: a real runner process (`python -m runner`) on loopback, one
websockets client in the benchmark process.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = Path(__file__).resolve().parent
FLOOD_CLAUDE = BENCH_DIR / "flood_claude.py"
RELAY = BENCH_DIR / "relay.py"
TOKEN = "bench-token"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (all its threads, not its children), from /proc."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm", "rb") as f:
        return int(f.read().split()[1]) * PAGE


class ServerProcess:
    """A server in its own process (the runner or the relay) that prints `listening on ws://...` when ready."""

    def __init__(
        self, argv: list[str], env: dict[str, str] | None = None, data_dir: str | None = None, cwd: str = str(ROOT)
    ) -> None:
        self.data_dir = data_dir
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}, cwd=cwd
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r}")
        self.url = line.split()[-1]
        self.pid = self.proc.pid

    @classmethod
    def runner(cls, env: dict[str, str] | None = None) -> ServerProcess:
        """`python -m runner` from this checkout, or from the folder in NIGHTSHIFT_BENCH_RUNNER_SOURCE (a copy of an
        older `runner/`, e.g. `git archive COMMIT runner | tar -x -C DIR`) to measure before and after a change."""
        data_dir = tempfile.mkdtemp(prefix="ns-bench-")
        return cls(
            [sys.executable, "-m", "runner", "--port", "0", "--data-dir", data_dir],
            {"NIGHTSHIFT_TOKEN": TOKEN, "NIGHTSHIFT_CLAUDE_PATH": str(FLOOD_CLAUDE), **(env or {})},
            data_dir,
            cwd=os.environ.get("NIGHTSHIFT_BENCH_RUNNER_SOURCE") or str(ROOT),
        )

    @classmethod
    def relay(cls) -> ServerProcess:
        return cls([sys.executable, str(RELAY)])

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


EventSink = Callable[[list[dict[str, Any]]], None]


class Client:
    """A protocol v1 client that hands event batches to a per-session sink instead of keeping them."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._next_id = 0
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.sinks: dict[str, EventSink] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, token: str | None = TOKEN) -> Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        ws = await connect(url, additional_headers=headers, proxy=None, max_size=None, compression=None)
        return cls(ws)

    async def _read(self) -> None:
        async for frame in self.ws:
            msg = json.loads(frame)
            kind = msg.get("type")
            if kind == "events":
                sink = self.sinks.get(msg["session"])
                if sink is not None:
                    sink(msg["events"])
            elif kind == "event":
                sink = self.sinks.get(msg["session"])
                if sink is not None:
                    del msg["type"], msg["session"]
                    sink([msg])
            elif "re" in msg and msg["re"] in self._replies:
                self._replies.pop(msg["re"]).set_result(msg)

    async def request(self, message: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
        self._next_id += 1
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[self._next_id] = fut
        await self.ws.send(json.dumps({**message, "id": self._next_id}))
        reply = await asyncio.wait_for(fut, timeout)
        if reply.get("type") == "error":
            raise RuntimeError(f"{message['type']} failed: {reply}")
        return reply

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


class DeliveryCheck:
    """Checks a stream of events as it arrives: seqs contiguous, and the texts of the events of `kind` exactly
    the expected ones, once each, in order (an event may hold several consecutive ones: the runner joins the
    deltas of one message that come in one read, the relay does not). `done` is set once `until` has been true
    for `until_count` events."""

    def __init__(self, kind: str, expected_text: Callable[[int], str], until: Callable[[dict[str, Any]], bool],
                 until_count: int = 1, after: int = 0) -> None:
        self.kind = kind
        self.expected_text = expected_text
        self.until = until
        self.until_count = until_count
        self.count = 0
        self.last_seq = after
        self.error: str | None = None
        self.done = asyncio.Event()

    def __call__(self, events: list[dict[str, Any]]) -> None:
        for e in events:
            seq = e["seq"]
            if seq != self.last_seq + 1 and self.error is None:
                self.error = f"seq {seq} after {self.last_seq}"
            self.last_seq = seq
            if e["kind"] == self.kind:
                text = e.get("text")
                if not isinstance(text, str) or not text:
                    self.error = self.error or f"{self.kind} event {seq} without text"
                    continue
                at = 0
                while at < len(text):
                    want = self.expected_text(self.count)
                    if not want or not text.startswith(want, at):
                        got = text[at:at + len(want) + 20]
                        self.error = self.error or f"{self.kind} #{self.count}: {got!r} instead of {want!r}..."
                        break
                    at += len(want)
                    self.count += 1
            elif self.until(e):
                self.until_count -= 1
                if self.until_count <= 0:
                    self.done.set()

    async def wait(self, timeout: float) -> None:
        await asyncio.wait_for(self.done.wait(), timeout)

    def verify(self, n: int, what: str) -> None:
        if self.error is not None:
            raise AssertionError(f"{what}: {self.error}")
        if self.count != n:
            raise AssertionError(f"{what}: {self.count} of {n} delivered")


def is_turn_end(event: dict[str, Any]) -> bool:
    return event["kind"] == "turn_end"


def is_exit(event: dict[str, Any]) -> bool:
    return event["kind"] == "status" and event.get("status") == "exited"


def row(metric: str, figure: str, target: str, ok: bool, baseline: str = "", ratio: str = "") -> dict[str, Any]:
    return {"metric": metric, "figure": figure, "baseline": baseline, "ratio": ratio, "target": target, "ok": ok}


def best(samples: list[tuple[float, float]]) -> tuple[float, float]:
    """(fastest elapsed, lowest CPU) of several (elapsed, cpu) runs: the least disturbed by other load."""
    return min(s[0] for s in samples), min(s[1] for s in samples)


async def against_relay(n: int, reps: int, runner_run: Any, relay_run: Any, what: str, unit: str,
                        cpu_target_us: float) -> list[dict[str, Any]]:
    """Alternate `reps` runs of the runner and of the relay baseline (each `run(server, n) -> (elapsed, cpu)`,
    a fresh relay per run: it serves one client) and report rate and CPU per item beside the relay's."""
    runner_runs, relay_runs = [], []
    with ServerProcess.runner() as runner:
        for _ in range(reps):
            with ServerProcess.relay() as relay:
                relay_runs.append(await relay_run(relay, n))
            runner_runs.append(await runner_run(runner, n))
    (r_time, r_cpu), (b_time, b_cpu) = best(runner_runs), best(relay_runs)
    rate, base_rate = n / r_time, n / b_time
    us, base_us = r_cpu / n * 1e6, b_cpu / n * 1e6
    return [
        row(f"{what}: {n:,} {unit}s, {unit}s/s", f"{rate:,.0f}/s", "≥ 1.0 x relay", rate >= base_rate,
            f"{base_rate:,.0f}/s (relay)", f"{rate / base_rate:.2f}"),
        # /proc counts CPU in clock ticks (10 ms): a smoke run's relay may show none at all.
        row(f"{what}: runner CPU per {unit}", f"{us:.1f} µs", f"≤ {cpu_target_us:g} µs", us <= cpu_target_us,
            f"{base_us:.1f} µs (relay)", f"{us / base_us:.2f}" if base_us else "n/a"),
        row(f"{what}: delivery", f"every {unit} once, in order", f"every {unit} once, in order", True),
    ]
