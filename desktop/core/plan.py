"""An agent's plan (its todo list) as it stands, from its tool calls, without Qt.

The tools (/work/shared/reference): Claude Code's TodoWrite (`todos`: content, status, activeForm) and, in 2.x,
TaskCreate / TaskUpdate / TaskList (tasks by number, told in the results); Gemini CLI's write_todos (`todos`:
description, status); OpenCode's todowrite (`todos`: content, status); Codex's todo_list items (`items`: text,
completed), whose result lists them again as "[x] text" lines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

PENDING, IN_PROGRESS, COMPLETED = "pending", "in_progress", "completed"
_REPLACING = {"todowrite", "write_todos", "todo_list"}
_TASK_TOOLS = {"taskcreate", "taskupdate", "tasklist"}
_CREATED = re.compile(r"#(\w+)")
_LISTED = re.compile(r"^\s*#(\w+)\s*\[(\w+)\]\s*(.*)$")
_CHECKED = re.compile(r"^\s*\[([ xX])\]\s?(.*)$")


@dataclass(frozen=True, slots=True)
class PlanItem:
    text: str
    status: str
    """pending, in_progress or completed (anything else an agent says is kept as it is)."""
    task_id: str = ""


def is_plan_tool(name: str) -> bool:
    return name.lower() in _REPLACING or name.lower() in _TASK_TOOLS


def _status(value: Any) -> str:
    return value if isinstance(value, str) and value else PENDING


def _items_from_input(value: Any) -> list[PlanItem] | None:
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("todos"), list):
        out = []
        for todo in value["todos"]:
            if isinstance(todo, dict):
                text = todo.get("content") or todo.get("description") or todo.get("text") or ""
                out.append(PlanItem(str(text), _status(todo.get("status"))))
        return out
    if isinstance(value.get("items"), list):
        return [PlanItem(str(i.get("text", "")), COMPLETED if i.get("completed") else PENDING)
                for i in value["items"] if isinstance(i, dict)]
    return None


class Plan:
    """The latest plan of a session. `update_call()` and `update_result()` return whether it changed."""

    def __init__(self) -> None:
        self.items: list[PlanItem] = []
        self.version = 0
        self._creating: dict[str, str] = {}
        """TaskCreate calls waiting for their result (which tells the task's number): tool_id -> subject."""

    def _set(self, items: list[PlanItem]) -> bool:
        if items == self.items:
            return False
        self.items = items
        self.version += 1
        return True

    def snapshot(self) -> list[tuple[str, str]]:
        """The items as plain values (what a transcript row keeps)."""
        return [(i.text, i.status) for i in self.items]

    def update_call(self, name: str, tool_id: str, value: Any) -> bool:
        name = name.lower()
        if name in _REPLACING:
            items = _items_from_input(value)
            return items is not None and self._set(items)
        if not isinstance(value, dict):
            return False
        if name == "taskcreate" and isinstance(value.get("subject"), str):
            self._creating[tool_id] = value["subject"]
            return self._set([*self.items, PlanItem(value["subject"], PENDING)])
        if name == "taskupdate" and value.get("taskId") is not None:
            task_id = str(value["taskId"])
            items = []
            for item in self.items:
                if item.task_id == task_id:
                    status = value.get("status")
                    if status == "deleted":
                        continue
                    item = PlanItem(str(value.get("subject") or item.text),
                                    status if isinstance(status, str) else item.status, task_id)
                items.append(item)
            return self._set(items)
        return False

    def update_result(self, name: str, tool_id: str, output: Any, is_error: bool) -> bool:
        name = name.lower()
        subject = self._creating.pop(tool_id, None)
        if is_error or not isinstance(output, str):
            return False
        if name == "taskcreate" and subject is not None:
            found = _CREATED.search(output)
            if found is None:
                return False
            items = list(self.items)
            for k in range(len(items) - 1, -1, -1):
                if items[k].text == subject and not items[k].task_id:
                    items[k] = PlanItem(subject, items[k].status, found.group(1))
                    break
            return self._set(items)
        if name == "tasklist":
            listed = [m for m in (_LISTED.match(line) for line in output.splitlines()) if m]
            return bool(listed) and self._set([PlanItem(m.group(3), m.group(2), m.group(1)) for m in listed])
        if name == "todo_list":
            checked = [m for m in (_CHECKED.match(line) for line in output.splitlines()) if m]
            return bool(checked) and self._set(
                [PlanItem(m.group(2), COMPLETED if m.group(1) != " " else PENDING) for m in checked])
        return False
