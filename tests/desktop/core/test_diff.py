"""Edits of agent tools as unified diffs (desktop/core/diff.py), for the transcript's diff rows."""

from __future__ import annotations

from desktop.core.diff import file_edits, unified
from desktop.core.worktree import DiffLineKind


def texts(lines: list) -> list[str]:
    return [line.text for line in lines]


def test_edit_is_a_unified_diff_of_old_and_new() -> None:
    (edit,) = file_edits("Edit", {"file_path": "/p/a.py", "old_string": "a\nb\nc", "new_string": "a\nB\nc\nd"})
    assert edit.path == "/p/a.py" and (edit.added, edit.removed) == (2, 1)
    assert texts(edit.lines) == [" a", "-b", "+B", " c", "+d"]
    assert [line.kind for line in edit.lines] == [DiffLineKind.CONTEXT, DiffLineKind.REMOVED, DiffLineKind.ADDED,
                                                  DiffLineKind.CONTEXT, DiffLineKind.ADDED]


def test_a_removed_line_that_looks_like_a_header_is_kept() -> None:
    assert texts(unified("-- comment\nx", "x")) == ["--- comment", " x"]


def test_far_apart_changes_are_separate_hunks() -> None:
    old = "\n".join(f"line {i}" for i in range(40))
    new = old.replace("line 2\n", "line two\n").replace("line 35", "line thirty-five")
    lines = unified(old, new)
    assert [line.text for line in lines if line.kind is DiffLineKind.HUNK] == ["⋯"]
    assert "-line 2" in texts(lines) and "+line thirty-five" in texts(lines)


def test_write_notebook_and_other_agents() -> None:
    (write,) = file_edits("Write", {"file_path": "/p/new.txt", "content": "one\ntwo\n"})
    assert texts(write.lines) == ["+one", "+two"] and write.removed == 0
    (multi,) = file_edits("MultiEdit", {"file_path": "/p/m", "edits": [
        {"old_string": "a", "new_string": "b"}, {"old_string": "c", "new_string": "d"}]})
    assert texts(multi.lines) == ["-a", "+b", "⋯", "-c", "+d"]
    (cell,) = file_edits("NotebookEdit", {"notebook_path": "/p/n.ipynb", "cell_id": "c1", "new_source": "print(2)",
                                          "edit_mode": "replace"})
    assert texts(cell.lines) == ["replace cell c1", "+print(2)"]
    (gemini,) = file_edits("replace", {"file_path": "/g", "old_string": "x", "new_string": "y"})
    assert texts(gemini.lines) == ["-x", "+y"]
    (opencode,) = file_edits("edit", {"filePath": "/o", "oldString": "x", "newString": "z"})
    assert opencode.path == "/o" and texts(opencode.lines) == ["-x", "+z"]
    (written,) = file_edits("write_file", {"file_path": "/g2", "content": "hi"})
    assert texts(written.lines) == ["+hi"]
    codex = file_edits("file_change", {"changes": [{"path": "/c/a", "kind": "update"}, {"path": "/c/b",
                                                                                        "kind": "add"}]})
    assert [(e.path, e.action, e.lines) for e in codex] == [("/c/a", "update", []), ("/c/b", "add", [])]
    assert file_edits("Bash", {"command": "ls"}) is None
    assert file_edits("Edit", {"old_string": "no path"}) is None


PATCH = [{"old_start": 40, "old_lines": 3, "new_start": 41, "new_lines": 3,
          "lines": [" def f():", "-    return 1", "+    return 2", " "]},
         {"old_start": 118, "old_lines": 1, "new_start": 119, "new_lines": 2,
          "lines": [" end", "+extra", "\\ No newline at end of file"]}]


def test_an_edit_with_its_results_patch_shows_the_files_line_numbers() -> None:
    from desktop.core.diff import numbered

    edit_input = {"file_path": "/p/app.py", "old_string": "    return 1", "new_string": "    return 2"}
    (edit,) = file_edits("Edit", edit_input, PATCH)
    assert (edit.path, edit.action, edit.added, edit.removed) == ("/p/app.py", "edit", 2, 1)
    assert [(line.old, line.new) for line in edit.lines if line.kind is not DiffLineKind.HUNK] == [
        (40, 41), (41, None), (None, 42), (42, 43), (118, 119), (None, 120)]
    assert [text for text, _kind in numbered(edit)] == [
        "@@ -40,3 +41,3 @@",
        " 40  41  def f():",
        " 41     -    return 1",
        "     42 +    return 2",
        " 42  43  ",
        "@@ -118,1 +119,2 @@",
        "118 119  end",
        "    120 +extra",
        "\\ No newline at end of file",
    ]
    # A Write over an existing file: its real changes, not the whole content as added.
    (write,) = file_edits("Write", {"file_path": "/p/app.py", "content": "whole file"}, PATCH[:1])
    assert (write.action, write.added, write.removed) == ("write", 1, 1)
    # Without a patch (or with one that is not that shape): the input's diff, and no numbers to mislead.
    for patch in (None, [], [{"old_start": "1"}], "x"):
        (plain,) = file_edits("Edit", edit_input, patch)
        assert [text for text, _kind in numbered(plain)] == ["-    return 1", "+    return 2"]
