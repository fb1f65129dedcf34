"""Markdown text cut into top-level blocks, without Qt.

A streamed message grows at its end. Rendering it block by block (each block parsed and laid out on its own, and
cached by its text) means a new delta re-parses only the last block, however long the message is. A block is a run
of lines up to a blank line, except that fenced code keeps its blank lines and stays one block of its own (it gets
syntax highlighting), and a list or quote continued after a blank line stays in one block."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)")
_LIST_ITEM = re.compile(r"^\s*([-*+]|\d+[.)])\s")
_QUOTE = re.compile(r"^\s*>")


def _continues(first: str, line: str) -> bool:
    """Whether `line`, after a blank line, goes on with the block that starts with `first`: a list goes on with
    items and indented lines, a quote with quoted lines."""
    if _LIST_ITEM.match(first):
        return bool(_LIST_ITEM.match(line) or line[:1].isspace())
    return bool(_QUOTE.match(first) and _QUOTE.match(line))


@dataclass(frozen=True, slots=True)
class Block:
    text: str
    code: bool = False
    language: str = ""
    """For fenced code: the word after the fence (may be empty)."""


def split_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines: list[str] = []
    fence: str | None = None
    language = ""
    code: list[str] = []

    def flush() -> None:
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            blocks.append(Block("\n".join(lines)))
            lines.clear()

    for line in text.split("\n"):
        if fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                blocks.append(Block("\n".join(code), True, language))
                fence, code = None, []
            else:
                code.append(line)
            continue
        match = _FENCE.match(line)
        if match:
            flush()
            fence, language, code = match.group(1), match.group(2), []
            continue
        if not line.strip():
            if lines and not (_LIST_ITEM.match(lines[0]) or _QUOTE.match(lines[0])):
                flush()
            elif lines:
                lines.append(line)
            continue
        if lines and not lines[-1].strip() and not _continues(lines[0], line):
            flush()  # a blank line in a list or quote, then a line that does not continue it: a new block
        lines.append(line)
    if fence is not None:
        blocks.append(Block("\n".join(code), True, language))  # still streaming, or never closed
    flush()
    return blocks
