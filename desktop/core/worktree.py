"""Worktree review logic without Qt: is a folder in a git repository, what to suggest as a commit message, what a
discard would lose, and a unified diff split into typed lines for colouring."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


def repository_root(folder: str) -> str | None:
    """The top of the git repository holding `folder` (a `.git` folder or file in it or above), or None."""
    path = os.path.abspath(os.path.expanduser(folder))
    while True:
        if os.path.exists(os.path.join(path, ".git")):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def suggested_commit_message(title: str) -> str:
    title = " ".join(title.split())
    return title[:1].upper() + title[1:] if title else "Changes from a Nightshift session"


def loss_summary(changes: dict[str, Any]) -> str:
    """What discarding the worktree loses, in words (from a `changes` reply)."""
    uncommitted = int(changes.get("uncommitted") or 0)
    commits = int(changes.get("commits") or 0)
    files = len(changes.get("files") or [])
    if not uncommitted and not commits:
        return "Nothing is lost: the branch has no changes."
    parts = []
    if uncommitted:
        parts.append(f"{uncommitted} uncommitted file{'s' if uncommitted != 1 else ''}")
    if commits:
        parts.append(f"{commits} commit{'s' if commits != 1 else ''} on {changes.get('branch')}")
    return f"This deletes {' and '.join(parts)} ({files} file{'s' if files != 1 else ''} changed in all)."


class DiffLineKind(StrEnum):
    FILE = "file"  # diff --git, index, ---, +++ and other header lines
    HUNK = "hunk"  # @@ -a,b +c,d @@
    ADDED = "added"
    REMOVED = "removed"
    CONTEXT = "context"


@dataclass(frozen=True)
class DiffLine:
    kind: DiffLineKind
    text: str
    old: int | None = None
    """The line's number in the file before the change, where known (context and removed lines)."""
    new: int | None = None
    """Its number after the change, where known (context and added lines)."""


def diff_lines(diff: str) -> list[DiffLine]:
    out: list[DiffLine] = []
    in_hunk = False
    for line in diff.splitlines():
        if line.startswith("@@"):
            in_hunk = True
            out.append(DiffLine(DiffLineKind.HUNK, line))
        elif line.startswith("diff --git "):
            in_hunk = False
            out.append(DiffLine(DiffLineKind.FILE, line))
        elif in_hunk and line.startswith("+"):
            out.append(DiffLine(DiffLineKind.ADDED, line))
        elif in_hunk and line.startswith("-"):
            out.append(DiffLine(DiffLineKind.REMOVED, line))
        elif in_hunk:
            out.append(DiffLine(DiffLineKind.CONTEXT, line))
        else:
            out.append(DiffLine(DiffLineKind.FILE, line))
    return out
