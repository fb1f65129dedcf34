"""A test's qasync loop must not leave Qt objects for another thread's garbage collection to destroy."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref
from typing import Any

import qasync

from tests.desktop.conftest import delete_owned_qobjects


def test_a_closed_loop_with_pending_callbacks_can_be_collected_in_another_thread(qapp: Any) -> None:
    """Closed with a callback still scheduled (a keepalive, a timeout), the loop's timer object still has a Qt
    timer registered. After the fixture's teardown a collection in a runner thread frees the loop without
    "QObject::~QObject: Timers cannot be stopped from another thread" (which fails this test through
    qt_log_level_fail) and without leaving a timer that would later fire into freed memory."""
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)

    async def leave_a_callback_pending() -> None:
        asyncio.get_running_loop().call_later(60, lambda: None)
        await asyncio.sleep(0.01)

    try:
        loop.run_until_complete(leave_a_callback_pending())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    delete_owned_qobjects(loop)  # what the qasync_loop fixture does after closing its loop
    freed = weakref.ref(loop)
    del loop

    collector = threading.Thread(target=gc.collect, name="collector")
    collector.start()
    collector.join()
    assert freed() is None  # the loop was in reference cycles: the other thread's collection freed it

    # The GUI thread's event dispatcher has nothing left from it: a new loop runs its timers undisturbed.
    next_loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(next_loop)
    try:
        next_loop.run_until_complete(asyncio.sleep(0.2))
    finally:
        asyncio.set_event_loop(None)
        next_loop.close()
        delete_owned_qobjects(next_loop)
