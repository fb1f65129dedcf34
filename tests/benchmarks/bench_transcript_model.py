"""Timing of the transcript model and view with 100,000+ events (prints figures; asserts nothing).

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_transcript_model.py [--events 100000]

Measures: live batches of 500 events into a shown view (model work + layout + paint per batch), a catch-up
of the whole session as one batch, a scroll through the window, "show earlier", and a resize relayout.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

import desktop  # noqa: F401  (its PySide6 workaround must be in place)
from desktop.qt import theme
from desktop.qt.transcript_model import TranscriptModel
from desktop.qt.transcript_view import TranscriptView
from tests.desktop.qt.test_transcript_view import mixed_events


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    app = QApplication([])
    theme.apply(app)

    view = TranscriptView()
    view.resize(1000, 700)
    model = TranscriptModel("bench")
    view.setModel(model)
    view.show()
    app.processEvents()

    per_batch = []
    start_all = time.perf_counter()
    for start in range(1, args.events + 1, args.batch):
        t0 = time.perf_counter()
        model.apply_events(mixed_events(start, args.batch))
        while model.pack_some():  # what the bridge does in its idle turns: rows that left the window packed
            pass
        view.doItemsLayout()
        view.viewport().repaint()
        app.processEvents()
        per_batch.append(time.perf_counter() - t0)
    total = time.perf_counter() - start_all
    print(f"live: {args.events:,} events in batches of {args.batch} -> {len(model.transcript.rows):,} rows, "
          f"{model.rowCount():,} in the view window")
    print(f"  total {total:.2f} s ({args.events / total:,.0f} events/s)")
    quarter = len(per_batch) // 4
    print(f"  per batch incl. layout+paint: median {ms(statistics.median(per_batch))}, "
          f"p95 {ms(sorted(per_batch)[int(len(per_batch) * 0.95)])}, max {ms(max(per_batch))}")
    print(f"  first quarter median {ms(statistics.median(per_batch[:quarter]))}, "
          f"last quarter median {ms(statistics.median(per_batch[-quarter:]))}  (flat = O(window), not O(n))")

    model2 = TranscriptModel("catch-up")
    view.setModel(model2)
    t0 = time.perf_counter()
    model2.apply_events(mixed_events(1, args.events))
    view.doItemsLayout()
    view.viewport().repaint()
    app.processEvents()
    took = ms(time.perf_counter() - t0)
    print(f"catch-up: {args.events:,} events as one batch (model + layout + paint): {took}")

    bar = view.verticalScrollBar()
    t0 = time.perf_counter()
    steps = 50
    for i in range(steps):
        bar.setValue(bar.maximum() * (steps - i) // steps)
        view.viewport().repaint()
    took = ms((time.perf_counter() - t0) / steps)
    print(f"scroll: {steps} jumps across the window with repaint: {took} each")

    t0 = time.perf_counter()
    model2.show_earlier(2000)
    view.doItemsLayout()
    app.processEvents()
    print(f"show earlier (+2,000 rows): {ms(time.perf_counter() - t0)}")

    t0 = time.perf_counter()
    view.resize(760, 700)
    view.doItemsLayout()
    view.viewport().repaint()
    app.processEvents()
    print(f"resize relayout of {model2.rowCount():,} rows (new widths, heights recomputed): "
          f"{ms(time.perf_counter() - t0)}")
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"max RSS: {rss:.0f} MiB (two models of {args.events:,} events each)")
    os._exit(0)


if __name__ == "__main__":
    main()
