"""The outbox on its own: ids, the life of an item (queued, in flight, failed, confirmed), and per-session views."""

from __future__ import annotations

from desktop.core.outbox import Outbox, OutboxState


def test_ids_are_unique_within_and_across_outboxes() -> None:
    first, second = Outbox(), Outbox()
    ids = [first.add("s", f"m{i}").client_msg_id for i in range(50)] + [second.add("s", "m").client_msg_id]
    assert len(set(ids)) == len(ids)  # another run of the app never reuses an id the runner has seen
    assert all(i.startswith("c-") for i in ids)
    item = first.add("s2", "hello")
    assert (item.session, item.text, item.state, item.error, item.request_id) == (
        "s2",
        "hello",
        OutboxState.QUEUED,
        None,
        None,
    )
    assert first.get(item.client_msg_id) is item and len(first) == 51


def test_confirm_and_discard_remove_once_and_ignore_unknown_ids() -> None:
    box = Outbox()
    a, b = box.add("s", "a"), box.add("s", "b")
    assert box.confirm(a.client_msg_id) is a
    # `sent` and the journaled `user` event both confirm: the second confirmation finds nothing, quietly.
    assert box.confirm(a.client_msg_id) is None
    assert box.discard(b.client_msg_id) is b and box.discard(b.client_msg_id) is None
    assert box.fail("c-unknown", "x") is None and box.retry("c-unknown") is None
    assert len(box) == 0 and box.to_send() == []


def test_failed_items_wait_for_retry_which_only_applies_to_failed_ones() -> None:
    box = Outbox()
    item = box.add("s", "text")
    item.state, item.request_id = OutboxState.IN_FLIGHT, 7
    assert box.retry(item.client_msg_id) is item and item.state is OutboxState.IN_FLIGHT  # not failed: untouched
    assert box.fail(item.client_msg_id, "not_running") is item
    assert (item.state, item.error, item.request_id) == (OutboxState.FAILED, "not_running", None)
    assert box.to_send() == [] and box.by_request(7) is None
    assert box.retry(item.client_msg_id) is item
    assert (item.state, item.error) == (OutboxState.QUEUED, None)
    assert box.to_send() == [item]


def test_by_request_finds_only_the_item_in_flight_with_that_request() -> None:
    box = Outbox()
    queued, flying, other = box.add("s", "q"), box.add("s", "f"), box.add("s", "o")
    queued.request_id = 3  # a stale id from an earlier connection, not in flight any more
    flying.state, flying.request_id = OutboxState.IN_FLIGHT, 3
    other.state, other.request_id = OutboxState.IN_FLIGHT, 4
    assert box.by_request(3) is flying
    assert box.by_request(4) is other
    assert box.by_request(5) is None


def test_for_session_and_drop_session_touch_only_that_session() -> None:
    box = Outbox()
    mine = [box.add("mine", "1"), box.add("mine", "2")]
    theirs = box.add("theirs", "3")
    assert box.for_session("mine") == mine
    assert box.for_session("nobody") == []
    assert box.drop_session("mine") == mine
    assert box.for_session("mine") == [] and box.to_send() == [theirs] and len(box) == 1
    assert box.drop_session("mine") == []
