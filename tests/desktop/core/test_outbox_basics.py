"""The outbox on its own: ids, the life of an item (queued, in flight, failed, confirmed), and per-session views."""

from __future__ import annotations

from desktop.core.outbox import Outbox


def test_confirm_and_discard_remove_once_and_ignore_unknown_ids() -> None:
    box = Outbox()
    a, b = box.add("s", "a"), box.add("s", "b")
    assert box.confirm(a.client_msg_id) is a
    # `sent` and the journaled `user` event both confirm: the second confirmation finds nothing, quietly.
    assert box.confirm(a.client_msg_id) is None
    assert box.discard(b.client_msg_id) is b and box.discard(b.client_msg_id) is None
    assert box.fail("c-unknown", "x") is None and box.retry("c-unknown") is None
    assert len(box) == 0 and box.to_send() == []




def test_for_session_and_drop_session_touch_only_that_session() -> None:
    box = Outbox()
    mine = [box.add("mine", "1"), box.add("mine", "2")]
    theirs = box.add("theirs", "3")
    assert box.for_session("mine") == mine
    assert box.for_session("nobody") == []
    assert box.drop_session("mine") == mine
    assert box.for_session("mine") == [] and box.to_send() == [theirs] and len(box) == 1
    assert box.drop_session("mine") == []
