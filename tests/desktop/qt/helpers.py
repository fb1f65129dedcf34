"""Helpers for the desktop integration tests: waiting, a cuttable proxy, reading the journal."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

from tests.fakes.view_client import ViewClient

TIMEOUT_SCALE = float(os.environ.get("NIGHTSHIFT_TEST_TIMEOUT_SCALE", "1"))
"""Multiplies the waits below: scripts/mutation.sh shortens them, so a mutant that breaks a behaviour fails in
seconds instead of at a time-out generous enough for a busy machine."""


async def until(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    timeout *= TIMEOUT_SCALE
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


class CutProxy:
    """A loopback TCP forwarder to a runner that can be cut (every connection aborted, new ones
    refused) and restored on the same port: the network going away and coming back, with the runner
    untouched."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.accepted = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            with contextlib.suppress(Exception):
                w.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._writers.discard(writer)
        self._writers.discard(up_writer)

    async def close(self) -> None:
        await self.cut()


def kill_view_sockets(embedded: Any) -> int:
    """Abort, on the runner's side, every connection a view has to it (the runner keeps running)."""
    server = embedded._runner.server
    views = list(server.views)

    def abort() -> None:
        for view in views:
            transport = view.ws.transport
            if transport is not None:
                transport.abort()

    embedded._loop.call_soon_threadsafe(abort)
    return len(views)


async def journal(url: str, token: str, session_id: str) -> list[dict[str, Any]]:
    """Every event of a session as the runner serves it to a fresh view from seq 0."""
    client = await ViewClient.open(url, token)
    try:
        await client.request({"type": "hello", "protocol": 1})
        attached = await client.request({"type": "attach", "session": session_id, "after": 0})
        head = attached["head"]
        await client.wait_for(lambda: len(client.events.get(session_id, [])) >= head, 60)
        return client.events.get(session_id, [])[:head]
    finally:
        await client.close()


class ConnectionLog:
    """What a RunnerConnection reports through its `observer` hook, with the counts tests ask about: sockets
    opened, and the most open at once (there must never be two)."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.opened = 0
        self.live = 0
        self.max_live = 0

    def __call__(self, what: str) -> None:
        self.events.append(what)
        if what == "opened":
            self.opened += 1
            self.live += 1
            self.max_live = max(self.max_live, self.live)
        elif what == "closed":
            self.live -= 1
