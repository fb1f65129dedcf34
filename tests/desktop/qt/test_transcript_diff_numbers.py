"""Issue 12 item 2, with Claude Code's `structuredPatch`: the diff row of an edit shows the file's own line numbers,
from the tool_result's `patch`, as the runner journals it."""

from __future__ import annotations

from typing import Any

from tests.desktop.qt.test_transcript_diff import shown_lines
from tests.desktop.qt.test_transcript_view import make_view


def test_diff_of_an_edit_shows_the_files_line_numbers(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    model.apply_events([
        {"seq": 1, "kind": "tool_call", "tool_id": "t1", "name": "Edit",
         "input": {"file_path": "/p/app.py", "old_string": "    return 1", "new_string": "    return 2"}},
    ])
    row = model.transcript.rows[0]
    assert shown_lines(view, model, row)[1:] == [("line", "-    return 1"), ("line", "+    return 2")]
    model.apply_events([
        {"seq": 2, "kind": "tool_result", "tool_id": "t1", "output": "The file has been updated successfully.",
         "is_error": False, "patch": [{"old_start": 1203, "old_lines": 2, "new_start": 1210, "new_lines": 2,
                                       "lines": [" def f():", "-    return 1", "+    return 2"]}]},
    ])
    view.doItemsLayout()
    assert shown_lines(view, model, row) == [
        ("file", "/p/app.py  +1 -1"),
        ("line", "@@ -1203,2 +1210,2 @@"),
        ("line", "1203 1210  def f():"),
        ("line", "1204      -    return 1"),
        ("line", "     1211 +    return 2"),
    ]
