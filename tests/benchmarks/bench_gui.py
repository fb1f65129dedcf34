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

ROWS = ("stall", "memory", "minimized", "startup", "catchup")


def _row(metric: str, figure: str, baseline: str, ratio: str, target: str, ok: bool) -> dict[str, Any]:
    return {"metric": metric, "figure": figure, "baseline": baseline, "ratio": ratio, "target": target, "ok": ok}


# ------------------------------------------------------------------------------------------ child processes


def _qapp() -> Any:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    import desktop  # noqa: F401  (its PySide6 workaround must be in place)
    from desktop.qt import theme

    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0]])
        theme.apply(app)
        # As desktop/__main__ does: the cycle collector runs from a GUI-thread timer, not inside any allocation.
        from desktop.qt.gui_gc import GuiThreadCollector

        app.collector = GuiThreadCollector(app)  # type: ignore[attr-defined]
        app.collector.start()  # type: ignore[attr-defined]
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
    qapp, bridge, _window = _window_with_session()  # kept: the shown window is what is measured
    probe = LatenessProbe()
    probe.start()
    _run_for(qapp, seconds)
    probe.stop()
    idle = probe.stats()

    sent = 0
    start = time.perf_counter()

    def feed() -> None:
        # One list per 2 ms of stream, as the view core hands over one list per received frame.
        # Made as they are sent (as the connection decodes them): a pre-made list of 100,000 events would
        # sit in every garbage collection the app runs.
        nonlocal sent
        due = int((time.perf_counter() - start) * rate)
        while sent < due:
            frame = stream_events(sent + 1, min(due - sent, rate // 500))
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
    qapp, bridge, _window = _window_with_session()  # kept: the shown window is what is measured

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
        # As fast as the GUI takes them, not faster: what is measured is what the GUI keeps, not a backlog
        # of events waiting in the bridge (the runner's own pace bounds that in real use).
        while model.transcript.last_seq < start + step - 1 and model.transcript.last_seq < total:
            qapp.processEvents()
    while model.transcript.last_seq < total or getattr(bridge, "_packing", None):
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


# ------------------------------------------------------------------ children with a real runner (qasync loop)

TOKEN = "bench-gui-token-0123456789"


def _start_runner(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """A real headless runner in its own process (its CPU is not the GUI's)."""
    runner = subprocess.Popen(
        [sys.executable, "-m", "runner", "--port", "0", "--data-dir", str(data_dir)],
        cwd=REPO_ROOT, env={**os.environ, "NIGHTSHIFT_TOKEN": TOKEN},
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert runner.stdout is not None
    url = runner.stdout.readline().split()[-1]
    return runner, url


def _run_async(coro_fn: Any) -> Any:
    os.environ.setdefault("QT_API", "pyside6")
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    import asyncio

    import qasync

    qapp = _qapp()
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    with loop:
        return loop.run_until_complete(coro_fn())


async def _until(predicate: Any, timeout: float, what: str) -> float:
    import asyncio

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)
    return time.monotonic()


def _make_app(url: str, tmp: Path) -> Any:
    from desktop.app import NightshiftApp
    from desktop.settings import SettingsStore, TokenStore

    return NightshiftApp(_qapp(), runner_url=url, token=TOKEN, settings=SettingsStore(tmp / "settings.json"),
                         tokens=TokenStore(), use_tray=False, lifecycle=False)


def child_minimized(smoke: bool) -> dict[str, Any]:
    import tempfile

    from desktop.core.status import Color
    from desktop.lifecycle import install_lifecycle, shutdown_lifecycle
    from desktop.lifecycle.clock import ManualClock
    from tests.desktop.lifecycle.harness import STREAMER

    seconds = 1.5 if smoke else 5.0

    async def main() -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="ns-bench-gui-") as folder:
            tmp = Path(folder)
            runner, url = _start_runner(tmp / "data")
            app = _make_app(url, tmp)
            lifecycle = install_lifecycle(app.window, app, clock=ManualClock(), network=False, parent=app)
            stop = tmp / "stop"
            try:
                await app.start()
                app.window.resize(1180, 760)
                app.window.show()
                await _until(lambda: app.core is not None and app.core.status.color is Color.GREEN, 60, "green")
                # The harness's streamer: 50 lines every 10 ms, about 5,000 lines/s.
                sid = await app.create_session({"agent": "command", "cwd": str(tmp),
                                                "argv": [sys.executable, "-u", "-c", STREAMER, str(stop)]})
                app.window.select_session(sid)
                model = app.bridge.model(sid)
                await _until(lambda: model.transcript.event_count > 1000, 60, "rows")

                async def cpu_over(span: float) -> tuple[float, int]:
                    import asyncio

                    head = app.core.sessions[sid].head
                    cpu, t0 = time.process_time(), time.monotonic()
                    await asyncio.sleep(span)
                    return ((time.process_time() - cpu) / (time.monotonic() - t0),
                            app.core.sessions[sid].head - head)

                visible = await cpu_over(seconds)
                app.window.showMinimized()
                await _until(lambda: not app.rendering, 10, "rendering off")
                import asyncio

                await asyncio.sleep(0.5)
                minimized = await cpu_over(seconds)
                app.window.showNormal()
                head = app.core.sessions[sid].head
                t0 = time.monotonic()
                await _until(lambda: model.transcript.last_seq >= head, 60, "caught up after restore")
                restore = time.monotonic() - t0
                return {"visible_cpu": visible[0], "visible_events": visible[1] / seconds,
                        "minimized_cpu": minimized[0], "minimized_events": minimized[1] / seconds,
                        "restore_s": restore}
            finally:
                stop.write_text("stop")
                shutdown_lifecycle(lifecycle)
                await app.shutdown()
                runner.terminate()
                runner.wait(30)

    return _run_async(main)


def child_catchup(smoke: bool) -> dict[str, Any]:
    import tempfile

    from desktop.core.status import Color
    from tests.fakes.view_client import ViewClient

    total = 5_000 if smoke else 100_000
    printer = f"import sys\nw = sys.stdout.write\nfor i in range({total - 2}): w(f'line {{i}} of the backlog\\n')\n"

    async def main() -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="ns-bench-gui-") as folder:
            tmp = Path(folder)
            runner, url = _start_runner(tmp / "data")
            try:
                # The missed events: a command session that ran while no view was attached.
                client = await ViewClient.open(url, TOKEN)
                created = await client.request({"type": "create", "agent": "command", "cwd": str(tmp),
                                                "argv": [sys.executable, "-c", printer], "title": "backlog"})
                sid = created["session"]["id"]

                async def head() -> int:
                    listed = await client.request({"type": "list"})
                    info = next(s for s in listed["sessions"] if s["id"] == sid)
                    return int(info["head"]) if info.get("status") != "running" else -1

                deadline = time.monotonic() + 300
                while (h := await head()) < total - 2 and time.monotonic() < deadline:
                    import asyncio

                    await asyncio.sleep(0.2)
                # Baseline in the same run: a raw protocol client (no desktop code) attaching from 0.
                raw = await ViewClient.open(url, TOKEN)
                t0 = time.monotonic()
                await raw.request({"type": "attach", "session": sid, "after": 0})
                await raw.wait_for(lambda: bool(raw.seqs(sid)) and raw.seqs(sid)[-1] >= h, 120)
                raw_s = time.monotonic() - t0
                await raw.close()
                await client.close()

                app = _make_app(url, tmp)
                try:
                    await app.start()
                    app.window.resize(1180, 760)
                    app.window.show()
                    await _until(lambda: app.core is not None and app.core.status.color is Color.GREEN, 60,
                                 "green")
                    await _until(lambda: sid in app.core.sessions, 30, "session listed")
                    model = app.bridge.model(sid)
                    t0 = time.monotonic()
                    app.window.select_session(sid)  # attach from 0: the whole session is missed events
                    await _until(lambda: model.transcript.last_seq >= h, 120, "caught up")
                    app_s = time.monotonic() - t0
                    rows_ok = model.row_at(model.rowCount() - 1) is model.transcript.rows[-1]
                finally:
                    await app.shutdown()
                return {"events": h, "raw_s": raw_s, "app_s": app_s, "rows_ok": rows_ok}
            finally:
                runner.terminate()
                runner.wait(30)

    return _run_async(main)


PAINT_PROBE = """
import os, sys, time
sys.path.insert(0, {root!r})
os.environ.setdefault("QT_API", "pyside6")
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QMainWindow

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and isinstance(obj, QMainWindow):
            print("painted", flush=True)
            os._exit(0)
        return False

qapp = QApplication([sys.argv[0]])
probe = FirstPaint()
qapp.installEventFilter(probe)
{start}
"""
APP_START = """
from desktop.__main__ import main
main(["--data-dir", {data!r}])
"""
BARE_START = """
window = QMainWindow()
window.resize(1180, 760)
window.show()
qapp.exec()
"""


def child_startup(smoke: bool) -> dict[str, Any]:
    import tempfile

    runs = 1 if smoke else 5

    with tempfile.TemporaryDirectory(prefix="ns-bench-gui-") as folder:
        env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", "XDG_CONFIG_HOME": folder,
               "XDG_DATA_HOME": folder, "PYTHONPATH": str(REPO_ROOT)}
        # Warm means as installed: compiled bytecode cached (a shell with PYTHONDONTWRITEBYTECODE set would make
        # every run compile the app's sources again, about 0.4 s here).
        env.pop("PYTHONDONTWRITEBYTECODE", None)

        def once(code: str) -> float:
            t0 = time.monotonic()
            proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            assert proc.stdout is not None
            line = proc.stdout.readline()
            took = time.monotonic() - t0
            proc.kill()
            proc.wait(30)
            if "painted" not in line:
                raise RuntimeError("the window was never painted")
            return took

        app_code = PAINT_PROBE.format(root=str(REPO_ROOT),
                                      start=APP_START.format(data=str(Path(folder) / "data")))
        bare_code = PAINT_PROBE.format(root=str(REPO_ROOT), start=BARE_START)
        if not smoke:
            once(app_code)  # warm: the page cache holds the files, the journal exists
            once(bare_code)
        app_times, bare_times = [], []
        for _ in range(runs):
            app_times.append(once(app_code))
            bare_times.append(once(bare_code))
        return {"app_s": statistics.median(app_times), "bare_s": statistics.median(bare_times),
                "app_all": app_times}


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


