"""The transcript model and view: 100,000 events, batching, the window, autoscroll, copy, rendering kinds."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from desktop.core.transcript import RowKind
from desktop.qt.transcript_model import SLACK, WINDOW, TranscriptModel
from desktop.qt.transcript_view import TranscriptView


def mixed_events(start: int, count: int) -> list[dict[str, Any]]:
    """Events of every kind a long agent session has: streamed deltas, tools, output lines."""
    out = []
    for seq in range(start, start + count):
        k = seq % 10
        if k in (0, 1, 2):
            out.append({"seq": seq, "kind": "assistant", "message_id": f"m{seq // 10}",
                        "text": f"part {seq} "})
        elif k == 3:
            out.append({"seq": seq, "kind": "tool_call", "tool_id": f"t{seq}", "name": "Bash",
                        "input": {"command": f"ls {seq}"}})
        elif k == 4:
            out.append({"seq": seq, "kind": "tool_result", "tool_id": f"t{seq - 1}", "output": "ok",
                        "is_error": False})
        elif k == 5:
            out.append({"seq": seq, "kind": "user", "text": f"message {seq}"})
        else:
            out.append({"seq": seq, "kind": "output", "stream": "stdout", "text": f"line {seq}"})
    return out


def make_view(qtbot: Any) -> tuple[TranscriptView, TranscriptModel]:
    view = TranscriptView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    model = TranscriptModel("s")
    view.setModel(model)
    view.show()
    return view, model


def test_100k_events_in_batches_stay_correct_and_bounded(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(0)
    total, batch = 100_000, 500
    for start in range(1, total + 1, batch):
        model.apply_events(mixed_events(start, batch))
        QApplication.processEvents()
    timer.stop()
    t = model.transcript
    assert t.event_count == total and t.out_of_order == 0 and t.last_seq == total
    # Merged: deltas -> 1 assistant row per message id, call + result -> 1 tool row.
    events = mixed_events(1, total)
    messages = {e["message_id"] for e in events if e["kind"] == "assistant"}
    singles = sum(1 for e in events if e["kind"] in ("tool_call", "user", "output"))
    assert len(t.rows) == len(messages) + singles
    assert all(r.data["output"] == "ok" for r in t.rows if r.kind is RowKind.TOOL)
    assert model.insert_batches == total // batch  # one insertion per batch
    assert model.rowCount() <= 1 + WINDOW + SLACK  # the view lays out a bounded window
    assert model.row_at(model.rowCount() - 1) is t.rows[-1]
    assert ticks, "the event loop ran between batches"
    view.doItemsLayout()
    bar = view.verticalScrollBar()
    assert view.follow and bar.value() == bar.maximum()
    # The header offers the hidden rows; asking shows them above, in order.
    hidden = model.offset
    assert hidden > 0 and "earlier" in model.header_text()
    added = model.show_earlier(1000)
    assert added == 1000 and model.offset == hidden - 1000
    assert model.row_at(1) is t.rows[model.offset]


def test_autoscroll_follows_until_the_user_scrolls_up(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    model.apply_events(mixed_events(1, 400))
    view.doItemsLayout()
    QApplication.processEvents()
    bar = view.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum() and view.follow
    bar.setValue(0)  # the user scrolls up
    assert not view.follow and view.jump_button.isVisibleTo(view)
    model.apply_events(mixed_events(401, 50))
    view.doItemsLayout()
    QApplication.processEvents()
    assert bar.value() == 0 and view.unseen_rows > 0 and "new" in view.jump_button.text()
    QTest.mouseClick(view.jump_button, Qt.MouseButton.LeftButton)
    view.doItemsLayout()
    QApplication.processEvents()
    assert view.follow and bar.value() == bar.maximum() and not view.jump_button.isVisibleTo(view)


def test_copy_selected_rows_and_toggle_tool_rows(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    model.apply_events([
        {"seq": 1, "kind": "user", "text": "hi"},
        {"seq": 2, "kind": "assistant", "message_id": "m", "text": "Hel"},
        {"seq": 3, "kind": "assistant", "message_id": "m", "text": "lo"},
        {"seq": 4, "kind": "tool_call", "tool_id": "t", "name": "Read", "input": {"file_path": "/x"}},
        {"seq": 5, "kind": "tool_result", "tool_id": "t", "output": "content", "is_error": True},
        {"seq": 6, "kind": "error", "message": "boom"},
        {"seq": 7, "kind": "mystery", "foo": 1},
    ])
    view.doItemsLayout()
    view.selectAll()
    copied = view.copy_selection()
    assert copied.split("\n")[:2] == ["hi", "Hello"]
    assert "Read: /x" in copied and "content" in copied and "boom" in copied and "mystery" in copied
    assert QGuiApplication.clipboard().text() == copied
    tool_row = next(i for i in range(model.rowCount()) if model.row_at(i).kind is RowKind.TOOL)
    index = model.index(tool_row)
    view.scrollTo(index)
    before = view.visualRect(index).height()
    rect = view.visualRect(index)
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.topLeft() + QPoint(40, 12))
    view.doItemsLayout()
    assert model.is_expanded(model.row_at(tool_row)) and view.visualRect(index).height() > before


def test_pending_outbox_rows_follow_the_transcript(qtbot: Any) -> None:
    from desktop.core.outbox import Outbox

    _view, model = make_view(qtbot)
    outbox = Outbox()
    items = [outbox.add("s", "one"), outbox.add("s", "two")]
    model.apply_events([{"seq": 1, "kind": "output", "stream": "stdout", "text": "a"}])
    model.set_pending(items, connected=False)
    assert [r.kind for r in (model.row_at(i) for i in range(model.rowCount()))][-2:] == [RowKind.PENDING] * 2
    model.apply_events([{"seq": 2, "kind": "output", "stream": "stdout", "text": "b"}])
    kinds = [model.row_at(i).kind for i in range(model.rowCount())]
    assert kinds == [RowKind.HEADER, RowKind.OUTPUT, RowKind.OUTPUT, RowKind.PENDING, RowKind.PENDING]
    outbox.fail(items[0].client_msg_id, "not running")
    model.set_pending([items[0]], connected=True)
    assert model.pending[0].data["state"] == "failed" and len(model.pending) == 1


def test_subagent_rows_are_indented_under_their_tool_call(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    model.apply_events([
        {"seq": 1, "kind": "tool_call", "tool_id": "task1", "name": "Task", "input": {"prompt": "look"}},
        {"seq": 2, "kind": "assistant", "message_id": "a", "text": "sub-agent says", "parent_tool_id": "task1"},
        {"seq": 3, "kind": "assistant", "message_id": "b", "text": "main agent says"},
    ])
    rows = model.transcript.rows
    width = view.viewport().width()
    sub = view.delegate.layout(rows[1], width, model)
    main = view.delegate.layout(rows[2], width, model)
    assert sub.card is not None and main.card is not None
    assert sub.card.x() > main.card.x() and sub.card.right() == main.card.right()


def test_pause_renders_what_already_arrived_so_resume_is_one_catch_up_batch(qtbot: Any) -> None:
    """Events still waiting for the bridge's coalescing flush when rendering stops are rendered then; left
    for later they would reach the model on resume as a batch of their own, ahead of the catch-up."""
    from desktop.core.view import ViewCore
    from desktop.qt.bridge import ViewBridge

    bridge = ViewBridge()
    core = ViewCore(bridge.listener)
    bridge.bind(core)
    core.open_session("s1")
    core.connecting(1)
    core.opened()
    (hello,) = core.drain()
    core.receive({"type": "welcome", "protocol": 1, "runner_id": "r1", "re": hello["id"]})
    core.receive({"type": "sessions", "sessions": [{"id": "s1", "head": 0}]})
    core.receive({"type": "attached", "session": "s1", "head": 0})
    model = bridge.model("s1")
    core.receive({"type": "events", "session": "s1", "events": [
        {"seq": s, "kind": "output", "stream": "stdout", "text": f"line {s}"} for s in (1, 2)]})
    assert model.transcript.event_count == 0  # still in the bridge, waiting for the flush timer

    # Paused the way NightshiftApp.set_rendering does it: the bridge, then the core (which detaches).
    bridge.set_rendering(False)
    core.set_rendering(False)
    assert model.transcript.event_count == 2
    core.drain()
    batches = model.insert_batches

    bridge.set_rendering(True)
    core.set_rendering(True)
    attach = next(m for m in core.drain() if m["type"] == "attach")
    assert attach["after"] == 2  # from the last rendered seq
    core.receive({"type": "attached", "session": "s1", "head": 40})
    core.receive({"type": "events", "session": "s1", "events": [
        {"seq": s, "kind": "output", "stream": "stdout", "text": f"line {s}"} for s in range(3, 41)]})
    qtbot.waitUntil(lambda: model.transcript.event_count == 40, timeout=10_000)
    assert model.insert_batches == batches + 1
    assert [r.text for r in model.transcript.rows] == [f"line {s}" for s in range(1, 41)]
    bridge.deleteLater()


def _output(seq: int) -> dict[str, Any]:
    return {"seq": seq, "kind": "output", "stream": "stdout", "text": f"line {seq}"}


@pytest.mark.qt_log_ignore("This plugin does not support grabbing the keyboard")  # the menu's popup, offscreen
def test_context_menu_acts_on_its_row_after_the_window_trims(qtbot: Any) -> None:
    """Issue 9 item 8: the menu stays open while events arrive; a trim shifts every model row number."""
    from PySide6.QtGui import QContextMenuEvent
    from PySide6.QtWidgets import QMenu

    view, model = make_view(qtbot)
    model.apply_events([_output(s) for s in range(1, WINDOW + 21)])
    tool_seq = WINDOW + 21
    model.apply_events([{"seq": tool_seq, "kind": "tool_call", "tool_id": "t1", "name": "Read",
                         "input": {"file_path": "/etc/hosts"}}])
    view.doItemsLayout()
    tool_row = model.rowCount() - 1
    tool = model.row_at(tool_row)
    assert tool is not None and tool.kind is RowKind.TOOL
    index = model.index(tool_row)
    view.scrollTo(index)
    center = view.visualRect(index).center()
    view.contextMenuEvent(QContextMenuEvent(QContextMenuEvent.Reason.Mouse, center,
                                            view.viewport().mapToGlobal(center)))
    (menu,) = [m for m in view.findChildren(QMenu) if m.isVisible()]
    actions = {a.text(): a for a in menu.actions()}

    offset = model.offset
    model.apply_events([_output(s) for s in range(tool_seq + 1, tool_seq + SLACK + 10)])
    assert model.offset > offset, "the window trimmed while the menu was open"
    assert model.model_row(tool) >= 0 and model.model_row(tool) != tool_row

    opened: list[tuple[str, str]] = []
    view.view_text.connect(lambda title, text, _mono: opened.append((title, text)))
    actions["View text…"].trigger()
    assert opened and opened[0][0] == "Tool call: Read" and "/etc/hosts" in opened[0][1]
    actions["Expand"].trigger()
    assert model.is_expanded(tool)
    shown = [model.row_at(i) for i in range(1, model.rowCount())]
    assert [r for r in shown if r is not None and model.is_expanded(r)] == [tool]
    menu.close()


def test_rows_outside_the_window_are_packed_and_read_back(qtbot: Any) -> None:
    """A long session keeps only the window's rows as objects; earlier rows come back intact on demand."""
    import gc

    from desktop.core.transcript import Row
    from desktop.qt.bridge import ViewBridge

    def row_objects() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if isinstance(o, Row))

    before = row_objects()  # earlier tests' rows may still be alive
    bridge = ViewBridge()
    view = TranscriptView()
    qtbot.addWidget(view)
    model = bridge.model("s")
    view.setModel(model)
    view.show()
    total = 30_000
    bridge.events("s", mixed_events(1, total))
    qtbot.waitUntil(lambda: model.transcript.event_count == total and not bridge._packing, timeout=60_000)
    rows = model.transcript.rows
    objects = row_objects() - before
    assert len(rows) > 20_000 and objects < 2_000, (len(rows), objects)
    # Read back: every row, in order, with its merged content (tool results, streamed deltas).
    seqs = [r.seq for r in rows]
    assert seqs == sorted(seqs) and len(seqs) == len(rows)
    assert all(r.data["output"] == "ok" for r in rows if r.kind is RowKind.TOOL)
    assert rows[0].text == "part 1 part 2 " and rows[0].kind is RowKind.ASSISTANT
    # Showing earlier rows turns them back into objects the view can keep.
    hidden = model.offset
    assert model.show_earlier(1000) == 1000 and model.row_at(1) is rows[hidden - 1000]
    bridge.deleteLater()


