"""File edits of agent tool calls as unified diffs, without Qt.

Which tools edit files, and where their inputs keep the path and the text (see /work/shared/reference): Claude
Code's Edit, MultiEdit (1.x), Write and NotebookEdit; Gemini CLI's replace and write_file; OpenCode's edit and
write; Codex's file_change (paths and kinds only: its JSON output carries no diff text).

Claude Code's results also carry the hunks it applied, numbered as in the file (the tool_result's `patch`,
runner/EVENTS.md): with them a diff shows the file's line numbers; without, a diff of the tool's input strings
shows none (they would count from the start of the snippet)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from desktop.core.worktree import DiffLine, DiffLineKind

CONTEXT_LINES = 3
MAX_DIFF_INPUT = 2_000_000
"""Characters of old plus new text beyond which no diff is computed (difflib is quadratic at worst)."""


@dataclass(frozen=True)
class FileEdit:
    path: str
    action: str
    """edit, write, notebook, or Codex's add / update / delete."""
    lines: list[DiffLine] = field(default_factory=list)
    """Hunk separators, context, removed and added lines, each with its +/-/space prefix."""

    @property
    def added(self) -> int:
        return sum(1 for line in self.lines if line.kind is DiffLineKind.ADDED)

    @property
    def removed(self) -> int:
        return sum(1 for line in self.lines if line.kind is DiffLineKind.REMOVED)


def unified(old: str, new: str) -> list[DiffLine]:
    """The diff of two texts as typed lines. Hunks are separated by a HUNK line of "⋯" (their line numbers would
    count from the start of the edited snippet, not of the file, and mislead)."""
    if len(old) + len(new) > MAX_DIFF_INPUT:
        return [DiffLine(DiffLineKind.HUNK, f"⋯ too long to compare ({len(old):,} → {len(new):,} characters)")]
    out: list[DiffLine] = []
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=CONTEXT_LINES)
    for k, line in enumerate(diff):
        if k < 2:
            continue  # the ---/+++ file header: the row has its own
        if line.startswith("@@"):
            if out:
                out.append(DiffLine(DiffLineKind.HUNK, "⋯"))
        elif line.startswith("+"):
            out.append(DiffLine(DiffLineKind.ADDED, line))
        elif line.startswith("-"):
            out.append(DiffLine(DiffLineKind.REMOVED, line))
        else:
            out.append(DiffLine(DiffLineKind.CONTEXT, line))
    return out


def added_lines(text: str) -> list[DiffLine]:
    """A new file's content (or a notebook cell's new source): every line added."""
    if len(text) > MAX_DIFF_INPUT:
        text = text[:MAX_DIFF_INPUT]
    return [DiffLine(DiffLineKind.ADDED, "+" + line) for line in text.splitlines()]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _path(value: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        if isinstance(value.get(key), str) and value[key]:
            return value[key]
    return None


def patch_lines(patch: Any) -> list[DiffLine] | None:
    """A tool_result's `patch` (hunks with the file's line numbers) as typed, numbered lines; None unless it has
    that shape."""
    if not isinstance(patch, list) or not patch:
        return None
    out: list[DiffLine] = []
    for hunk in patch:
        if not isinstance(hunk, dict) or not isinstance(hunk.get("lines"), list):
            return None
        starts = hunk.get("old_start"), hunk.get("old_lines"), hunk.get("new_start"), hunk.get("new_lines")
        if not all(isinstance(n, int) for n in starts):
            return None
        old, old_count, new, new_count = starts
        out.append(DiffLine(DiffLineKind.HUNK, f"@@ -{old},{old_count} +{new},{new_count} @@"))
        for line in hunk["lines"]:
            text = str(line)
            if text.startswith("+"):
                out.append(DiffLine(DiffLineKind.ADDED, text, None, new))
                new += 1
            elif text.startswith("-"):
                out.append(DiffLine(DiffLineKind.REMOVED, text, old, None))
                old += 1
            elif text.startswith("\\"):  # "\ No newline at end of file": about the line before
                out.append(DiffLine(DiffLineKind.HUNK, text))
            else:
                out.append(DiffLine(DiffLineKind.CONTEXT, text, old, new))
                old += 1
                new += 1
    return out


def numbered(edit: FileEdit) -> list[tuple[str, DiffLineKind]]:
    """An edit's lines as shown: where the file's numbers are known, a gutter of the old and new line numbers
    before each line."""
    widest = max((n for line in edit.lines for n in (line.old, line.new) if n is not None), default=None)
    if widest is None:
        return [(line.text, line.kind) for line in edit.lines]
    width = len(str(widest))

    def number(n: int | None) -> str:
        return str(n).rjust(width) if n is not None else " " * width

    return [(line.text if line.kind is DiffLineKind.HUNK else f"{number(line.old)} {number(line.new)} {line.text}",
             line.kind) for line in edit.lines]


def file_edits(tool_name: str, tool_input: Any, patch: Any = None) -> list[FileEdit] | None:
    """The file edits a tool call makes, or None when the tool does not edit files (or its input is not the
    shape the agent documents: then the row shows the input as it is). `patch`: its result's hunks, if any."""
    if not isinstance(tool_input, dict):
        return None
    name = tool_name.lower()
    from_patch = patch_lines(patch) if name in ("edit", "multiedit", "write") else None
    if from_patch is not None:
        path = _path(tool_input, "file_path", "filePath", "path")
        if path is not None:
            return [FileEdit(path, "write" if name == "write" else "edit", from_patch)]
    if name in ("edit", "replace", "multiedit"):
        path = _path(tool_input, "file_path", "filePath", "path")
        if path is None:
            return None
        if isinstance(tool_input.get("edits"), list):
            lines: list[DiffLine] = []
            for edit in tool_input["edits"]:
                if isinstance(edit, dict):
                    if lines:
                        lines.append(DiffLine(DiffLineKind.HUNK, "⋯"))
                    lines += unified(_text(edit.get("old_string")), _text(edit.get("new_string")))
            return [FileEdit(path, "edit", lines)]
        old = _text(tool_input.get("old_string", tool_input.get("oldString")))
        new = _text(tool_input.get("new_string", tool_input.get("newString")))
        return [FileEdit(path, "edit", unified(old, new))]
    if name in ("write", "write_file"):
        path = _path(tool_input, "file_path", "filePath", "path")
        if path is None or not isinstance(tool_input.get("content"), str):
            return None
        return [FileEdit(path, "write", added_lines(tool_input["content"]))]
    if name == "notebookedit":
        path = _path(tool_input, "notebook_path")
        if path is None:
            return None
        mode = tool_input.get("edit_mode") or "replace"
        cell = tool_input.get("cell_id")
        label = f"{mode} cell {cell}" if cell else f"{mode} cell"
        lines = [DiffLine(DiffLineKind.HUNK, label)]
        if mode != "delete":
            lines += added_lines(_text(tool_input.get("new_source")))
        return [FileEdit(path, "notebook", lines)]
    if name == "file_change" and isinstance(tool_input.get("changes"), list):
        return [FileEdit(str(c.get("path", "?")), str(c.get("kind", "update")))
                for c in tool_input["changes"] if isinstance(c, dict)]
    return None