def measure_minimized(smoke: bool) -> list[dict[str, Any]]:
    r = run_child("minimized", smoke)
    ok = r["minimized_cpu"] <= 0.02 and r["minimized_events"] >= 2_000
    return [_row(
        "GUI CPU while minimized (command agent streaming, real headless runner)",
        f"{r['minimized_cpu'] * 100:.1f} % of a core ({r['minimized_events']:,.0f} events/s streamed; "
        f"restore -> caught up {r['restore_s'] * 1000:.0f} ms)",
        f"shown: {r['visible_cpu'] * 100:.1f} % at {r['visible_events']:,.0f} events/s",
        f"{r['minimized_cpu'] / max(r['visible_cpu'], 1e-9):.2f}x", "<= 2 % of one core", ok)]


def measure_startup(smoke: bool) -> list[dict[str, Any]]:
    r = run_child("startup", smoke)
    ok = r["app_s"] <= 0.8
    return [_row(
        "start-up (process start -> main window painted, embedded runner, warm)",
        f"{r['app_s'] * 1000:.0f} ms (median of {len(r['app_all'])})",
        f"bare PySide6 window: {r['bare_s'] * 1000:.0f} ms", f"{r['app_s'] / r['bare_s']:.1f}x",
        "<= 0.8 s", ok)]


def measure_catchup(smoke: bool) -> list[dict[str, Any]]:
    r = run_child("catchup", smoke)
    ok = r["app_s"] <= 1.0 and r["rows_ok"]
    return [_row(
        f"catch-up, desktop ({r['events']:,} missed events: attach -> last event in the transcript model)",
        f"{r['app_s'] * 1000:.0f} ms", f"raw protocol client, same runner: {r['raw_s'] * 1000:.0f} ms",
        f"{r['app_s'] / r['raw_s']:.1f}x", "<= 1.0 s", ok)]


MEASURES = {"stall": measure_stall, "memory": measure_memory, "minimized": measure_minimized,
            "startup": measure_startup, "catchup": measure_catchup}


def measure(smoke: bool = False, only: tuple[str, ...] = ROWS) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in only:
        if name in MEASURES:
            rows.extend(MEASURES[name](smoke))
    return rows


CHILDREN = {"stall": child_stall, "memory": child_memory, "minimized": child_minimized,
            "startup": child_startup, "catchup": child_catchup}


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
