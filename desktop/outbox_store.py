"""The outbox on disk: one small JSON file per runner and app instance, written atomically, mode 0600.

Each running app writes only its own file (`<runner digest>-<instance>.json`), so two instances never
overwrite each other's items. At start an instance takes over every file left for its runner (by a quit, a
crash, a reboot, or another instance): it loads them all and, once its own file holds their items, deletes
them. If that other instance is still running, both may send the same item: the runner applies each
client_msg_id once, and a second answer to a permission request is refused as `unknown_request`, so
nothing happens twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner.atomic_file import write_atomically

log = logging.getLogger(__name__)

FORMAT = 1
SAVE_DELAY = 0.3
"""Seconds a non-urgent change (an item settled) may wait, so a burst of replies costs one write."""


def runner_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class FileOutboxStore:
    def __init__(self, folder: Path, runner_key: str, delay: float = SAVE_DELAY) -> None:
        self.folder = folder
        self.runner_key = runner_key
        self.digest = runner_digest(runner_key)
        self.instance = uuid.uuid4().hex[:12]
        self.path = folder / f"{self.digest}-{self.instance}.json"
        self.delay = delay
        self._adopted: list[Path] = []
        self._pending: list[dict[str, Any]] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._soon = False
        self.writes = 0
        self.on_error: Callable[[OSError], None] | None = None
        """Told about a write that failed later, on the event loop (the outbox tells the user)."""

    # ------------------------------------------------------------------ reading

    def load(self) -> list[dict[str, Any]]:
        """Every item left in this runner's files, oldest file first.

        Each file is first renamed to a name of ours: an instance still running that writes its file again
        meanwhile creates a new one, which is never deleted here (deleting the file we read could lose what
        it added after we read it). Renamed files still match the pattern, so a crash before our first write
        leaves them for the next run."""
        try:
            files = [p for p in self.folder.glob(f"{self.digest}-*.json") if p != self.path]
        except OSError as exc:
            log.warning("cannot read the outbox folder %s: %s", self.folder, exc)
            return []
        files.sort(key=_mtime)
        records: list[dict[str, Any]] = []
        for n, found in enumerate(files):
            path = self.folder / f"{self.digest}-{self.instance}-adopted-{n}.json"
            try:
                os.replace(found, path)
            except FileNotFoundError:
                continue  # taken over by another instance meanwhile
            except OSError as exc:
                log.warning("cannot take over the outbox file %s: %s", found, exc)
                continue
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue  # taken over by another instance meanwhile
            except (OSError, ValueError) as exc:
                # Written atomically, so a broken file is not ours to judge: keep it, say so, go on.
                log.warning("ignoring the unreadable outbox file %s: %s", path, exc)
                continue
            if not isinstance(data, dict) or data.get("runner") != self.runner_key:
                continue
            items = data.get("items")
            if not isinstance(items, list):
                continue
            records.extend(r for r in items if isinstance(r, dict))
            self._adopted.append(path)
        return records

    # ------------------------------------------------------------------ writing

    def save(self, records: list[dict[str, Any]], urgent: bool) -> None:
        """Urgent (a new item): written before this turn of the event loop ends, so that messages typed or
        restored together cost one write (a write with its fsyncs takes milliseconds, tens on a busy disk).
        Otherwise a little later."""
        self._pending = records
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        if urgent:
            if not self._soon:
                self._soon = True
                loop.call_soon(self._timer_fired)
        elif self._timer is None:
            self._timer = loop.call_later(self.delay, self._timer_fired)

    def _timer_fired(self) -> None:
        self._soon = False
        try:
            self.flush()
        except OSError as exc:
            if self.on_error is not None:
                self.on_error(exc)
            else:
                log.warning("cannot save the outbox: %s", exc)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending is None:
            return
        records, self._pending = self._pending, None
        try:
            self._write(records)
        except OSError:
            self._pending = records if self._pending is None else self._pending  # try again next time
            raise
        for path in self._adopted:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._adopted.clear()

    def _write(self, records: list[dict[str, Any]]) -> None:
        self.writes += 1
        if not records:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        payload = json.dumps({"format": FORMAT, "runner": self.runner_key, "items": records},
                             ensure_ascii=True, separators=(",", ":")).encode("ascii")
        write_atomically(self.path, payload)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
