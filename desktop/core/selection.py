"""Selecting text across transcript rows, without Qt.

A selection is two positions, each a row's index in the transcript and a character offset into the text that row
lets the user select (see RowRenderer.selectable_text): never row objects, since rows outside the view's window are
packed (issue 10) and the window's model rows shift as it trims. Copying reads the rows from the transcript.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple

END = 2**62
"""An offset meaning "the end of the row's text", whatever its length by then."""

_WORD = re.compile(r"\w+", re.UNICODE)
_SKIPPED = frozenset("\ufdd0\ufdd1\ufffc")
"""Characters of a QTextDocument's raw text that stand for no source character (frame and object markers)."""
_BREAKS = frozenset("\u2029\u2028\n\r\t \xa0")
ALIGN_WINDOW = 400
"""How far ahead in the source a shown character is looked for (further away, it came from no source text)."""


class TextPos(NamedTuple):
    row: int
    """The row's index in the transcript."""
    offset: int


def ordered(a: TextPos, b: TextPos) -> tuple[TextPos, TextPos]:
    return (a, b) if a <= b else (b, a)


def row_range(start: TextPos, end: TextPos, row: int) -> tuple[int, int] | None:
    """The part [a, b) of `row`'s text inside the selection start..end (ordered), None when none is."""
    if row < start.row or row > end.row:
        return None
    return (start.offset if row == start.row else 0, end.offset if row == end.row else END)


def word_at(text: str, offset: int) -> tuple[int, int]:
    """The word around `offset` (a double click): letters, digits and underscores; else the one character."""
    for m in _WORD.finditer(text):
        if m.start() <= offset < m.end() or (m.end() == offset and offset == len(text)):
            return m.start(), m.end()
        if m.start() > offset:
            break
    return offset, min(offset + 1, len(text))


def selected_text(rows: Any, start: TextPos, end: TextPos, partial: Callable[[Any], str]) -> str:
    """The text of the selection start..end (ordered) over `rows` (a transcript's RowStore): the part of the first
    and last rows that is selected (of `partial(row)`, the text offsets count in), every row between whole (its
    copy_text()), one row per line. A row selected from its start to its end is copied whole too."""
    if end.row >= len(rows):
        end = TextPos(len(rows) - 1, END)
    parts: list[str] = []
    for i in range(max(0, start.row), end.row + 1):
        row = rows[i]
        a = start.offset if i == start.row else 0
        b = end.offset if i == end.row else END
        if a <= 0 and b >= END:
            parts.append(row.copy_text())
            continue
        text = partial(row)
        a, b = max(0, min(a, len(text))), max(0, min(b, len(text)))
        if a == 0 and b == len(text):
            parts.append(row.copy_text())
        elif b > a:
            parts.append(text[a:b])
        # Nothing of an end row (selected from its very end, or up to its very start): no line for it.
    return "\n".join(parts)


def find_spans(text: str, query: str) -> list[tuple[int, int]]:
    """Where `query` occurs in `text`, ignoring case: (start, end) pairs, not overlapping."""
    if not query:
        return []
    hay, needle = text.casefold(), query.casefold()
    if len(hay) != len(text):
        hay, needle = text.lower(), query.lower()  # folding changed lengths (ß -> ss): offsets must stay the text's
        if len(hay) != len(text):
            return []
    spans: list[tuple[int, int]] = []
    at = hay.find(needle)
    while at >= 0 and needle:
        spans.append((at, at + len(needle)))
        at = hay.find(needle, at + len(needle))
    return spans


@lru_cache(maxsize=1024)
def align(shown: str, source: str) -> tuple[int, ...]:
    """For each character of `shown` (a Markdown block as Qt rendered it: its QTextDocument's raw text), the
    offset in `source` (the block's Markdown) of the character it shows, plus one entry past the end. The shown
    text is the source with syntax taken out, so each character is looked for a little ahead of the last; line and
    paragraph breaks match any whitespace; markers that show no character map to where the next one would.
    Cached: a block selected or found in is painted again and again (a streamed message, each batch)."""
    out: list[int] = []
    j, n = 0, len(source)
    for ch in shown:
        if ch in _SKIPPED:
            out.append(min(j, n))
            continue
        stop = min(n, j + ALIGN_WINDOW)
        k = -1
        if ch in _BREAKS:
            for i in range(j, stop):
                if source[i].isspace():
                    k = i
                    break
        else:
            k = source.find(ch, j, stop)
        if k < 0:
            out.append(min(j, n))
        else:
            out.append(k)
            j = k + 1
    out.append(n)
    return tuple(out)
