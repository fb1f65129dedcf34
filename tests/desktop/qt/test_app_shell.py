"""The application shell: smoke test, quit with running agents, dialogs, remote runners and tokens."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtWidgets import QMessageBox

from desktop.core.status import Phase
from desktop.core.view import SessionInfo
from desktop.qt.dialogs import NewSessionDialog, SettingsDialog
from desktop.settings import SettingsStore, TokenStore
from tests.desktop.qt.helpers import ConnectionLog, until

REPO = Path(__file__).resolve().parents[3]
SLEEPER = [sys.executable, "-u", "-c", "import time; print('up', flush=True); time.sleep(600)"]


def test_smoke_test_command_exits_zero(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "NIGHTSHIFT_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, "-m", "desktop", "--smoke-test"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "smoke test passed" in proc.stdout
    assert (tmp_path / "data").exists()  # --data-dir/NIGHTSHIFT_DATA_DIR is honoured by the embedded runner


def test_quit_asks_while_agents_run_and_cancel_keeps_them(run: Any, make_app: Any, tmp_path: Path,
                                                          claude_fake: Any) -> None:
    async def scenario() -> None:
        app = make_app(data_dir=str(tmp_path / "embedded"))
        await app.start()
        app.window.show()
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
        sid = await app.create_session({"argv": SLEEPER, "title": "long job"})
        await until(lambda: app.core.sessions[sid].status == "running", 60, "running")
        app.window.close()  # without a tray, closing the window means quitting: it asks
        box = app.quit_box
        assert box is not None and box.isVisible() and "1 agent is still running" in box.text()
        box.button(QMessageBox.StandardButton.Cancel).click()
        await until(lambda: not box.isVisible(), 10, "the box to close")
        assert not app.closed and app.core.sessions[sid].status == "running"
        app.request_quit()
        stop = next(b for b in app.quit_box.buttons() if b.text() == "Stop agents and quit")
        stop.click()
        await until(lambda: app.closed and app.embedded is None, 60, "shutdown")

    run(scenario())


def test_the_window_is_painted_before_the_embedded_runner_starts(run: Any, make_app: Any, tmp_path: Path) -> None:
    """Start-up: the user sees the window at once; the runner starts and connects while it is on screen."""
    from PySide6.QtCore import QEvent, QObject

    app = make_app(data_dir=str(tmp_path / "embedded"))
    at_first_paint: list[tuple[int, Phase | None]] = []

    class Watch(QObject):
        def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and not at_first_paint:
                at_first_paint.append((len(app.runners), app.core.status.phase if app.core else None))
            return False

    watch = Watch()
    app.window.installEventFilter(watch)

    async def scenario() -> None:
        running = asyncio.ensure_future(app.run())
        await until(lambda: app.core is not None and app.core.status.phase is Phase.LIVE, 60, "live")
        assert at_first_paint == [(0, None)]  # painted while no runner was open yet
        app.quit_now()
        assert await asyncio.wait_for(running, 60) == 0

    try:
        run(scenario())
    finally:
        app.window.removeEventFilter(watch)


def test_an_embedded_runner_that_cannot_start_says_why(run: Any, make_app: Any, tmp_path: Path) -> None:
    """Its data folder held by another runner: the window says so, and the app keeps running."""
    from runner.sessions import SessionManager

    data = str(tmp_path / "embedded")
    app = make_app(data_dir=data)
    notices: list[tuple[str, str]] = []
    app.noticed.connect(lambda level, message: notices.append((level, message)))

    async def scenario() -> None:
        holder = await SessionManager.open(data)
        try:
            await app.start()
            await until(lambda: bool(notices), 60, "a notice")
            level, message = notices[0]
            assert level == "error"
            assert message.startswith("The embedded runner could not start: the data folder")
            assert "in use by another runner" in message
            assert not app.closed and app.embedded is None
        finally:
            await holder.shutdown()

    run(scenario())


def test_new_session_dialog_builds_requests(qtbot: Any) -> None:
    agents = [
        {"name": "command", "label": "Command", "available": True},
        {"name": "claude", "label": "Claude Code", "available": True, "version": "2.1.0",
         "models": ["sonnet", "opus"], "permission_modes": ["ask", "acceptEdits", "plan"]},
        {"name": "codex", "label": "Codex", "available": False, "reason": "not installed"},
    ]
    dialog = NewSessionDialog(agents, "/tmp")
    qtbot.addWidget(dialog)
    assert dialog.selected_agent()["name"] == "claude"  # an installed agent first
    assert not dialog.agent.model().item(2).isEnabled()
    dialog.model_box.setCurrentIndex(2)
    dialog.permission.setCurrentIndex(dialog.permission.findData("plan"))
    dialog.title.setText("review")
    assert dialog.request() == {"type": "create", "agent": "claude", "title": "review", "cwd": "/tmp",
                                "model": "opus", "permission_mode": "plan"}
    dialog.agent.setCurrentIndex(0)
    dialog.command.setText("make -j4 'all targets'")
    request = dialog.request()
    assert request["agent"] == "command" and request["argv"] == ["make", "-j4", "all targets"]
    assert "model" not in request


def test_settings_dialog_stores_tokens_in_the_keyring(qtbot: Any, tmp_path: Path,
                                                      memory_keyring: Any) -> None:
    settings = SettingsStore(tmp_path / "settings.json")
    dialog = SettingsDialog(settings, TokenStore(), "embedded")
    qtbot.addWidget(dialog)
    connected: list[str] = []
    dialog.connect_requested.connect(connected.append)
    dialog._add()
    dialog.name.setText("gpu box")
    dialog.url.setText("ws://127.0.0.1:9999")
    dialog.token.setText("tok-123")
    dialog._connect()
    assert connected == ["ws://127.0.0.1:9999"]
    assert memory_keyring.get_password("nightshift", "ws://127.0.0.1:9999") == "tok-123"
    assert "tok-123" not in (tmp_path / "settings.json").read_text()


def test_settings_dialog_says_when_tokens_cannot_be_saved(qtbot: Any, tmp_path: Path) -> None:
    keyring.set_keyring(fail.Keyring())
    tokens = TokenStore()
    dialog = SettingsDialog(SettingsStore(tmp_path / "s.json"), tokens, "embedded")
    qtbot.addWidget(dialog)
    assert "cannot be saved" in dialog.keyring_note.text() and "this run only" in dialog.keyring_note.text()


def test_remote_runner_token_from_keyring_or_environment(run: Any, make_app: Any, embedded: Any,
                                                         memory_keyring: Any, monkeypatch: Any) -> None:
    async def scenario() -> None:
        memory_keyring.set_password("nightshift", embedded.url, embedded.token)
        app = make_app(embedded.url)  # no token given: the keyring has it
        await app.start()
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live with the keyring token")
        memory_keyring.delete_password("nightshift", embedded.url)
        monkeypatch.setenv("NIGHTSHIFT_TOKEN", embedded.token)
        app2 = make_app(embedded.url)
        await app2.start()
        await until(lambda: app2.core.status.phase is Phase.LIVE, 60, "live with NIGHTSHIFT_TOKEN")

    run(scenario())


def test_minimize_and_restore_through_the_lifecycle_watcher(run: Any, make_app: Any, embedded: Any) -> None:
    """The app wires issue 5's watcher: minimized -> no rendering; restored -> one catch-up batch."""
    from desktop.core.transcript import RowKind

    async def scenario() -> None:
        log = ConnectionLog()
        app = make_app(embedded.url, embedded.token, lifecycle=True, connection_options={"observer": log})
        await app.start()
        app.window.show()
        assert app.lifecycle is not None
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
        code = "import time\nfor i in range(40):\n    print('tick', i, flush=True)\n    time.sleep(0.05)\n"
        sid = await app.create_session({"argv": [sys.executable, "-u", "-c", code], "title": "ticker"})
        model = app.bridge.model(sid)
        await until(lambda: model.transcript.event_count > 3, 60, "first ticks")
        mark = len(log.events)
        app.window.showMinimized()
        await until(lambda: not app.rendering, 10, "rendering off")
        # Minimized, the connection itself detaches: the runner stops sending this session's events.
        await until(lambda: "recv:detached" in log.events[mark:], 30, "the runner to confirm the detach")
        detached_at = log.events.index("recv:detached", mark)
        await until(lambda: app.core.sessions[sid].status == "exited", 60, "the end while minimized")
        assert not [t for t in log.events[detached_at:] if t in ("recv:event", "recv:events")]
        assert app.core.sessions[sid].head > model.transcript.last_seq  # the head moved on unrendered
        hidden_batches = model.insert_batches
        app.window.showNormal()
        def caught_up() -> bool:
            return app.rendering and any(r.kind is RowKind.STATUS and r.data.get("status") == "exited"
                                         for r in model.transcript.rows)

        await until(caught_up, 60, "caught up")
        assert model.insert_batches == hidden_batches + 1
        assert [r.text for r in model.transcript.rows if r.kind is RowKind.OUTPUT] == [
            f"tick {i}" for i in range(40)]

    run(scenario())


