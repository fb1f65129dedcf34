"""The interface every lifecycle source implements, and what a source may call on the watcher."""

from __future__ import annotations

from typing import Protocol

from desktop.lifecycle.core import Network


class SourceUnavailable(Exception):
    """This source cannot work here (no system bus, no pyobjc, other platform); the app goes on without it."""


class LifecycleSink(Protocol):
    """What sources report to (the watcher). Every method may be called from the GUI thread only."""

    def report_hidden(self, reason: str) -> None: ...

    def report_shown(self, reason: str) -> None: ...

    def prime_hidden(self, reason: str) -> None: ...

    def report_suspending(self, source: str) -> None: ...

    def report_resumed(self, source: str, seconds_asleep: float | None = None) -> None: ...

    def report_network(self, source: str, state: Network | None) -> None: ...


class LifecycleSource:
    """One optional way of learning about the app's or machine's lifecycle.

    `start()` raises SourceUnavailable (or anything else) when the source cannot work; the watcher logs that
    once and carries on. `stop()` must be safe to call after a failed or partial start.
    """

    name: str = "source"

    def start(self, sink: LifecycleSink) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        pass
