"""Sidebar figures: a runner listing its sessions again (every reconnect, every wake) into the grouped list.

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_sidebar.py [--sessions 2000]

Two runners' groups in the real main window (shown, offscreen). Measured: the second runner re-listing all of its
sessions (all known: a reconnect), and listing them with a tenth new (a reconnect after others made sessions
there), each the median of 5. Baseline, in the same run and window: the list replaced by a model reset (one
signal and one full filter pass, what the ungrouped sidebar did), which loses the selection and scroll position
the grouped list keeps.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtWidgets import QApplication

from desktop.core.view import SessionInfo
from desktop.qt.main_window import MainWindow
from desktop.qt.sessions import SessionListModel, _Row


def sessions(n: int, prefix: str = "s") -> list[SessionInfo]:
    return [SessionInfo(id=f"{prefix}{i}", title=f"session {i}", agent="command", status="idle",
                        data={"created_at": float(i), "cwd": f"/work/project-{i % 17}"}) for i in range(n)]


def median_ms(action: object, repeat: int = 5, before: object = None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()  # type: ignore[operator]
            QApplication.processEvents()
        start = time.perf_counter()
        action()  # type: ignore[operator]
        QApplication.processEvents()  # the view's layout of what changed
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def reset_listing(model: SessionListModel, runner: str, listed: list[SessionInfo]) -> None:
    """The baseline: the group's rows replaced wholesale under a model reset."""
    model.beginResetModel()
    start, end = model.header_row(runner) + 1, model.group_end(runner)
    model.rows[start:end] = [_Row(runner, s) for s in sorted(listed, key=model._key)]
    model.endResetModel()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=2000)
    n = parser.parse_args().sessions
    app = QApplication.instance() or QApplication([])
    window = MainWindow(None, "bench")
    window.resize(1180, 760)
    window.show()
    window.set_runners([("a", "first"), ("b", "second")])
    model = window.sessions_model
    model.set_sessions(sessions(200, "a"), "a")
    everything = sessions(n)
    model.set_sessions(everything, "b")
    window.select_session("a7", "a")
    known = median_ms(lambda: model.set_sessions(everything, "b"))
    grown = everything + sessions(n // 10, "new")
    with_new = median_ms(lambda: model.set_sessions(grown, "b"), before=lambda: model.set_sessions(everything, "b"))
    gone = median_ms(lambda: model.set_sessions(everything, "b"), before=lambda: model.set_sessions(grown, "b"))
    baseline = median_ms(lambda: reset_listing(model, "b", everything))
    print(f"sidebar, {n} sessions re-listed (all known): {known:.1f} ms; baseline (model reset): {baseline:.1f} ms;"
          f" ratio {known / baseline:.2f}")
    print(f"sidebar, {n} sessions re-listed with {n // 10} new: {with_new:.1f} ms; ratio to baseline "
          f"{with_new / baseline:.2f}")
    print(f"sidebar, {n} sessions re-listed with {n // 10} gone: {gone:.1f} ms; ratio to baseline "
          f"{gone / baseline:.2f}")
    window.deleteLater()
    del app


if __name__ == "__main__":
    main()
