"""The new-session dialog's folder picker browses the RUNNER's folders (`list_dir`), and remembers the folders of
new sessions per runner across restarts. A real headless runner whose home folder is a temporary tree, so its
paths are not the desktop's."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from PySide6.QtCore import Qt

from desktop.core.status import Phase
from desktop.qt import theme
from desktop.qt.dialogs import NewSessionDialog
from desktop.qt.folder_picker import FolderPicker
from desktop.settings import SettingsStore
from tests.conftest import TOKEN, HeadlessRunner
from tests.desktop.qt.helpers import until
from tests.fakes.blackhole_proxy import BlackholeProxy

QUICK = shlex.join([sys.executable, "-c", "print('hi')"])


@pytest.fixture
def runner_home(tmp_path: Path) -> Path:
    home = tmp_path / "runner-home"
    (home / "projects" / "api").mkdir(parents=True)
    (home / "projects" / "web").mkdir()
    (home / ".secrets").mkdir()
    (home / "notes.txt").write_text("x")
    return home


@pytest.fixture
def remote(runner_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A headless runner with its own home folder: the desktop (this process) keeps its HOME."""
    runner = HeadlessRunner(str(tmp_path / "runner-data"))
    with monkeypatch.context() as m:
        m.setenv("HOME", str(runner_home))
        runner.start()
    try:
        yield runner
    finally:
        runner.release()


async def live_app(make_app: Any, url: str, settings: SettingsStore) -> Any:
    app = make_app(url, TOKEN, settings=settings)
    await app.start()
    app.window.show()
    await until(lambda: app.core is not None and app.core.status.phase is Phase.LIVE, 60, "live")
    return app


def open_dialog(app: Any) -> NewSessionDialog:
    app.ask_new_session()
    dialog = app.new_session_dialog
    assert isinstance(dialog, NewSessionDialog) and dialog.isVisible()
    return dialog


def browse(dialog: NewSessionDialog) -> FolderPicker:
    dialog.browse_button.click()
    picker = dialog.picker
    assert picker is not None and picker.isVisible()
    return picker


def select(picker: FolderPicker, name: str) -> None:
    row = picker.entry_names().index(name)
    picker.list.setCurrentRow(row)


def test_the_picker_browses_the_runners_folders_and_the_session_starts_there(
    run: Any, make_app: Any, remote: HeadlessRunner, runner_home: Path, tmp_path: Path, qtbot: Any
) -> None:
    settings_path = tmp_path / "config" / "settings.json"
    api = str(runner_home / "projects" / "api")

    async def scenario() -> None:
        app = await live_app(make_app, remote.url, SettingsStore(settings_path))
        dialog = open_dialog(app)
        assert dialog.folder.text() == ""  # never this machine's home for a remote runner
        picker = browse(dialog)
        # The runner's home folder first: folders first, hidden ones off, files greyed.
        await until(lambda: picker.entry_names() == ["projects", "notes.txt"], 60, "the runner's home listed")
        assert picker.path_field.text() == str(runner_home)
        assert picker.list.item(1).foreground().color() == theme.current().muted  # a file: context, not a choice
        assert picker.list.item(0).foreground().color() != theme.current().muted
        picker.hidden_box.setChecked(True)
        assert picker.entry_names() == [".secrets", "projects", "notes.txt"]
        picker.hidden_box.setChecked(False)
        # Into a folder with the keyboard.
        select(picker, "projects")
        qtbot.keyClick(picker.list, Qt.Key.Key_Return)
        await until(lambda: picker.entry_names() == ["api", "web"], 60, "projects listed")
        assert picker.path_field.text() == str(runner_home / "projects")
        # A folder that is not there: said in the dialog, which stays open on what it showed.
        picker.path_field.setText("/no/such/folder")
        qtbot.keyClick(picker.path_field, Qt.Key.Key_Return)
        await until(lambda: "no such folder" in picker.status.text(), 60, "the error shown")
        assert picker.isVisible() and picker.entry_names() == ["api", "web"]
        # Up, and a path typed the runner's way (`~` is ITS home).
        picker.up_button.click()
        await until(lambda: picker.path_field.text() == str(runner_home), 60, "up to the home folder")
        picker.path_field.setText("~/projects")
        qtbot.keyClick(picker.path_field, Qt.Key.Key_Return)
        await until(lambda: picker.entry_names() == ["api", "web"], 60, "~/projects listed")
        assert picker.status.text() == ""
        assert picker.choose_button.text() == "Choose this folder"
        select(picker, "api")
        assert picker.choose_button.text() == "Choose “api”"
        picker.choose_button.click()
        assert not picker.isVisible()
        assert dialog.folder.text() == api

        dialog.agent.setCurrentIndex(dialog.agent.findData("command"))
        dialog.command.setText(QUICK)
        before = set(app.core.sessions)
        dialog.create_button.click()
        await until(lambda: set(app.core.sessions) - before, 60, "the session created")
        (sid,) = set(app.core.sessions) - before
        assert app.core.sessions[sid].data["cwd"] == api
        # Remembered once the runner's reply to `create` is in (the session may show up before it).
        await until(lambda: app.recent_folders.folders(remote.url) == [api], 60, "the folder remembered")
        await app.shutdown()

        # After a restart, the folder is offered for this runner.
        again = await live_app(make_app, remote.url, SettingsStore(settings_path))
        again.window.current = None  # no session selected: the dialog starts from the recent folders
        dialog = open_dialog(again)
        assert [dialog.folder_box.itemText(i) for i in range(dialog.folder_box.count())] == [api]
        assert dialog.folder.text() == api

    run(scenario())


