"""The lifecycle wired into the real NightshiftApp (window, bridge, transcript models, connection).

These drive the app through `install_lifecycle(app.window, app)`, the call the app makes in start() (here
with a manual clock and the private bus, so the app's own install is switched off), and check
the user-visible promises: a minimized window does no rendering work while an agent streams, a restore
catches up in one batch (yellow, then green), and a wake replaces a half-open socket at once.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.app import NightshiftApp
from desktop.core.status import Color
from desktop.lifecycle import install_lifecycle, shutdown_lifecycle
from desktop.lifecycle.clock import ManualClock
from desktop.settings import SettingsStore, TokenStore
from runner.embedded import EmbeddedRunner
from tests.desktop.lifecycle.conftest import FakeLogind, run
from tests.desktop.lifecycle.harness import STREAMER, pid_alive, until
from tests.desktop.qt.helpers import ConnectionLog
from tests.fakes.blackhole_proxy import BlackholeProxy
from tests.fakes.view_client import ViewClient

GENEROUS = 15.0


class Counters:
    """Rendering work of one transcript model: row insertions, row changes, and batches the bridge applied."""

    def __init__(self, app: NightshiftApp, session_id: str) -> None:
        self.inserted = 0
        self.changed = 0
        self.applied: list[tuple[float, int]] = []
        model = app.bridge.model(session_id)
        model.rowsInserted.connect(self._inserted)
        model.dataChanged.connect(self._changed)
        app.bridge.events_applied.connect(
            lambda sid, n: sid == session_id and self.applied.append((time.monotonic(), n))
        )

    def _inserted(self, *_args: object) -> None:
        self.inserted += 1

    def _changed(self, *_args: object) -> None:
        self.changed += 1

    def work(self) -> tuple[int, int, int]:
        return self.inserted, self.changed, len(self.applied)


class Colors:
    def __init__(self, app: NightshiftApp) -> None:
        self.seen: list[tuple[float, Color]] = []
        app.status_changed.connect(lambda status: self.seen.append((time.monotonic(), status.color)))

    def since(self, t: float, current: Color) -> list[Color]:
        before = [c for when, c in self.seen if when < t]
        colors = (before[-1:] or [current]) + [c for when, c in self.seen if when >= t]
        merged: list[Color] = []
        for color in colors:
            if not merged or merged[-1] != color:
                merged.append(color)
        return merged


def make_app(tmp_path: Path, **kwargs: object) -> NightshiftApp:
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    return NightshiftApp(
        qapp,
        settings=SettingsStore(tmp_path / "settings.json"),
        tokens=TokenStore(),
        use_tray=False,
        lifecycle=False,
        **kwargs,  # type: ignore[arg-type]
    )


async def start_streamer(app: NightshiftApp, tmp_path: Path, stop_file: Path) -> str:
    sid = await app.create_session(
        {
            "agent": "command",
            "argv": [sys.executable, "-u", "-c", STREAMER, str(stop_file)],
            "cwd": str(tmp_path),
            "title": "streamer",
        }
    )
    assert sid is not None
    model = app.bridge.model(sid)
    await until(lambda: model.transcript.event_count > 100, 30, "the first rows")
    return sid


async def finish_and_compare(app: NightshiftApp, sid: str, stop_file: Path, url: str, token: str) -> set[int]:
    """Stop the streamer and compare the model's transcript with the runner's journal; return the pids."""
    stop_file.write_text("stop")
    model = app.bridge.model(sid)
    await until(lambda: app.core is not None and app.core.sessions[sid].status == "exited", 60, "exit")
    client = await ViewClient.open(url, token)
    try:
        await client.request({"type": "hello", "protocol": 1})
        attached = await client.request({"type": "attach", "session": sid, "after": 0})
        head = attached["head"]
        await client.wait_for(lambda: len(client.events.get(sid, [])) >= head, 60)
        journal = client.events[sid]
    finally:
        await client.close()
    await until(lambda: model.transcript.last_seq >= journal[-1]["seq"], 60, "the model to reach the head")
    transcript = model.transcript
    assert transcript.out_of_order == 0
    assert transcript.event_count == len(journal)  # nothing missing, nothing doubled
    output_rows = [(row.seq, row.text) for row in transcript.rows if row.kind.value == "output"]
    journal_output = [(e["seq"], e["text"]) for e in journal if e["kind"] == "output"]
    assert output_rows == journal_output
    return {int(text.split()[0]) for _, text in journal_output}


def test_minimized_app_does_no_rendering_work_and_restore_catches_up_in_one_batch(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    async def scenario() -> None:
        log = ConnectionLog()
        app = make_app(tmp_path, data_dir=str(tmp_path / "data"), connection_options={"observer": log})
        lifecycle = install_lifecycle(app.window, app, clock=ManualClock(), network=False, parent=app)
        stop_file = tmp_path / "stop"
        try:
            await app.start()
            app.window.show()
            qtbot.waitExposed(app.window)
            await until(lambda: app.core is not None and app.core.status.color is Color.GREEN, 30, "green")
            sid = await start_streamer(app, tmp_path, stop_file)
            counters = Counters(app, sid)
            colors = Colors(app)
            assert app.core is not None

            mark = len(log.events)
            app.window.showMinimized()
            await until(lambda: "recv:detached" in log.events[mark:], 30, "the runner to confirm the detach")
            work_before = counters.work()
            head_before = app.core.sessions[sid].head
            await until(lambda: app.core.sessions[sid].head > head_before + 2000, 60, "the head to move on")
            await asyncio.sleep(0.1)
            assert counters.work() == work_before  # no inserts, no changes, no batches while minimized
            assert not app.bridge.rendering

            restored = time.monotonic()
            app.window.showNormal()
            model = app.bridge.model(sid)
            await until(
                lambda: app.core.status.color is Color.GREEN and model.transcript.last_seq > head_before + 2000,
                60,
                "catch-up after the restore",
            )
            assert colors.since(restored, Color.GREEN) == [Color.GREEN, Color.YELLOW, Color.GREEN]
            # The backlog as one batch, not thousands of small ones; the events the bridge still held at the
            # minimize were rendered then, so nothing comes ahead of it.
            first_batch = next(n for when, n in counters.applied if when >= restored)
            assert first_batch > 2000
            url, token = app.embedded.url, app.embedded.token
            pids = await finish_and_compare(app, sid, stop_file, url, token)
            assert len(pids) == 1
        finally:
            stop_file.write_text("stop")
            shutdown_lifecycle(lifecycle)
            await app.shutdown()

    run(qloop, scenario())


def test_app_replaces_a_half_open_socket_right_after_a_logind_wake(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    private_bus: str,
    fake_logind: FakeLogind,
) -> None:
    runner = EmbeddedRunner(str(tmp_path / "data"))
    runner.start()
    proxy = BlackholeProxy("127.0.0.1", runner.port).start()

    async def scenario() -> None:
        # A "remote" runner behind the proxy, so that the sleep can leave the app a half-open socket.
        log = ConnectionLog()
        app = make_app(tmp_path, runner_url=proxy.url, token=runner.token, connection_options={"observer": log})
        lifecycle = install_lifecycle(
            app.window, app, clock=ManualClock(), system_bus_address=private_bus, network=False, parent=app
        )
        stop_file = tmp_path / "stop"
        woke: list[float] = []
        lifecycle.watcher.resumed.connect(lambda _s: woke.append(time.monotonic()))
        try:
            assert "logind" in lifecycle.watcher.active_sources
            await app.start()
            app.window.show()
            qtbot.waitExposed(app.window)
            await until(lambda: app.core is not None and app.core.status.color is Color.GREEN, 30, "green")
            sid = await start_streamer(app, tmp_path, stop_file)
            assert app.connection is not None
            model = app.bridge.model(sid)
            (pid,) = {int(r.text.split()[0]) for r in model.transcript.rows if r.kind.value == "output"}
            colors = Colors(app)

            proxy.freeze()
            frozen = time.monotonic()
            fake_logind.sleep()
            await asyncio.sleep(0.3)
            seq_at_sleep = model.transcript.last_seq
            fake_logind.wake()
            await until(lambda: bool(woke), 30, "resumed")
            live = await until(
                lambda: (
                    log.opened == 2
                    and app.core.status.color is Color.GREEN
                    and model.transcript.last_seq > seq_at_sleep
                ),
                GENEROUS,
                "a new live connection after the wake",
            )
            assert live - woke[0] < GENEROUS
            assert colors.since(frozen, Color.GREEN) == [Color.GREEN, Color.YELLOW, Color.GREEN]
            assert log.max_live == 1
            assert pid_alive(pid)
            pids = await finish_and_compare(app, sid, stop_file, runner.url, runner.token)
            assert pids == {pid}
        finally:
            stop_file.write_text("stop")
            shutdown_lifecycle(lifecycle)
            await app.shutdown()

    try:
        run(qloop, scenario())
    finally:
        proxy.stop()
        runner.stop()
