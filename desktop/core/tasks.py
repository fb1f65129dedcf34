"""Tasks started and not awaited (opening a runner, sending a message from a button): kept referenced until they
end, and a failure reported instead of lost in the loop's log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class BackgroundTasks:
    """A set of running tasks; `report(message)` is told of each one that fails."""

    def __init__(self, what: str, report: Callable[[str], None]) -> None:
        self._what = what  # "opening or closing a runner": what the log says failed
        self._report = report
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def __bool__(self) -> bool:
        return bool(self._tasks)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("%s failed", self._what, exc_info=error)
            self._report(f"Internal error: {error}")