def test_a_big_catch_up_is_applied_in_slices_and_stays_exact(qtbot: Any) -> None:
    """100,000 events handed over at once must not hold the event loop until all are applied: timers run
    in between (the user sees a moving window), and the result is the same as one batch."""
    from desktop.qt.bridge import ViewBridge

    bridge = ViewBridge()
    view = TranscriptView()
    qtbot.addWidget(view)
    model = bridge.model("s")
    view.setModel(model)
    view.show()
    total = 100_000
    seen: list[int] = []  # events worked out (shown or not) whenever the timer got its turn
    timer = QTimer()
    timer.timeout.connect(lambda: seen.append(model.transcript.event_count + model.prepared_events()))
    timer.start(5)
    bridge.events("s", mixed_events(1, total))
    qtbot.waitUntil(lambda: model.transcript.event_count == total, timeout=120_000)
    timer.stop()
    assert any(0 < n < total for n in seen), "the event loop ran while the catch-up was applied"
    t = model.transcript
    assert t.out_of_order == 0 and t.last_seq == total
    assert model.row_at(model.rowCount() - 1) is t.rows[-1]
    events = mixed_events(1, total)
    assert len(t.rows) == len({e["message_id"] for e in events if e["kind"] == "assistant"}) + sum(
        1 for e in events if e["kind"] in ("tool_call", "user", "output"))
    bridge.deleteLater()


