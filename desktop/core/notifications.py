"""What the user is told about, without Qt: a session that needs approval, failed, finished its turn or ended.

Each notification is keyed by the session's seq when it happened (its head), and a session is never notified
twice for the same change: the policy remembers, per runner and session, the last (seq, status) it notified.
The memory sits behind `NotifiedStore`, so a store that persists it can make "notified once" hold across app
restarts and reconnects (notifying what happened while away builds on this).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from desktop.core.view import SessionInfo
from runner.vocabulary import LIVE_STATUSES


@dataclass(frozen=True)
class Notification:
    runner: str
    session_id: str
    seq: int
    """The session's head when the change was seen."""
    title: str
    body: str


class NotifiedStore(Protocol):
    """Per (runner, session): the (seq, status) last notified."""

    def last(self, runner: str, session_id: str) -> tuple[int, str] | None: ...

    def remember(self, runner: str, session_id: str, seq: int, status: str) -> None: ...

    def forget(self, runner: str, session_id: str) -> None: ...


class MemoryNotifiedStore:
    """Remembers for this run only."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], tuple[int, str]] = {}

    def last(self, runner: str, session_id: str) -> tuple[int, str] | None:
        return self._last.get((runner, session_id))

    def remember(self, runner: str, session_id: str, seq: int, status: str) -> None:
        self._last[(runner, session_id)] = (seq, status)

    def forget(self, runner: str, session_id: str) -> None:
        self._last.pop((runner, session_id), None)

    def __len__(self) -> int:
        return len(self._last)


def describe(info: SessionInfo, previous: str | None) -> tuple[str, str] | None:
    """(title, body) for a status change worth telling the user about, None for any other."""
    if previous is None or previous == info.status:
        return None
    name = info.title or info.id
    if info.status == "needs_approval":
        return f"{name} needs approval", "The agent is waiting for you to allow or deny a tool."
    if info.status == "error":
        return f"{name} failed", str(info.data.get("reason") or "The agent stopped with an error.")
    if previous == "running" and info.status == "idle":
        return f"{name} finished its turn", "The agent is waiting for your next message."
    if previous in LIVE_STATUSES and info.status == "exited":
        code = info.data.get("exit_code")
        return f"{name} finished", f"Exit code {code}." if code is not None else "The process ended."
    return None


class NotificationPolicy:
    def __init__(self, store: NotifiedStore | None = None) -> None:
        self.store: NotifiedStore = store if store is not None else MemoryNotifiedStore()

    def consider(self, runner: str, info: SessionInfo, previous: str | None, *,
                 user_watching: bool) -> Notification | None:
        """A session changed from `previous` to `info.status`. Returns what to show, or None: not worth it, the
        user is looking at the window already (then it counts as seen: never shown later), or already
        notified at this seq."""
        text = describe(info, previous)
        if text is None:
            return None
        last = self.store.last(runner, info.id)
        if last is not None and (info.head < last[0] or (info.head, info.status) == last):
            return None
        self.store.remember(runner, info.id, info.head, info.status)
        if user_watching:
            return None
        return Notification(runner, info.id, info.head, *text)

    def session_removed(self, runner: str, session_id: str) -> None:
        """A deleted session is never notified again: nothing to remember for it."""
        self.store.forget(runner, session_id)
