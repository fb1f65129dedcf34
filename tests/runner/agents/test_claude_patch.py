"""Claude Code's Edit/Write results carry the hunks they applied (`tool_use_result.structuredPatch`, numbered as in
the file): the translator keeps them in the tool_result's `patch` (runner/EVENTS.md), and only when they are that
shape."""

from __future__ import annotations

from typing import Any

from runner.agents.claude_translator import MAX_PATCH_CHARS, ClaudeTranslator

# As the CLI prints it (/work/shared/reference/claude-codex-tools.md, Edit's FileEditOutput).
EDIT_RESULT = {
    "filePath": "/home/me/proj/app.py", "oldString": "    return 1", "newString": "    return 2",
    "originalFile": "...", "userModified": False, "replaceAll": False,
    "structuredPatch": [{"oldStart": 40, "oldLines": 3, "newStart": 41, "newLines": 3,
                         "lines": [" def f():", "-    return 1", "+    return 2", " "]}],
}


def user_line(tool_use_result: Any, *tool_ids: str) -> dict[str, Any]:
    return {"type": "user", "message": {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": tool_id, "content": "The file has been updated successfully."}
        for tool_id in tool_ids]}, "parent_tool_use_id": None, "tool_use_result": tool_use_result}


def results(line: dict[str, Any]) -> list[dict[str, Any]]:
    return [fields for kind, fields in ClaudeTranslator().feed_lines([line]).events if kind == "tool_result"]


def test_the_hunks_of_an_edit_are_kept_with_the_files_line_numbers() -> None:
    (result,) = results(user_line(EDIT_RESULT, "toolu_1"))
    assert result == {"tool_id": "toolu_1", "output": "The file has been updated successfully.", "is_error": False,
                      "patch": [{"old_start": 40, "old_lines": 3, "new_start": 41, "new_lines": 3,
                                 "lines": [" def f():", "-    return 1", "+    return 2", " "]}]}


def test_no_patch_unless_it_is_the_documented_shape() -> None:
    def hunk(**changes: Any) -> dict[str, Any]:
        return {**EDIT_RESULT, "structuredPatch": [{**EDIT_RESULT["structuredPatch"][0], **changes}]}

    for tool_use_result in ("Error: String to replace not found", {"type": "create", "structuredPatch": []},
                            {"structuredPatch": "no"}, hunk(oldStart="40"), hunk(newLines=True),
                            hunk(oldStart=-1), hunk(lines=[" ok", 7]), hunk(lines="x"),
                            hunk(lines=["+" + "x" * MAX_PATCH_CHARS])):
        (result,) = results(user_line(tool_use_result, "toolu_1"))
        assert "patch" not in result, tool_use_result
    # Two results in one line: whose the structured result is cannot be told.
    assert all("patch" not in r for r in results(user_line(EDIT_RESULT, "toolu_1", "toolu_2")))
