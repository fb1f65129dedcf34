"""ViewClient: a minimal raw protocol v1 client for tests (no desktop code), over a real WebSocket."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from runner.vocabulary import reply_problems


class ViewClient:
    """Sends requests and sorts what arrives: replies by `re`, events per session, pushes in a list."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._replies: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.pushes: list[dict[str, Any]] = []
        self.frames: list[dict[str, Any]] = []
        self.problems: list[str] = []
        """Frames that are not what runner/vocabulary.py says the runner sends (`close()` fails on any)."""
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self.closed = asyncio.Event()

    @classmethod
    async def open(cls, url: str, token: str | None, **kwargs: Any) -> ViewClient:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        ws = await connect(url, additional_headers=headers, proxy=None, max_size=64 * 1024 * 1024, **kwargs)
        return cls(ws)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                msg = json.loads(frame)
                self.problems += [f"{p} in {frame[:200]}" for p in reply_problems(msg)]
                self.frames.append(msg)
                kind = msg.get("type")
                if kind == "event":
                    event = {k: v for k, v in msg.items() if k not in ("type", "session")}
                    self.events.setdefault(msg["session"], []).append(event)
                elif kind == "events":
                    self.events.setdefault(msg["session"], []).extend(msg["events"])
                elif "re" in msg and msg["re"] in self._replies:
                    fut = self._replies.pop(msg["re"])
                    if not fut.done():
                        fut.set_result(msg)
                else:
                    self.pushes.append(msg)
                self._changed.set()
        except Exception:
            pass
        finally:
            self.closed.set()
            self._changed.set()

    async def request(self, message: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        rid = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[rid] = fut
        await self.ws.send(json.dumps({**message, "id": rid}))
        return await asyncio.wait_for(fut, timeout)

    async def send_raw(self, frame: str | bytes) -> None:
        await self.ws.send(frame)

    async def wait_for(self, predicate: Any, timeout: float = 30.0) -> None:
        async def loop() -> None:
            while not predicate():
                self._changed.clear()
                if self.closed.is_set() and not predicate():
                    raise ConnectionError("connection closed while waiting")
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)

    def seqs(self, session: str) -> list[int]:
        return [e["seq"] for e in self.events.get(session, [])]

    def texts(self, session: str, kind: str = "output") -> list[str]:
        return [e["text"] for e in self.events.get(session, []) if e["kind"] == kind]

    async def wait_status(self, session: str, *statuses: str, timeout: float = 30.0) -> dict[str, Any]:
        """Wait for a status event of the attached session with one of `statuses`; return it."""
        found: list[dict[str, Any]] = []

        def done() -> bool:
            found[:] = [
                e for e in self.events.get(session, []) if e["kind"] == "status" and e["status"] in statuses
            ]
            return bool(found)

        await self.wait_for(done, timeout)
        return found[-1]

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        assert not self.problems, "the runner sent frames outside its vocabulary:\n" + "\n".join(self.problems)
