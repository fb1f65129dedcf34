"""RecentFolders: per runner, most recent first, bounded, kept in a real file across instances (restarts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.core.recent import RecentFolders


def test_most_recent_first_per_runner_bounded_and_kept_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "config" / "recent_folders.json"
    recent = RecentFolders(path, limit=3)
    for folder in ("/a", "/b", "/c", "/b", "/d"):
        recent.add("ws://gpu:8765", folder)
    recent.add("embedded", "/home/me/src")
    recent.add("embedded", "")
    assert recent.folders("ws://gpu:8765") == ["/d", "/b", "/c"]
    assert recent.folders("embedded") == ["/home/me/src"]
    assert recent.folders("ssh://other") == []
    again = RecentFolders(path, limit=3)
    assert again.folders("ws://gpu:8765") == ["/d", "/b", "/c"]
    assert again.folders("embedded") == ["/home/me/src"]
    assert not path.with_suffix(".tmp").exists()


def test_an_unreadable_file_is_set_aside_and_the_store_still_works(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "recent_folders.json"
    path.write_text('{"runners": {"embedded": ["/a"')
    recent = RecentFolders(path)
    assert recent.folders("embedded") == []
    assert path.with_suffix(".bad").read_text() == '{"runners": {"embedded": ["/a"'
    assert "set aside" in caplog.text
    recent.add("embedded", "/b")
    assert json.loads(path.read_text()) == {"runners": {"embedded": ["/b"]}}
    # Entries of the wrong kind are skipped, not fatal.
    path.write_text(json.dumps({"runners": {"embedded": ["/x", 3, "", "/x", "/y"]}}))
    assert RecentFolders(path).folders("embedded") == ["/x", "/y"]


def test_a_failed_save_is_logged_and_loses_nothing_in_memory(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    recent = RecentFolders(blocker / "recent_folders.json")
    recent.add("embedded", "/a")
    assert recent.folders("embedded") == ["/a"]
    assert "cannot save the recent folders" in caplog.text
