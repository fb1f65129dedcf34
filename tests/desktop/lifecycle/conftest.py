"""Fixtures for the lifecycle tests: a private D-Bus bus with a fake logind, and a half-open TCP proxy."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.fakes import dbus_bus, login1

REPO_ROOT = Path(__file__).resolve().parents[3]
T = TypeVar("T")


@pytest.fixture
def private_bus() -> Iterator[str]:
    """A dbus-daemon of our own standing in for the system bus; yields its address."""
    with dbus_bus.private_bus() as address:
        yield address


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
def qloop(qasync_loop: asyncio.AbstractEventLoop) -> asyncio.AbstractEventLoop:
    """The app's loop (tests/desktop/conftest.py): qasync over the test's QApplication."""
    return qasync_loop


def run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
    """Run a scenario to its end on the qasync loop (generous timeout: the machine is shared)."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))
