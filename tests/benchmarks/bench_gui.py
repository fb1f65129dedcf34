"""GUI figures (issue 10): stall while streaming, memory over 1,000,000 events, CPU while minimized, start-up.

    python tests/benchmarks/bench_gui.py [--smoke] [--only stall,memory,minimized,startup]

Each row runs in its own process (its own QApplication, its own RSS), offscreen. `measure()` returns the rows
for tests/benchmarks/run_all.py.

- stall: the real main window showing one session; events of tests/benchmarks/gui_stream.py are injected at
  the bridge (where the view core hands them over) at 10,000 events/s. A 5 ms precise timer measures how late
  the event loop serves it. Baseline: the same timer over the same time with the window shown and idle.
- memory: 1,000,000 events injected at the bridge into one shown session as fast as the GUI takes them;
  RSS at the end; baseline: RSS of the same process with the window shown before the first event.
- minimized: a real headless runner (its own process) runs a command agent printing about 5,000 lines/s; the
  real app (NightshiftApp, real connection) shows the session, then is minimized. GUI-process CPU while
  minimized; baseline: the same process while shown.
- start-up: `python -m desktop` (embedded runner) from process start to the first paint of the main window;
  baseline: a bare `python -c "import PySide6.QtWidgets"` in the same run. Warm: the median of 5 after one
  unmeasured start.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

ROWS = ("stall", "memory", "minimized", "startup")


def _row(metric: str, figure: str, baseline: str, ratio: str, target: str, ok: bool) -> dict[str, Any]:
    return {"metric": metric, "figure": figure, "baseline": baseline, "ratio": ratio, "target": target, "ok": ok}


# ------------------------------------------------------------------------------------------ child processes


def _qapp() -> Any:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    import desktop  # noqa: F401  (its PySide6 workaround must be in place)
    from desktop.qt import theme

    app = QApplication.instance() or QApplication([sys.argv[0]])
    theme.apply(app)
    return app


def _window_with_session(session_id: str = "bench") -> tuple[Any, Any, Any]:
    """The real main window and bridge, showing one (running Claude) session."""
    from desktop.core.view import SessionInfo
    from desktop.qt.bridge import ViewBridge
    from desktop.qt.main_window import MainWindow

    qapp = _qapp()
    bridge = ViewBridge()
    window = MainWindow(bridge, "bench")
    window.sessions_model.upsert(SessionInfo(id=session_id, title="Streaming session", agent="claude",
                                             status="running"))
    window.resize(1180, 760)
    window.show()
    window.select_session(session_id)
    qapp.processEvents()
    return qapp, bridge, window


class LatenessProbe:
    """A 5 ms precise timer; records how late each timeout comes (the GUI's stall as a user feels it)."""

    def __init__(self, interval_ms: int = 5) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.interval = interval_ms / 1000
        self.late: list[float] = []
        self._last = 0.0
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.late = []
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.late.append(max(0.0, now - self._last - self.interval))
        self._last = now

    def stats(self) -> dict[str, float]:
        values = sorted(self.late) or [0.0]
        return {"max_ms": values[-1] * 1000, "p99_ms": values[int(len(values) * 0.99)] * 1000,
                "median_ms": statistics.median(values) * 1000, "ticks": len(values)}


def _run_for(qapp: Any, seconds: float, until: Any = None) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def child_stall(smoke: bool) -> dict[str, Any]:
    from PySide6.QtCore import Qt, QTimer

    from tests.benchmarks.gui_stream import stream_events

    rate = 10_000
    seconds = 1.5 if smoke else 10.0
    qapp, bridge, window = _window_with_session()
    events = stream_events(1, int(rate * (seconds + 1)))
    probe = LatenessProbe()
    probe.start()
    _run_for(qapp, seconds)
    probe.stop()
    idle = probe.stats()

    sent = 0
    start = time.perf_counter()

    def feed() -> None:
        # One list per 2 ms of stream, as the view core hands over one list per received frame.
        nonlocal sent
        due = min(len(events), int((time.perf_counter() - start) * rate))
        while sent < due:
            frame = events[sent:min(due, sent + rate // 500)]
            bridge.events("bench", frame)
            sent += len(frame)

    feeder = QTimer()
    feeder.setTimerType(Qt.TimerType.PreciseTimer)
    feeder.setInterval(2)
    feeder.timeout.connect(feed)
    feeder.start()
    probe.start()
    _run_for(qapp, seconds)
    probe.stop()
    feeder.stop()
    streamed = sent
    elapsed = time.perf_counter() - start
    model = bridge.model("bench")
    deadline = time.perf_counter() + 60
    while model.transcript.last_seq < streamed and time.perf_counter() < deadline:
        qapp.processEvents()
    busy = probe.stats()
    return {"idle": idle, "busy": busy, "events": streamed, "rate": streamed / elapsed,
            "rendered": model.transcript.last_seq, "rows": len(model.transcript.rows)}


def child_memory(smoke: bool) -> dict[str, Any]:
    import gc
    import resource

    from tests.benchmarks.gui_stream import stream_events

    total = 20_000 if smoke else 1_000_000
    qapp, bridge, window = _window_with_session()

    def rss_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    gc.collect()
    base = rss_mb()
    model = bridge.model("bench")
    t0 = time.perf_counter()
    step = 2_000
    for start in range(1, total + 1, step):
        bridge.events("bench", stream_events(start, min(step, total - start + 1)))
        bridge.flush()
        qapp.processEvents()
    while model.transcript.last_seq < total:
        qapp.processEvents()
    took = time.perf_counter() - t0
    for _ in range(20):
        qapp.processEvents()
    gc.collect()
    end = rss_mb()
    objects = len(gc.get_objects())
    from desktop.core.transcript import Row

    live_rows = sum(1 for o in gc.get_objects() if isinstance(o, Row))
    return {"base_mb": base, "end_mb": end, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "events": total, "rows": len(model.transcript.rows), "seconds": took,
            "gc_objects": objects, "row_objects": live_rows, "window": model.rowCount()}


def run_child(name: str, smoke: bool, timeout: float = 600) -> dict[str, Any]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name] + (["--smoke"] if smoke else [])
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"bench_gui child {name} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------ rows


def measure_stall(smoke: bool) -> list[dict[str, Any]]:
    r = run_child("stall", smoke)
    idle, busy = r["idle"], r["busy"]
    ok = busy["max_ms"] <= 50 and busy["p99_ms"] <= 16 and r["rendered"] == r["events"]
    ratio = f"{busy['max_ms'] / max(idle['max_ms'], 0.1):.1f}x max" if idle["max_ms"] else ""
    return [_row(
        "GUI stall (5 ms timer, 10,000 events/s into a shown session)",
        f"max {busy['max_ms']:.1f} ms, p99 {busy['p99_ms']:.1f} ms ({r['events']:,} events at "
        f"{r['rate']:,.0f}/s, all rendered: {r['rendered'] == r['events']})",
        f"idle: max {idle['max_ms']:.1f} ms, p99 {idle['p99_ms']:.1f} ms",
        ratio, "max <= 50 ms, p99 <= 16 ms", ok)]


def measure_memory(smoke: bool) -> list[dict[str, Any]]:
    r = run_child("memory", smoke, timeout=1800)
    ok = r["end_mb"] <= 400 and r["row_objects"] < r["rows"] // 2
    return [_row(
        f"GUI memory ({r['events']:,} events into one shown session)",
        f"RSS {r['end_mb']:.0f} MB ({r['rows']:,} rows, {r['row_objects']:,} as Python objects; "
        f"{r['events'] / r['seconds']:,.0f} events/s)",
        f"window shown, no events: {r['base_mb']:.0f} MB", f"+{r['end_mb'] - r['base_mb']:.0f} MB",
        "<= 400 MB RSS; rows outside the window not all objects", ok)]


MEASURES = {"stall": measure_stall, "memory": measure_memory}


def measure(smoke: bool = False, only: tuple[str, ...] = ROWS) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in only:
        if name in MEASURES:
            rows.extend(MEASURES[name](smoke))
    return rows


CHILDREN = {"stall": child_stall, "memory": child_memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--only", default=",".join(ROWS))
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        result = CHILDREN[args.child](args.smoke)
        sys.stdout.flush()
        print(json.dumps(result))
        os._exit(0)
    for row in measure(args.smoke, tuple(args.only.split(","))):
        mark = "ok" if row["ok"] else "FAIL"
        print(f"{mark:4s} {row['metric']}\n     {row['figure']}\n     baseline {row['baseline']}  "
              f"ratio {row['ratio']}  target {row['target']}")


if __name__ == "__main__":
    main()
