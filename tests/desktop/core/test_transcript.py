"""The transcript's row store: rows packed outside the window stay exact, merges reach packed rows."""

from __future__ import annotations

from typing import Any

from desktop.core.transcript import CHUNK, RowKind, Transcript


def output(seq: int) -> dict[str, Any]:
    return {"seq": seq, "kind": "output", "stream": "stdout", "text": f"line {seq}"}


def test_packed_rows_read_back_exactly_and_in_order() -> None:
    t = Transcript()
    t.apply([{"seq": 1, "kind": "user", "text": "hi"},
             {"seq": 2, "kind": "assistant", "message_id": "m", "text": "Hel"},
             {"seq": 3, "kind": "assistant", "message_id": "m", "text": "lo", "parent_tool_id": "task"}])
    t.apply([output(s) for s in range(4, 4 + 5 * CHUNK)])
    before = [(r.kind, r.seq, r.text, dict(r.data)) for r in t.rows]
    t.rows.objects_from(len(t.rows) - 10)
    assert t.rows.packed_chunks() == 4
    after = [(r.kind, r.seq, r.text, r.data) for r in t.rows]
    assert after == before
    assert t.rows[1].kind is RowKind.ASSISTANT and t.rows[1].text == "Hello"
    assert [r.seq for r in reversed(t.rows)][:2] == [3 + 5 * CHUNK, 2 + 5 * CHUNK]
    # The rows kept as objects are the same objects (a view holds on to them).
    last = t.rows[-1]
    t.rows.objects_from(len(t.rows) - 10)
    assert t.rows[-1] is last and t.rows[-1].index == len(t.rows) - 1


def test_a_result_reaches_its_call_after_the_call_was_packed_and_unpacked() -> None:
    t = Transcript()
    t.apply([{"seq": 1, "kind": "tool_call", "tool_id": "a", "name": "Bash", "input": {"command": "ls"}},
             {"seq": 2, "kind": "tool_call", "tool_id": "b", "name": "Read", "input": {"file_path": "/x"}}])
    t.apply([output(s) for s in range(3, 3 + 3 * CHUNK)])
    t.rows.objects_from(2 * CHUNK)  # both calls packed
    t.apply([{"seq": 3 + 3 * CHUNK, "kind": "tool_result", "tool_id": "a", "output": "files", "is_error": False}])
    assert t.rows[0].data["output"] == "files"
    t.rows.objects_from(0)  # unpacked again (shown): new objects, not the ones the transcript merges into
    t.apply([{"seq": 4 + 3 * CHUNK, "kind": "tool_result", "tool_id": "b", "output": "text", "is_error": True}])
    assert t.rows[1].data["output"] == "text" and t.rows[1].data["is_error"] is True
    assert t.rows[0].data["output"] == "files"
    assert len(t.rows) == 2 + 3 * CHUNK and t.last_seq == 4 + 3 * CHUNK and t.out_of_order == 0


def test_batches_of_any_size_land_in_order_with_their_positions_across_chunks() -> None:
    t = Transcript()
    seq = 0
    for size in (1, CHUNK - 2, 3, 2 * CHUNK + 5, 0, CHUNK):  # batches that end inside, at and across chunk ends
        t.apply([output(s) for s in range(seq + 1, seq + 1 + size)])
        seq += size
    assert len(t.rows) == seq and t.last_seq == seq
    assert [r.seq for r in t.rows] == list(range(1, seq + 1))
    assert all(t.rows[i].index == i for i in range(seq))
    t.rows.objects_from(seq - 3)
    assert [r.text for r in t.rows][CHUNK - 1:CHUNK + 1] == [f"line {CHUNK}", f"line {CHUNK + 1}"]
def test_image_refs_of_a_tool_result_become_an_image_row_under_the_call() -> None:
    blob = "ab" * 32
    t = Transcript()
    t.apply([
        {"seq": 1, "kind": "tool_call", "tool_id": "r1", "name": "Read", "input": {"file_path": "/s.png"}},
        {"seq": 2, "kind": "tool_result", "tool_id": "r1", "output": "[image: PNG 64x48, 1 KB]", "is_error": False,
         "images": [{"blob": blob, "media_type": "image/png", "bytes": 900, "width": 64, "height": 48},
                    {"blob": "../../etc/passwd", "media_type": "image/png", "bytes": 1},  # not an id: skipped
                    {"blob": "cd" * 32, "media_type": "image/jpeg", "bytes": 3 * 1024 * 1024, "width": True}]},
        {"seq": 3, "kind": "tool_result", "tool_id": "r2", "output": "no images here", "is_error": False},
    ])
    kinds = [r.kind for r in t.rows]
    assert kinds == [RowKind.TOOL, RowKind.IMAGE, RowKind.TOOL]
    tool, image = t.rows[0], t.rows[1]
    assert tool.data["output"] == "[image: PNG 64x48, 1 KB]"
    assert image.data["images"] == [
        {"blob": blob, "media_type": "image/png", "bytes": 900, "width": 64, "height": 48},
        {"blob": "cd" * 32, "media_type": "image/jpeg", "bytes": 3 * 1024 * 1024},  # a bool is no width
    ]
    assert image.text == "[image: PNG 64x48, 1 KB]\n[image: JPG, 3.0 MB]"
    assert image.copy_text() == image.text
