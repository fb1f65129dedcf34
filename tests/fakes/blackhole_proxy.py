"""A loopback TCP proxy that can stop forwarding without closing: a half-open connection on demand.

After a laptop sleeps, the connection it had is often dead at the far end while the local socket still
looks open: writes succeed, nothing ever arrives, no FIN, no RST. `freeze()` makes the connections open at
that moment behave exactly so (bytes in both directions are read and dropped, the sockets stay open), while
new connections go through normally, as they would after the wake. `set_down(True)` black-holes new
connections too (the network is gone).

The proxy runs its own asyncio loop in a thread, so it works under any test loop (qasync, pytest-asyncio).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field


@dataclass
class _Link:
    client_writer: asyncio.StreamWriter
    target_writer: asyncio.StreamWriter | None = None
    frozen: bool = False
    closed: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class BlackholeProxy:
    def __init__(self, target_host: str, target_port: int, listen_host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.listen_host = listen_host
        self.port = 0
        self.accepted = 0
        self._down = False
        self._refusing = False
        self._links: list[_Link] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None

    # -- control (any thread) --

    @property
    def url(self) -> str:
        return f"ws://{self.listen_host}:{self.port}"

    def start(self) -> BlackholeProxy:
        self._thread = threading.Thread(target=self._run, name="blackhole-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        if self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(10)
        self._loop = None

    def freeze(self) -> int:
        """Stop forwarding on every connection open now, without closing any; returns how many were frozen."""
        return self._call(self._freeze)

    def set_down(self, down: bool) -> None:
        """While down, new connections are accepted and black-holed like frozen ones."""
        self._call(self._set_down, down)

    def set_refusing(self, refusing: bool) -> None:
        """While refusing, new connections are closed at once (like a host that is up but not listening)."""
        self._call(self._set_refusing, refusing)

    def live_connections(self) -> int:
        """Connections open and forwarding."""
        return self._call(lambda: sum(1 for link in self._links if not link.closed and not link.frozen))

    def open_connections(self) -> int:
        """Connections whose client side is still open, frozen or not."""
        return self._call(lambda: sum(1 for link in self._links if not link.closed))

    def __enter__(self) -> BlackholeProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the proxy's own loop --

    def _call(self, function, *args):  # type: ignore[no-untyped-def]
        if self._loop is None:
            raise RuntimeError("the proxy is not running")

        async def run():  # type: ignore[no-untyped-def]
            return function(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def _freeze(self) -> int:
        count = 0
        for link in self._links:
            if not link.closed and not link.frozen:
                link.frozen = True
                count += 1
        return count

    def _set_down(self, down: bool) -> None:
        self._down = down

    def _set_refusing(self, refusing: bool) -> None:
        self._refusing = refusing

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._server = await asyncio.start_server(self._on_client, self.listen_host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stopped.wait()
        self._server.close()
        for link in self._links:
            self._close(link)
        tasks = [task for link in self._links for task in link.tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _on_client(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        self.accepted += 1
        if self._refusing:
            client_writer.transport.abort()
            return
        link = _Link(client_writer, frozen=self._down)
        self._links.append(link)
        if link.frozen:
            # The network is down: the client's bytes vanish and nothing ever comes back.
            link.tasks.append(asyncio.current_task())  # type: ignore[arg-type]
            await self._pump(client_reader, None, link)
            return
        try:
            target_reader, target_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            self._close(link)
            return
        link.target_writer = target_writer
        link.tasks.append(asyncio.create_task(self._pump(client_reader, target_writer, link)))
        link.tasks.append(asyncio.create_task(self._pump(target_reader, client_writer, link)))

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None, link: _Link
    ) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if link.frozen or writer is None:
                    continue  # dropped on the floor, like packets to a peer that went away
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        # A frozen link never passes on a close: the other side must find out by itself (keepalive).
        if not link.frozen:
            self._close(link)

    def _close(self, link: _Link) -> None:
        if link.closed:
            return
        link.closed = True
        for writer in (link.client_writer, link.target_writer):
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.close()
