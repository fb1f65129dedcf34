"""A real embedded runner, the real desktop connection and view core, a half-open proxy between them, and
the lifecycle watcher and controller on top: everything the lifecycle tests and benchmark drive."""

from __future__ import annotations

import asyncio
import collections
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from desktop.connection import RunnerConnection
from desktop.core.backoff import Backoff
from desktop.core.status import Color, ConnectionStatus
from desktop.core.view import ViewCore, ViewListener
from desktop.lifecycle.clock import Clock, ManualClock
from desktop.lifecycle.controller import LifecycleController
from desktop.lifecycle.sources.base import LifecycleSource
from desktop.lifecycle.watcher import LifecycleWatcher
from runner.embedded import EmbeddedRunner
from tests.desktop.qt.helpers import ConnectionLog
from tests.fakes.blackhole_proxy import BlackholeProxy
from tests.fakes.view_client import ViewClient

# Prints numbered lines, each with its own pid, in bursts, until the stop file appears; then one last line.
STREAMER = """
import os, sys, time
stop, pid, n = sys.argv[1], os.getpid(), 0
while not os.path.exists(stop):
    for _ in range(50):
        n += 1
        print(f"{pid} line {n}")
    sys.stdout.flush()
    time.sleep(0.01)
print(f"{pid} done {n}", flush=True)
"""


class Recorder(ViewListener):
    """What the view was given: every delivery (the rendering work) and every status (the dot)."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[float, str, list[dict[str, Any]]]] = []
        self.statuses: list[tuple[float, ConnectionStatus]] = []

    def events(self, session_id: str, events: list[dict[str, Any]]) -> None:
        self.deliveries.append((time.monotonic(), session_id, list(events)))

    def status_changed(self, status: ConnectionStatus) -> None:
        self.statuses.append((time.monotonic(), status))

    def delivered(self, session_id: str) -> list[dict[str, Any]]:
        return [e for _, sid, batch in self.deliveries if sid == session_id for e in batch]

    def colors_since(self, since: float) -> list[Color]:
        """The dot's colors after `since`, consecutive repeats merged, starting with the one shown then."""
        before = [s.color for t, s in self.statuses if t < since]
        colors = before[-1:] + [s.color for t, s in self.statuses if t >= since]
        merged: list[Color] = []
        for color in colors:
            if not merged or merged[-1] != color:
                merged.append(color)
        return merged


async def until(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> float:
    """Poll until predicate() is true; return the time.monotonic() it became true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)
    return time.monotonic()


class Harness:
    def __init__(
        self,
        tmp: Path,
        *,
        clock: Clock | None = None,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        backoff: Backoff | None = None,
        probe_timeout: float = 1.0,
    ) -> None:
        self.tmp = tmp
        self.runner = EmbeddedRunner(str(tmp / "data"))
        self.runner.start()
        self.proxy = BlackholeProxy("127.0.0.1", self.runner.port).start()
        self.recorder = Recorder()
        self.core = ViewCore(self.recorder, runner_label="test")
        self.log = ConnectionLog()
        self.connection = RunnerConnection(
            self.proxy.url,
            self.runner.token,
            self.core,
            backoff=backoff,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            observer=self.log,
        )
        self.clock = clock or ManualClock()
        self.watcher = LifecycleWatcher(clock=self.clock)
        self.controller = LifecycleController(self.watcher, self.connection, probe_timeout=probe_timeout)
        self.actions: collections.Counter[str] = collections.Counter()
        """How often the controller did each thing it reports through `acted` ("probe", "probe failed", ...)."""
        self.controller.acted.connect(lambda what: self.actions.update([what]))
        self.resumed_at: list[float] = []
        self.watcher.resumed.connect(lambda _seconds: self.resumed_at.append(time.monotonic()))
        self.stop_file = tmp / "stop-streaming"

    def add_source(self, source: LifecycleSource) -> None:
        assert self.watcher.add_source(source), self.watcher.failed_sources

    @property
    def color(self) -> Color:
        return self.core.status.color

    async def connect(self) -> None:
        self.connection.start()
        await until(lambda: self.color is Color.GREEN, 30, "the first connection")

    async def start_streamer(self) -> str:
        reply = await self.connection.request(
            {
                "type": "create",
                "agent": "command",
                "argv": [sys.executable, "-u", "-c", STREAMER, str(self.stop_file)],
                "cwd": str(self.tmp),
                "title": "streamer",
            }
        )
        session_id = reply["session"]["id"]
        self.connection.open_session(session_id)
        await until(lambda: len(self.recorder.delivered(session_id)) > 100, 30, "the first lines")
        await until(lambda: self.color is Color.GREEN, 30, "live")
        return session_id

    def head(self, session_id: str) -> int:
        return self.core.sessions[session_id].head

    def cursor_last(self, session_id: str) -> int:
        return self.core.cursors[session_id].last

    async def finish_streamer(self, session_id: str) -> None:
        """Stop the streamer, then wait until the view has every event the runner journaled."""
        self.stop_file.write_text("stop")

        def exit_rendered() -> bool:
            delivered = self.recorder.delivered(session_id)
            return any(e["kind"] == "status" and e.get("status") == "exited" for e in delivered)

        await until(exit_rendered, 60, "the streamer's exit to reach the view")
        await until(lambda: self.color is Color.GREEN, 60, "live")

    async def journal(self, session_id: str) -> list[dict[str, Any]]:
        """Every event of the session as the runner's journal serves it to a fresh view."""
        client = await ViewClient.open(self.runner.url, self.runner.token)
        try:
            await client.request({"type": "hello", "protocol": 1})
            attached = await client.request({"type": "attach", "session": session_id, "after": 0})
            head = attached["head"]
            await client.wait_for(lambda: len(client.events.get(session_id, [])) >= head, 60)
            return client.events[session_id]
        finally:
            await client.close()

    async def assert_exact_catch_up(self, session_id: str) -> set[int]:
        """The view got the journal exactly (no row missing or doubled); returns the agent pids seen."""
        journal = await self.journal(session_id)
        delivered = self.recorder.delivered(session_id)
        assert [e["seq"] for e in delivered] == list(range(1, len(journal) + 1))
        assert delivered == journal
        pids = {e["text"].split()[0] for e in delivered if e["kind"] == "output"}
        statuses = [e.get("status") for e in delivered if e["kind"] == "status"]
        assert "interrupted" not in statuses
        assert statuses[-1] == "exited", statuses
        return {int(pid) for pid in pids}

    async def close(self) -> None:
        self.controller.close()
        self.watcher.stop()
        await self.connection.close()
        self.proxy.stop()
        self.stop_file.write_text("stop")
        self.runner.stop()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
