"""A worktree per session, as the user sees it: the new-session option, the header's branch and count, the changes
panel's files and coloured diff, commit, merge, discard and delete, against a real runner and a real repository."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from desktop.core.worktree import DiffLineKind, diff_lines, loss_summary, repository_root
from desktop.qt import theme
from desktop.qt.dialogs import NewSessionDialog
from tests.desktop.qt.helpers import until
from tests.desktop.qt.test_session_flow import live_app
from tests.fakes.git_repo import git, make_repo

EDIT = "open('notes.txt','w').write('{notes}'); open('new.py','w').write('{new}')"
AGENTS = [{"name": "claude", "label": "Claude Code", "available": True},
          {"name": "command", "label": "Command", "available": True}]



@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = make_repo(tmp_path / "repo", {"notes.txt": "alpha\nbeta\n"})
    (r / "pkg").mkdir()
    return r


def test_repository_root_and_diff_lines(repo: Path, tmp_path: Path) -> None:
    assert repository_root(str(repo / "pkg")) == str(repo)
    assert repository_root(str(tmp_path)) is None
    kinds = [line.kind for line in diff_lines("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n ctx")]
    assert kinds == [DiffLineKind.FILE, DiffLineKind.FILE, DiffLineKind.FILE, DiffLineKind.HUNK,
                     DiffLineKind.REMOVED, DiffLineKind.ADDED, DiffLineKind.CONTEXT]
    assert "2 uncommitted files and 1 commit on b" in loss_summary(
        {"uncommitted": 2, "commits": 1, "branch": "b", "files": [{}, {}]})


def test_new_session_offers_a_worktree_only_inside_a_repository(qtbot: Any, repo: Path, tmp_path: Path) -> None:
    dialog = NewSessionDialog(AGENTS, str(repo))
    qtbot.addWidget(dialog)
    assert dialog.worktree.isVisibleTo(dialog) and dialog.worktree.isChecked()  # on for agents
    assert dialog.request()["worktree"] is True and "base" not in dialog.request()
    assert dialog.base.isVisibleTo(dialog)
    dialog.base.setText("release")
    assert dialog.request()["base"] == "release"
    dialog.agent.setCurrentIndex(1)  # command
    assert not dialog.worktree.isChecked() and "worktree" not in dialog.request()
    dialog.folder.setText(str(tmp_path))
    assert not dialog.worktree.isVisibleTo(dialog) and "worktree" not in dialog.request()
    remote = NewSessionDialog(AGENTS, "/on/the/runner's/disk", local=False)
    qtbot.addWidget(remote)
    assert remote.worktree.isVisibleTo(remote) and remote.request()["worktree"] is True  # the runner checks


def test_changes_panel_commit_merge_and_discard(run: Any, make_app: Any, embedded: Any, repo: Path,
                                               qtbot: Any) -> None:
    edit = [sys.executable, "-c", EDIT.format(notes="alpha\\nBETA\\n", new="x = 1\\n")]
    edit2 = [sys.executable, "-c", EDIT.format(notes="gamma\\n", new="y = 2\\n")]

    async def scenario() -> None:
        app = await live_app(make_app, embedded)
        sid = await app.create_session({"argv": edit, "cwd": str(repo), "title": "tidy notes", "worktree": True})
        await until(lambda: app.core.sessions[sid].status == "exited", 60, "the edit to finish")
        await until(lambda: app.core.sessions[sid].data["worktree"]["changed_files"] == 2, 60, "the count")
        await until(lambda: "2 files changed" in app.window.session_subtitle.full_text(), 30, "the header")
        branch = app.core.sessions[sid].data["worktree"]["branch"]
        assert f"⎇ {branch}" in app.window.session_subtitle.full_text()
        assert app.window.changes_action.isEnabled()

        panel = app.show_changes(sid)
        await until(lambda: panel.files.count() == 2, 30, "the file list")
        labels = [panel.files.item(i).text() for i in range(panel.files.count())]
        assert any(t.startswith("A  new.py") and "+1 -0" in t for t in labels), labels
        assert any(t.startswith("M  notes.txt") and "+1 -1" in t for t in labels), labels
        panel.files.setCurrentRow(next(i for i, t in enumerate(labels) if "notes.txt" in t))
        assert "-beta" in panel.diff_text() and "+BETA" in panel.diff_text()
        html = panel.diff.toHtml()
        assert theme.current().success.name() in html.lower() and theme.current().error_fg.name() in html.lower()
        assert panel.message.text() == "Tidy notes"
        assert panel.commit_button.isEnabled() and not panel.merge_button.isEnabled()

        await panel.commit()
        assert "0 uncommitted" in panel.heading.text() and "1 commit" in panel.heading.text()
        assert panel.merge_button.isEnabled()
        panel.merge_mode.setCurrentIndex(0)  # fast-forward only
        await panel.merge()
        assert (repo / "notes.txt").read_text() == "alpha\nBETA\n"
        assert git(repo, "log", "-1", "--format=%s") == "Tidy notes"

        # A second session: discard asks first and says what is lost.
        other = await app.create_session({"argv": edit2, "cwd": str(repo), "title": "scrap", "worktree": True})
        await until(lambda: app.core.sessions[other].status == "exited", 60, "the second edit")
        panel2 = app.show_changes(other)
        await until(lambda: panel2.files.count() == 2, 30, "the second file list")
        panel2.ask_discard()
        box = panel2.discard_box
        assert box is not None and "2 uncommitted files" in box.informativeText()
        path = Path(app.core.sessions[other].data["worktree"]["path"])
        assert path.is_dir()
        await panel2.discard()
        await until(lambda: "worktree" not in app.core.sessions[other].data, 30, "the worktree gone")
        assert not path.exists()

        # Deleting a session keeps its worktree unless the box's checkbox says otherwise.
        third = await app.create_session({"argv": edit, "cwd": str(repo), "title": "keep me", "worktree": True})
        await until(lambda: app.core.sessions[third].status == "exited", 60, "the third edit")
        kept = Path(app.core.sessions[third].data["worktree"]["path"])
        app.window.select_session(third)
        app.window.ask_delete()
        delete_box: QMessageBox = app.window.delete_box
        assert delete_box.checkBox() is not None and not delete_box.checkBox().isChecked()
        delete_box.checkBox().setChecked(True)
        next(b for b in delete_box.buttons() if b.text() == "Delete").click()
        await until(lambda: third not in app.core.sessions, 30, "the delete")
        assert not kept.exists()

    run(scenario())
