"""A loopback WebSocket proxy that loses exactly one reply: the link dies with that frame undelivered.

This is the "sent, but the reply was lost" case made deterministic: the runner has received a request and
answered it, and the view never hears the answer. `drop_next(predicate)` arms the proxy; the next runner-to-view
JSON message for which `predicate(message)` is true is not forwarded, and that connection is aborted on both
sides at once (a reply cannot vanish from a live TCP stream, only with the link). Everything else passes through.

The proxy removes `Sec-WebSocket-Extensions` from the view's handshake so no compression is negotiated and the
runner's frames can be read as they pass. It runs on the running asyncio loop (qasync or plain asyncio).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from collections.abc import Callable
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    """The HTTP head of a handshake, up to and including the blank line."""
    return await reader.readuntil(b"\r\n\r\n")


def _without_extensions(head: bytes) -> bytes:
    lines = head.split(b"\r\n")
    return b"\r\n".join(line for line in lines if not line.lower().startswith(b"sec-websocket-extensions:"))


async def _read_frame(reader: asyncio.StreamReader) -> tuple[bytes, int, bytes]:
    """One WebSocket frame: (the raw bytes to forward, the opcode, the unmasked payload)."""
    head = await reader.readexactly(2)
    opcode = head[0] & 0x0F
    masked = head[1] & 0x80
    length = head[1] & 0x7F
    extra = b""
    if length == 126:
        extra = await reader.readexactly(2)
        length = struct.unpack("!H", extra)[0]
    elif length == 127:
        extra = await reader.readexactly(8)
        length = struct.unpack("!Q", extra)[0]
    mask = await reader.readexactly(4) if masked else b""
    payload = await reader.readexactly(length)
    raw = head + extra + mask + payload
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return raw, opcode, payload


class ReplyDroppingProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.accepted = 0
        self.dropped: list[dict[str, Any]] = []
        """The messages dropped so far (each one cost its connection)."""
        self._armed: Predicate | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    async def start(self) -> ReplyDroppingProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def drop_next(self, predicate: Predicate) -> None:
        """Lose the next runner-to-view message matching `predicate`, with its connection."""
        self._armed = predicate

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        link = (writer, up_writer)
        self._writers.update(link)

        def abort() -> None:
            for w in link:
                with contextlib.suppress(Exception):
                    w.transport.abort()

        async def upstream() -> None:
            with contextlib.suppress(Exception):
                up_writer.write(_without_extensions(await _read_head(reader)))
                while data := await reader.read(65536):
                    up_writer.write(data)
                    await up_writer.drain()
            abort()

        async def downstream() -> None:
            with contextlib.suppress(Exception):
                writer.write(await _read_head(up_reader))
                while True:
                    raw, opcode, payload = await _read_frame(up_reader)
                    if opcode == 0x1 and self._armed is not None:
                        message = json.loads(payload)
                        if isinstance(message, dict) and self._armed(message):
                            self._armed = None
                            self.dropped.append(message)
                            break
                    writer.write(raw)
                    await writer.drain()
            abort()

        await asyncio.gather(upstream(), downstream())
        self._writers.difference_update(link)