def test_create_resolves_the_folder_on_the_runner_and_refuses_a_bad_one_in_the_dialog(
    run: Any, make_app: Any, remote: HeadlessRunner, runner_home: Path, tmp_path: Path
) -> None:
    async def scenario() -> None:
        app = await live_app(make_app, remote.url, SettingsStore(tmp_path / "settings.json"))
        dialog = open_dialog(app)
        dialog.agent.setCurrentIndex(dialog.agent.findData("command"))
        dialog.command.setText(QUICK)
        dialog.title.setText("kept")
        dialog.folder.setText("~/projects/nope")
        dialog.create_button.click()
        await until(lambda: "no such folder" in dialog.error.text(), 60, "the folder refused")
        assert dialog.isVisible() and dialog.create_button.isEnabled()
        assert dialog.title.text() == "kept" and not app.core.sessions
        dialog.folder.setText("~/projects/web")
        dialog.create_button.click()
        await until(lambda: bool(app.core.sessions), 60, "the session created")
        (info,) = app.core.sessions.values()
        assert info.data["cwd"] == str(runner_home / "projects" / "web")
        await until(lambda: app.recent_folders.folders(remote.url) == [str(runner_home / "projects" / "web")],
                    60, "the folder remembered")

    run(scenario())


def test_a_start_folder_that_is_gone_shows_the_home_folder_and_says_why(
    run: Any, make_app: Any, remote: HeadlessRunner, runner_home: Path, tmp_path: Path
) -> None:
    async def scenario() -> None:
        app = await live_app(make_app, remote.url, SettingsStore(tmp_path / "settings.json"))
        dialog = open_dialog(app)
        dialog.folder.setText(str(runner_home / "deleted"))
        picker = browse(dialog)
        await until(lambda: picker.entry_names() == ["projects", "notes.txt"], 60, "the home folder instead")
        assert "no such folder" in picker.status.text() and "showing the home folder" in picker.status.text()
        picker.reject()
        assert dialog.folder.text() == str(runner_home / "deleted")  # cancelled: unchanged

    run(scenario())


def test_a_runner_that_does_not_answer_never_holds_up_the_window(
    run: Any, make_app: Any, remote: HeadlessRunner, runner_home: Path, tmp_path: Path, qtbot: Any
) -> None:
    """The link goes half-open: the picker says it is loading, the window keeps handling input, and closing
    the picker cancels its request (nothing left running, no error afterwards)."""
    with BlackholeProxy("127.0.0.1", urlparse(remote.url).port or 0) as proxy:

        async def scenario() -> None:
            app = await live_app(make_app, proxy.url, SettingsStore(tmp_path / "settings.json"))
            dialog = open_dialog(app)
            proxy.freeze()
            started = time.monotonic()
            picker = browse(dialog)
            assert time.monotonic() - started < 1.0  # the click returned: the request is a task
            assert picker.status.text() == "Loading…" and picker.entry_names() == []
            qtbot.keyClicks(picker.path_field, "~/projects")  # the window still takes input meanwhile
            assert picker.path_field.text() == "~/projects" and picker.status.text() == "Loading…"
            (task,) = picker._tasks
            picker.reject()
            await until(task.done, 10, "the request cancelled")
            assert task.cancelled()

        run(scenario())
