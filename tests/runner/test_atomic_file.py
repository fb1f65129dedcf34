"""write_atomically: the whole new content or the old, created private, no temporary file left behind."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from runner.atomic_file import write_atomically


def test_replaces_the_whole_file_and_leaves_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    path.write_text("old content that is longer than the new")
    write_atomically(path, b"new")
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["record.json"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_the_file_is_private_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "token"
    old_umask = os.umask(0)  # a permissive umask must not widen the mode
    try:
        write_atomically(path, b"secret\n")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_failed_rename_keeps_the_old_content_and_removes_the_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()  # a folder where the file should go: the rename fails
    (target / "inside").write_text("kept")
    with pytest.raises(OSError):
        write_atomically(target, b"new")
    assert (target / "inside").read_text() == "kept"
    assert sorted(os.listdir(tmp_path)) == ["taken"]
