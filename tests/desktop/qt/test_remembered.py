"""What the app remembers across restarts (settings.json): the runners, the session last selected on each, the
window's geometry and the theme. Each app here is a real one over real runners; a restart is a new app with the
same config folder."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication

from desktop.core.status import Phase
from desktop.qt import theme
from desktop.qt.main_window import MainWindow
from desktop.settings import EMBEDDED, RemoteRunner, SettingsStore
from tests.conftest import TOKEN, HeadlessRunner
from tests.desktop.qt.helpers import until

SLEEPER = [sys.executable, "-u", "-c", "import time; print('up', flush=True); time.sleep(600)"]


@pytest.fixture
def restore_theme(qapp: Any) -> Iterator[None]:
    """The application's look as it was: a test that switches the theme must not leave later tests dark."""
    palette, style, sheet, current = qapp.palette(), qapp.style().name(), qapp.styleSheet(), theme._current
    font = qapp.font()
    try:
        yield
    finally:
        qapp.setFont(font)
        qapp.setPalette(palette)
        qapp.setStyle(style)
        qapp.setStyleSheet(sheet)
        theme._current = current


def test_the_selected_session_geometry_and_theme_survive_a_restart(
        run: Any, make_app: Any, tmp_path: Path, restore_theme: None) -> None:
    remote = HeadlessRunner(str(tmp_path / "remote"))
    try:
        url = remote.start()
        path = tmp_path / "config" / "settings.json"
        saved = SettingsStore(path)
        saved.runners.append(RemoteRunner("workstation", url))
        saved.save()

        async def first_run() -> tuple[str, str, str]:
            app = make_app(settings=SettingsStore(path), data_dir=str(tmp_path / "mine"), keep_geometry=True)
            app.tokens.set(url, TOKEN)
            await app.start()
            await until(lambda: all(app.runners.get(k) is not None
                                    and app.runners[k].core.status.phase is Phase.LIVE for k in (EMBEDDED, url)),
                        60, "both runners live")
            local = await app.create_session({"argv": SLEEPER, "title": "local"}, runner=EMBEDDED)
            older = await app.create_session({"argv": SLEEPER, "title": "older remote"}, runner=url)
            newer = await app.create_session({"argv": SLEEPER, "title": "newer remote"}, runner=url)
            assert local and older and newer
            app.window.select_session(local, EMBEDDED)
            app.window.select_session(older, url)  # the remote runner's, and the last one looked at
            # The theme through its control in the settings dialog.
            app.open_settings()
            app.remembered.theme_choice.setCurrentIndex(app.remembered.theme_choice.findData("dark"))
            app.settings_dialog.reject()
            assert theme.current().dark
            app.window.show()
            app.window.setGeometry(QRect(20, 30, 640, 470))  # the offscreen screen is 800x600
            await until(lambda: app.window.size().width() == 640, 10, "resized")
            await app.shutdown()
            return local, older, newer

        local, older, newer = run(first_run())
        stored = json.loads(path.read_text())
        assert stored["theme"] == "dark" and stored["last_sessions"] == {EMBEDDED: local, url: older}
        theme.apply(QGuiApplication.instance(), dark=False)  # as a fresh start would be, before the settings

        async def second_run() -> None:
            app = make_app(settings=SettingsStore(path), data_dir=str(tmp_path / "mine"), keep_geometry=True)
            assert theme.current().dark  # applied before the window is built
            assert (app.window.width(), app.window.height()) == (640, 470)
            await app.start()
            app.window.show()
            # The remote runner was current: its last session is selected again once it is listed.
            await until(lambda: app.window.current == older and app.runner_key == url, 60,
                        "the remembered session selected")
            assert app.window.transcript.model() is app.runners[url].bridge.model(older)
            # The embedded runner's remembered one comes back when it is chosen.
            await until(lambda: EMBEDDED in app.runners and local in app.runners[EMBEDDED].core.sessions, 60,
                        "the embedded runner's sessions")
            app.switch_runner(EMBEDDED)
            assert app.window.current == local and app.runner_key == EMBEDDED
            assert newer in app.runners[url].core.sessions

        run(second_run())
    finally:
        remote.release()


def test_a_remembered_session_that_is_gone_selects_nothing(run: Any, make_app: Any, embedded: Any,
                                                           tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    saved = SettingsStore(path)
    saved.last_sessions[embedded.url] = "no-such-session"
    saved.last_runner = embedded.url
    saved.save()

    async def scenario() -> None:
        app = make_app(embedded.url, embedded.token, settings=SettingsStore(path))
        await app.start()
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
        kept = await app.create_session({"argv": SLEEPER, "title": "kept"})
        assert app.window.current == kept  # nothing stale took its place
        assert SettingsStore(path).last_sessions[embedded.url] == kept

    run(scenario())


def test_a_geometry_from_a_screen_that_is_gone_lands_on_this_one(qapp: Any) -> None:
    away = MainWindow(None, "runner")
    away.setGeometry(QRect(30000, 20000, 5000, 4000))  # a big monitor far to the right, unplugged since
    saved = away.saved_geometry()
    window = MainWindow(None, "runner")
    assert window.restore_saved_geometry(saved)
    screen = QGuiApplication.primaryScreen().availableGeometry()
    assert screen.intersects(window.frameGeometry())
    assert window.width() <= screen.width() and window.height() <= screen.height()
    # Not a geometry at all: the default size stays.
    fresh = MainWindow(None, "runner")
    default = fresh.size()
    assert not fresh.restore_saved_geometry("not base64 ✗")
    assert not fresh.restore_saved_geometry(base64.b64encode(b"garbage").decode())
    assert fresh.size() == default
    for w in (away, window, fresh):
        w.deleteLater()
