"""Cyclic garbage made in another thread is collected in the GUI thread, not where it happened to be made."""

from __future__ import annotations

import gc
import threading
from typing import Any

from desktop.qt.gui_gc import GuiThreadCollector


class Cyclic:
    def __init__(self, where: list[str]) -> None:
        self.me = self
        self.where = where

    def __del__(self) -> None:
        self.where.append(threading.current_thread().name)


def test_cycles_made_in_a_worker_are_collected_in_the_gui_thread(qtbot: Any) -> None:
    collector = GuiThreadCollector(interval_ms=20)
    collector.start()
    where: list[str] = []
    try:
        def worker() -> None:
            Cyclic(where)
            # Enough tracked allocations to trigger several automatic collections in this thread.
            keep = [[] for _ in range(50_000)]
            assert len(keep) == 50_000

        thread = threading.Thread(target=worker, name="runner-like")
        thread.start()
        thread.join()
        assert where == []  # nothing was collected in the worker
        qtbot.waitUntil(lambda: where == [threading.main_thread().name], timeout=10_000)
        assert collector.collections >= 1
    finally:
        collector.stop()
    assert gc.isenabled()


def test_without_it_the_worker_collects() -> None:
    """The hazard the collector exists for (keeps the first test honest)."""
    assert gc.isenabled()
    where: list[str] = []

    def worker() -> None:
        Cyclic(where)
        keep = [[] for _ in range(50_000)]
        assert len(keep) == 50_000

    thread = threading.Thread(target=worker, name="runner-like")
    thread.start()
    thread.join()
    assert where == ["runner-like"]
