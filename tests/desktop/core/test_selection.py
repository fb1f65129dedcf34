"""desktop/core/selection.py: positions, what a selection copies, words, find's spans, Markdown alignment."""

from __future__ import annotations

from desktop.core.selection import END, TextPos, align, find_spans, ordered, row_range, selected_text, word_at
from desktop.core.transcript import Row, RowKind, RowStore


def store(*rows: Row) -> RowStore:
    out = RowStore()
    for row in rows:
        out.append(row)
    return out


def test_selection_copies_part_of_the_end_rows_and_the_rows_between_whole() -> None:
    rows = store(Row(RowKind.OUTPUT, 1, text="first line"),
                 Row(RowKind.TOOL, 2, text="ls", data={"name": "Bash", "input": {"command": "ls"}}),
                 Row(RowKind.OUTPUT, 3, text=""),
                 Row(RowKind.USER, 4, text="last words"))
    start, end = ordered(TextPos(3, 4), TextPos(0, 6))
    assert (start, end) == (TextPos(0, 6), TextPos(3, 4))
    text = selected_text(rows, start, end, lambda row: row.text)
    assert text == "line\n" + rows[1].copy_text() + "\n\nlast"  # the empty output line kept
    # A row selected from its start to its end is copied whole (a tool row's copy text, not its one-line text).
    assert selected_text(rows, TextPos(1, 0), TextPos(1, END), lambda row: row.text) == rows[1].copy_text()
    # Ending at the very start of a row adds no empty line; a selection past the rows is cut at the last.
    assert selected_text(rows, TextPos(0, 6), TextPos(1, 0), lambda row: row.text) == "line"
    assert selected_text(rows, TextPos(3, 0), TextPos(9, END), lambda row: row.text) == "last words"
    assert row_range(start, end, 0) == (6, END) and row_range(start, end, 2) == (0, END)
    assert row_range(start, end, 3) == (0, 4) and row_range(start, end, 4) is None


def test_words_and_find_spans() -> None:
    assert word_at("say hello_world now", 6) == (4, 15)
    assert word_at("a, b", 1) == (1, 2)  # not in a word: the character
    assert find_spans("Needle, needle and NEEDLE", "needle") == [(0, 6), (8, 14), (19, 25)]
    assert find_spans("Straße", "STRASSE") == []  # folding would change lengths: no false offsets
    assert find_spans("anything", "") == []


def test_align_maps_shown_markdown_to_its_source() -> None:
    source = "Run **all** the `tests`."
    shown = "Run all the tests."
    mapping = align(shown, source)
    assert len(mapping) == len(shown) + 1 and mapping[-1] == len(source)
    assert [source[k] for k in mapping[:-1]] == list(shown)
    assert mapping[shown.index("all")] == source.index("all")
    # Paragraph separators match any whitespace; frame markers of a table show no character.
    assert align("a\u2029\ufdd0b", "a\n| b") == (0, 1, 2, 4, 5)
