"""A recording AgentHost: what an agent emits, its statuses and its saved state, with waits for tests.

It also renders a transcript the way a view would (deltas of one message_id concatenated), using only the
normalized event kinds of runner/EVENTS.md and never the agent's name.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


class RecordingHost:
    def __init__(
        self,
        cwd: str,
        options: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
        session_id: str = "s-test",
    ) -> None:
        self.session_id = session_id
        self.cwd = cwd
        self.options: dict[str, Any] = dict(options or {})
        self.state: dict[str, Any] = dict(state or {})
        self.events: list[dict[str, Any]] = []
        self.status: str | None = None
        self.saves = 0
        self.images: dict[str, bytes] = {}
        """Images stored (blob id -> bytes), each before the first event that refers to it."""
        self._changed = asyncio.Event()

    # --- AgentHost -------------------------------------------------------------------------------------

    def emit(self, kind: str, **fields: Any) -> None:
        self.events.append({"seq": len(self.events) + 1, "ts": time.time(), "kind": kind, **fields})
        self._changed.set()

    def emit_events(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        for kind, fields in events:
            self.emit(kind, **fields)

    def emit_lines(self, stream: str, lines: list[str]) -> None:
        for text in lines:
            self.emit("output", stream=stream, text=text)

    def store_image(self, image: Any) -> None:
        self.images[image.blob_id] = image.data

    def set_status(self, status: str, **fields: Any) -> None:
        self.status = status
        fields.pop("pid", None)
        self.emit("status", status=status, **fields)

    def save_state(self, **values: Any) -> None:
        self.state.update(values)
        self.saves += 1
        self._changed.set()

    async def backpressure(self) -> None:
        return None

    # --- test helpers -------------------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what or predicate}; events: {self.brief()}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))
            except TimeoutError:
                pass

    async def wait_event(
        self, kind: str, count: int = 1, timeout: float = 60.0, **match: Any
    ) -> dict[str, Any]:
        """The count-th event of `kind` whose fields include `match`."""

        def found() -> dict[str, Any] | None:
            hits = self.of(kind, **match)
            return hits[count - 1] if len(hits) >= count else None

        return await self.wait_for(found, timeout, f"{count}x {kind} {match}")

    async def wait_status(self, status: str, count: int = 1, timeout: float = 60.0) -> dict[str, Any]:
        return await self.wait_event("status", count=count, timeout=timeout, status=status)

    def of(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [e for e in self.events if e["kind"] == kind and all(e.get(k) == v for k, v in match.items())]

    def statuses(self) -> list[str]:
        return [e["status"] for e in self.of("status")]

    def messages(self, kind: str = "assistant") -> list[tuple[str, str]]:
        """(message_id, text) per message, deltas concatenated in order, as a view shows them."""
        order: list[str] = []
        texts: dict[str, str] = {}
        for e in self.of(kind):
            mid = e.get("message_id") or f"_{e['seq']}"
            if mid not in texts:
                order.append(mid)
                texts[mid] = ""
            texts[mid] += e["text"]
        return [(mid, texts[mid]) for mid in order]

    def text(self, kind: str = "assistant") -> str:
        return "".join(t for _, t in self.messages(kind))

    def brief(self) -> list[str]:
        out = []
        for e in self.events[-40:]:
            fields = {
                k: (v if not isinstance(v, str) or len(v) < 80 else v[:80] + "...")
                for k, v in e.items()
                if k not in ("seq", "ts", "kind")
            }
            out.append(f"{e['kind']} {fields}")
        return out