@pytest.mark.qt_log_ignore(r"No such signal QPlatformNativeInterface::systemTrayWindowChanged")
def test_tray_counts_running_agents_tints_by_status_and_close_hides(run: Any, make_app: Any,
                                                                     embedded: Any) -> None:
    async def scenario() -> None:
        app = make_app(embedded.url, embedded.token)
        tray = app.install_tray()  # offscreen has no system tray; build it anyway to check what it shows
        notified: list[tuple[str, str]] = []
        app.notified.connect(lambda title, body: notified.append((title, body)))
        await app.start()
        app.window.show()
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
        sid = await app.create_session({"argv": SLEEPER, "title": "job"})
        await until(lambda: app.core.sessions[sid].status == "running", 60, "running")
        await until(lambda: "1 agent running" in tray.tooltip() and "Live" in tray.tooltip(), 30,
                    "the count and the status in the tray")
        assert tray.count_action.text() == "1 agent running"
        assert not tray.retry_action.isVisible()
        app.window.close()  # with a tray: hide, keep running, do not ask
        assert not app.window.isVisible() and app.quit_box is None and not app.closed
        app.window.stop_requested.emit(sid)
        await until(lambda: "No agents running" in tray.tooltip(), 30, "the count back to zero")
        await until(lambda: bool(notified), 30, "the notification")
        assert notified[-1][0] == "job finished"
        app.show_window()
        assert app.window.isVisible()

    run(scenario())


def test_quit_warns_about_undelivered_messages(run: Any, make_app: Any, embedded: Any) -> None:
    async def scenario() -> None:
        app = make_app("ws://127.0.0.1:9/", "token")  # nothing listens there: offline
        await app.start()
        app.window.show()
        app.core.sessions["s-x"] = SessionInfo("s-x")
        app.send("s-x", "hello")
        app.request_quit()
        box = app.quit_box
        assert box is not None and "1 message has not been delivered" in box.text()
        box.button(QMessageBox.StandardButton.Cancel).click()
        assert not app.closed and len(app.core.outbox) == 1

    run(scenario())
