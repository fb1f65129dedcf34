"""What the user is told about, without Qt: a session that needs approval, failed, finished its turn or ended.

Each notification is keyed by the session's seq when it happened (its head), and a session is never notified
twice for the same change: the policy remembers, per runner and session, the last (seq, status, turn ended) it saw
(every change it was shown, notified or not). The runner's `turn_ended` (the seq of the status event that last
ended a turn) tells a turn that ran whole while the app was away, idle before and after. The memory sits behind
`NotifiedStore`; `FileNotifiedStore` keeps it in a JSON file, so a change that happened while the app was away
(asleep, offline, closed) is told once when the session list comes back (`NotificationPolicy.listed`), and never
again after the next reconnect or restart.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

from desktop.core.view import SessionInfo
from runner.atomic_file import write_atomically
from runner.vocabulary import LIVE_STATUSES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notification:
    runner: str
    session_id: str
    seq: int
    """The session's head when the change was seen."""
    title: str
    body: str


UNKNOWN_TURN = -1
"""`Seen.turn_ended` of a session remembered before turns were (a file of an older version): whether a turn ended
since is unknown, and not told."""


class Seen(NamedTuple):
    seq: int
    status: str
    turn_ended: int | None = None
    """The runner's `turn_ended` then (None: no turn had ended, or a runner that does not say)."""


class NotifiedStore(Protocol):
    """Per (runner, session): what was last seen. `flush` makes what was remembered durable (the policy
    calls it before it returns a notification, so a notification shown is never shown again after a crash)."""

    def last(self, runner: str, session_id: str) -> Seen | None: ...

    def remember(self, runner: str, session_id: str, seen: Seen) -> None: ...

    def forget(self, runner: str, session_id: str) -> None: ...

    def keep_only(self, runner: str, session_ids: Iterable[str]) -> None:
        """Forget this runner's sessions other than these (deleted while the app was away)."""

    def flush(self) -> None: ...


class MemoryNotifiedStore:
    """Remembers for this run only."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], Seen] = {}
        self.dirty = False

    def last(self, runner: str, session_id: str) -> Seen | None:
        return self._last.get((runner, session_id))

    def remember(self, runner: str, session_id: str, seen: Seen) -> None:
        if self._last.get((runner, session_id)) != seen:
            self._last[(runner, session_id)] = seen
            self.dirty = True

    def forget(self, runner: str, session_id: str) -> None:
        if self._last.pop((runner, session_id), None) is not None:
            self.dirty = True

    def keep_only(self, runner: str, session_ids: Iterable[str]) -> None:
        keep = set(session_ids)
        for key in [k for k in self._last if k[0] == runner and k[1] not in keep]:
            del self._last[key]
            self.dirty = True

    def flush(self) -> None:
        self.dirty = False

    def __len__(self) -> int:
        return len(self._last)


class FileNotifiedStore(MemoryNotifiedStore):
    """What was seen, in a JSON file (`{"runners": {runner: {session: [seq, status, turn_ended]}}}`; a file
    written before turns were remembered has [seq, status]: UNKNOWN_TURN), replaced atomically on
    each flush that has something new. An unreadable file is set aside (`.bad`) and the store starts empty: at
    worst a change is told once more, never lost. A failed write is logged and retried at the next flush."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            runners = data["runners"]
            for runner, sessions in runners.items():
                for session_id, (seq, status, *turn) in sessions.items():
                    turn_ended = turn[0] if turn else UNKNOWN_TURN
                    if isinstance(seq, int) and isinstance(status, str) and isinstance(turn_ended, int | None):
                        self._last[(str(runner), str(session_id))] = Seen(seq, status, turn_ended)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("cannot read %s (%s): set aside, starting with nothing seen", path, exc)
            self._last.clear()
            try:
                os.replace(path, path.with_suffix(".bad"))
            except OSError:
                pass

    def flush(self) -> None:
        if not self.dirty:
            return
        runners: dict[str, dict[str, list[object]]] = {}
        for (runner, session_id), seen in sorted(self._last.items()):
            runners.setdefault(runner, {})[session_id] = list(seen)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, json.dumps({"runners": runners}).encode())
        except OSError as exc:
            log.warning("cannot save what was notified to %s: %s", self.path, exc)
            return
        self.dirty = False


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


def turn_ended_since(last: Seen, now: Seen) -> bool:
    return (last.turn_ended != UNKNOWN_TURN and now.turn_ended is not None
            and now.turn_ended > (last.turn_ended or 0))


class NotificationPolicy:
    def __init__(self, store: NotifiedStore | None = None) -> None:
        self.store: NotifiedStore = store if store is not None else MemoryNotifiedStore()

    def consider(self, runner: str, info: SessionInfo, previous: str | None, *,
                 user_watching: bool) -> Notification | None:
        """A session changed from `previous` to `info.status` (None: `previous` unknown here, as in a session
        list after a reconnect; then the status last seen, remembered in the store, is the one it changed from).
        Returns what to show, or None: not worth it, the user is looking at the window already (then it counts
        as seen: never shown later), or already seen at this seq."""
        notification = self._consider(runner, info, previous, user_watching)
        self.store.flush()
        return notification

    def listed(self, runner: str, sessions: Iterable[SessionInfo], *,
               user_watching: bool) -> list[Notification]:
        """The runner's whole session list (after a connect or reconnect): one notification per session that
        changed, while nobody saw it, to a state worth telling; sessions no longer listed are forgotten."""
        sessions = list(sessions)
        self.store.keep_only(runner, (s.id for s in sessions))
        told = [n for info in sessions if (n := self._consider(runner, info, None, user_watching)) is not None]
        self.store.flush()
        return told

    def _consider(self, runner: str, info: SessionInfo, previous: str | None,
                  user_watching: bool) -> Notification | None:
        last = self.store.last(runner, info.id)
        turn_ended = info.data.get("turn_ended")
        seen = Seen(info.head, info.status, turn_ended if isinstance(turn_ended, int) else None)
        if last is not None and (info.head < last.seq or seen == last):
            return None
        if previous is None and last is not None:
            previous = last.status
            if previous not in LIVE_STATUSES and turn_ended_since(last, seen):
                previous = "running"  # a whole turn ran while the app was away: told as if seen ending
        self.store.remember(runner, info.id, seen)
        text = describe(info, previous)
        if text is None or user_watching:
            return None
        return Notification(runner, info.id, info.head, *text)

    def session_removed(self, runner: str, session_id: str) -> None:
        """A deleted session is never notified again: nothing to remember for it."""
        self.store.forget(runner, session_id)
        self.store.flush()
