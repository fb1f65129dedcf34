"""Fixtures for the lifecycle tests: a private D-Bus bus with a fake logind, and a half-open TCP proxy."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.fakes import login1

REPO_ROOT = Path(__file__).resolve().parents[3]
T = TypeVar("T")

# GUI tests run without a display; the suite's own configuration may already say so.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def private_bus() -> Iterator[str]:
    """A dbus-daemon of our own standing in for the system bus; yields its address."""
    try:
        with login1.private_bus() as address:
            yield address
    except login1.DbusDaemonMissing as exc:
        pytest.fail(str(exc))


FakeLogind = login1.FakeLogindProcess


@pytest.fixture
def fake_logind(private_bus: str) -> Iterator[FakeLogind]:
    """A fake org.freedesktop.login1 in its own process on the private bus."""
    fake = FakeLogind(private_bus)
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def qloop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop over the test's QApplication, as the app runs: Qt signals and asyncio in one thread."""
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
    """Run a scenario to its end on the qasync loop (generous timeout: the machine is shared)."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))
