"""Issue 12 item 3: an agent's plan (TodoWrite, Claude 2.x Task tools, Codex todo_list, Gemini write_todos,
OpenCode todowrite) shown as a checklist in its tool row, and its latest state pinned at the top of the session."""

from __future__ import annotations

from typing import Any

from desktop.core.transcript import RowKind
from tests.desktop.qt.test_transcript_view import make_view


def todo_lines(view: Any, model: Any, row: Any) -> list[tuple[str, str]]:
    lay = view.delegate.layout(row, view.viewport().width(), model)
    return [(text, str(status)) for what, text, status in lay.extra.get("diff", []) if what == "todo"]


def todo_write(seq: int, tool_id: str, statuses: list[str]) -> dict[str, Any]:
    names = ["Read the code", "Write the fix", "Run the tests"]
    return {"seq": seq, "kind": "tool_call", "tool_id": tool_id, "name": "TodoWrite", "input": {"todos": [
        {"content": n, "status": s, "activeForm": n + "ing"} for n, s in zip(names, statuses, strict=True)]}}


def test_todo_checklist_in_its_row_and_latest_plan_on_top(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    assert not view.plan_bar.isVisible()
    model.apply_events([todo_write(1, "t1", ["in_progress", "pending", "pending"])])
    first = model.transcript.rows[0]
    assert todo_lines(view, model, first) == [("Read the code", "in_progress"), ("Write the fix", "pending"),
                                              ("Run the tests", "pending")]
    assert view.plan_bar.isVisible()
    assert view.plan_bar.text().split("\n") == ["Plan  0 of 3 done  ▾", "◐  Read the code", "☐  Write the fix",
                                                "☐  Run the tests"]
    # The plan sits above the rows, not over them.
    assert view.plan_bar.geometry().bottom() < view.viewport().geometry().top()

    model.apply_events([{"seq": 2, "kind": "output", "stream": "stdout", "text": "working"},
                        todo_write(3, "t2", ["completed", "completed", "in_progress"])])
    # The latest state on top; each row keeps the checklist as its call left it.
    assert view.plan_bar.text().split("\n")[0] == "Plan  2 of 3 done  ▾"
    assert "◐  Run the tests" in view.plan_bar.text()
    assert todo_lines(view, model, first)[0] == ("Read the code", "in_progress")
    assert todo_lines(view, model, model.transcript.rows[2])[0] == ("Read the code", "completed")

    # A click folds the bar to the item in progress.
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    QTest.mouseClick(view.plan_bar, Qt.MouseButton.LeftButton)
    assert view.plan_bar.text().split("\n") == ["Plan  2 of 3 done  ▸", "◐  Run the tests"]


def test_todo_claude_task_tools_build_the_plan(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    model.apply_events([
        {"seq": 1, "kind": "tool_call", "tool_id": "c1", "name": "TaskCreate",
         "input": {"subject": "Write tests", "description": "cover it"}},
        {"seq": 2, "kind": "tool_result", "tool_id": "c1", "output": "Task #1 created successfully: Write tests"},
        {"seq": 3, "kind": "tool_call", "tool_id": "c2", "name": "TaskCreate",
         "input": {"subject": "Fix the bug", "description": "the bug"}},
        {"seq": 4, "kind": "tool_result", "tool_id": "c2", "output": "Task #2 created successfully: Fix the bug"},
        {"seq": 5, "kind": "tool_call", "tool_id": "u1", "name": "TaskUpdate",
         "input": {"taskId": "1", "status": "completed"}},
        {"seq": 6, "kind": "tool_call", "tool_id": "u2", "name": "TaskUpdate",
         "input": {"taskId": "2", "status": "in_progress"}},
    ])
    assert view.plan_bar.text().split("\n") == ["Plan  1 of 2 done  ▾", "☑  Write tests", "◐  Fix the bug"]
    update = model.transcript.rows[3]
    assert update.kind is RowKind.TOOL and todo_lines(view, model, update) == [("Write tests", "completed"),
                                                                               ("Fix the bug", "in_progress")]


def test_todo_codex_list_updates_its_row_in_place_and_other_agents(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    model.apply_events([{"seq": 1, "kind": "tool_call", "tool_id": "t:item_3", "name": "todo_list", "input": {
        "items": [{"text": "List files", "completed": True}, {"text": "Patch files", "completed": False}]}}])
    row = model.transcript.rows[0]
    assert todo_lines(view, model, row) == [("List files", "completed"), ("Patch files", "pending")]
    model.apply_events([{"seq": 2, "kind": "tool_result", "tool_id": "t:item_3",
                         "output": "[x] List files\n[x] Patch files", "is_error": False}])
    assert len(model.transcript.rows) == 1  # the same row, updated
    assert todo_lines(view, model, row) == [("List files", "completed"), ("Patch files", "completed")]
    assert view.plan_bar.text().split("\n")[0] == "Plan  2 of 2 done  ▾"

    model.apply_events([{"seq": 3, "kind": "tool_call", "tool_id": "g1", "name": "write_todos", "input": {
        "todos": [{"description": "Gemini step", "status": "in_progress"}]}}])
    assert view.plan_bar.text().split("\n")[1] == "◐  Gemini step"
    model.apply_events([{"seq": 4, "kind": "tool_call", "tool_id": "o1", "name": "todowrite", "input": {
        "todos": [{"content": "OpenCode step", "status": "completed", "priority": "high", "id": "1"}]}}])
    assert view.plan_bar.text().split("\n")[1] == "☑  OpenCode step"
    # A new session (another model) has no plan.
    from desktop.qt.transcript_model import TranscriptModel

    view.setModel(TranscriptModel("other"))
    assert not view.plan_bar.isVisible()
