"""Output rows in the colours a terminal shows (issue 12 item 8): a colour set on one line and reset lines later
colours the lines between, as painted, whether they arrived together or across catch-ups."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QColor

from tests.desktop.qt.test_transcript_diff import paint
from tests.desktop.qt.test_transcript_view import make_view


def reddish_pixels(view: Any, model: Any, row: Any) -> int:
    image, lay = paint(view, model, row)
    count = 0
    for y in range(image.height()):
        for x in range(int(lay.card.x()) if lay.card is not None else 0, min(image.width(), 400)):
            c = QColor(image.pixel(x, y))
            count += c.red() > 150 and c.green() < 110 and c.blue() < 110
    return count


def test_lines_between_a_colour_and_its_reset_are_painted_in_it(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    model.apply_events([{"seq": 1, "kind": "output", "stream": "stdout", "text": "\x1b[31mERROR: it failed"}])
    # The next lines come in a later batch (a catch-up), without escape codes of their own.
    model.apply_events([{"seq": 2, "kind": "output", "stream": "stdout", "text": "Traceback line one"},
                        {"seq": 3, "kind": "output", "stream": "stdout", "text": "last red\x1b[0m then plain"},
                        {"seq": 4, "kind": "output", "stream": "stdout", "text": "a plain line after"}])
    view.doItemsLayout()
    rows = list(model.transcript.rows)
    assert [row.copy_text() for row in rows] == ["ERROR: it failed", "Traceback line one",
                                                 "last red then plain", "a plain line after"]
    assert reddish_pixels(view, model, rows[0]) > 20
    assert reddish_pixels(view, model, rows[1]) > 20  # no code of its own: the colour of the line before
    assert reddish_pixels(view, model, rows[2]) > 10
    assert reddish_pixels(view, model, rows[3]) == 0
    # What the view paints live is what it paints after a restart replays the journal's text.
    replayed_view, replayed = make_view(qtbot)
    replayed.apply_events([{"seq": i + 1, "kind": "output", "stream": "stdout", "text": row.text}
                           for i, row in enumerate(rows)])
    assert [r.data.get("sgr") for r in replayed.transcript.rows] == [r.data.get("sgr") for r in rows]
    assert reddish_pixels(replayed_view, replayed, list(replayed.transcript.rows)[1]) > 20