def test_a_batch_bigger_than_the_window_announces_only_the_rows_that_stay(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    model.apply_events([_output(s) for s in range(1, 51)])
    announced: list[int] = []
    model.rowsInserted.connect(lambda _parent, first, last: announced.append(last - first + 1))
    model.apply_events([_output(s) for s in range(51, 10_051)])
    assert announced == [WINDOW]
    t = model.transcript
    assert model.rowCount() == 1 + WINDOW and model.offset == len(t.rows) - WINDOW
    assert [model.row_at(i).seq for i in range(1, model.rowCount())] == list(range(10_051 - WINDOW, 10_051))
    view.doItemsLayout()
    bar = view.verticalScrollBar()
    assert view.follow and bar.value() == bar.maximum()
    assert "earlier" in model.header_text()


def test_every_row_kind_has_its_renderer_and_paints(qtbot: Any) -> None:
    """Issue 11 item 4: one renderer per kind, chosen from one table; each one lays out and paints its row."""
    from PySide6.QtGui import QImage, QPainter

    from desktop.core.transcript import Row
    from desktop.qt.rows import RENDERER_CLASSES

    view, model = make_view(qtbot)
    table = view.delegate.renderers
    assert set(table) == set(RowKind)
    assert len({type(r) for r in table.values()}) == len(RENDERER_CLASSES)
    model.apply_events([{"seq": 1, "kind": "user", "text": "hi"}])
    samples = {
        RowKind.HEADER: model.header, RowKind.USER: Row(RowKind.USER, 1, text="hello"),
        RowKind.PENDING: Row(RowKind.PENDING, 0, text="queued", data={"state": "failed", "error": "x"}),
        RowKind.ASSISTANT: Row(RowKind.ASSISTANT, 2, text="an answer"),
        RowKind.THINKING: Row(RowKind.THINKING, 3, text="hmm\n" * 10),
        RowKind.TOOL: Row(RowKind.TOOL, 4, text="ls", data={"name": "Bash", "input": {"command": "ls"}}),
        RowKind.PERMISSION: Row(RowKind.PERMISSION, 5, text="rm", data={"tool_name": "Bash",
                                                                        "input": {"command": "rm x"}}),
        RowKind.OUTPUT: Row(RowKind.OUTPUT, 6, text="x" * 500, data={"stream": "stderr"}),
        RowKind.ERROR: Row(RowKind.ERROR, 7, text="boom"), RowKind.STATUS: Row(RowKind.STATUS, 8, text="Exited"),
        RowKind.TURN_END: Row(RowKind.TURN_END, 9, text="Turn finished"),
        RowKind.GENERIC: Row(RowKind.GENERIC, 10, text="odd: {}"),
        RowKind.IMAGE: Row(RowKind.IMAGE, 11, text="[image]", data={"images": [{"blob": "0" * 64, "bytes": 1}]}),
    }
    assert set(samples) == set(RowKind)
    for kind, row in samples.items():
        lay = view.delegate.layout(row, 600, model)
        assert lay.height > 0, kind
        image = QImage(600, lay.height, QImage.Format.Format_ARGB32)
        image.fill(0)
        painter = QPainter(image)
        view.delegate.paint_row(painter, row, image.rect(), -1)
        painter.end()
        painted = {image.pixel(x, y) for x in range(0, 600, 3) for y in range(0, lay.height, 2)}
        assert len(painted) > 1, f"{kind} painted nothing"
