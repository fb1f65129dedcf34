"""BackgroundTasks: a task started and not awaited is kept until it ends, and its failure is reported."""

from __future__ import annotations

import asyncio
import logging

import pytest

from desktop.core.tasks import BackgroundTasks


async def test_a_failing_task_is_reported_and_forgotten(caplog: pytest.LogCaptureFixture) -> None:
    reported: list[str] = []
    tasks = BackgroundTasks("sending a message", reported.append)

    async def fail() -> None:
        raise RuntimeError("the runner went away")

    with caplog.at_level(logging.ERROR):
        task = tasks.spawn(fail())
        assert tasks
        await asyncio.wait([task])
        await asyncio.sleep(0)  # done callbacks run on the next loop step
    assert reported == ["Internal error: the runner went away"]
    assert "sending a message failed" in caplog.text
    assert not tasks


async def test_finished_and_cancelled_tasks_report_nothing() -> None:
    reported: list[str] = []
    tasks = BackgroundTasks("opening a runner", reported.append)
    release = asyncio.Event()

    async def wait() -> int:
        await release.wait()
        return 1

    done, cancelled = tasks.spawn(wait()), tasks.spawn(wait())
    cancelled.cancel()
    release.set()
    await asyncio.wait([done, cancelled])
    await asyncio.sleep(0)
    assert done.result() == 1
    assert reported == []
    assert not tasks
