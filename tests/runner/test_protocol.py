"""Protocol v1 parsing and frame building, without sockets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.protocol import events_frame, parse_request, reply
from runner.vocabulary import REQUEST_FIELDS, RequestError


def test_valid_requests_pass_through() -> None:
    msg = parse_request('{"type":"attach","session":"s-1","after":5,"id":"a"}')
    assert msg == {"type": "attach", "session": "s-1", "after": 5, "id": "a"}


def test_null_optional_fields_are_dropped() -> None:
    assert parse_request('{"type":"attach","session":"s-1","after":null}') == {
        "type": "attach",
        "session": "s-1",
    }


@pytest.mark.parametrize(
    "frame,code",
    [
        ("{", "bad_json"),
        ("42", "bad_json"),
        ('{"type":"list","id":[1]}', "bad_request"),
        ('{"type":"nope"}', "unknown_type"),
        ('{"type":"send","session":"s","text":7}', "bad_request"),
        ('{"type":"create","argv":["a",1]}', "bad_request"),
    ],
)
def test_errors(frame: str, code: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_request(frame)
    assert info.value.code == code


def test_error_carries_the_request_id() -> None:
    with pytest.raises(RequestError) as info:
        parse_request('{"type":"get","id":9}')
    assert info.value.to_frame() == {
        "type": "error",
        "code": "bad_request",
        "message": "'get' needs 'session'",
        "re": 9,
    }


def test_every_documented_request_type_is_known() -> None:
    doc = (Path(__file__).resolve().parents[2] / "runner" / "PROTOCOL.md").read_text()
    for kind in REQUEST_FIELDS:
        assert f'"type":"{kind}"' in doc.replace(" ", "") or f"### {kind}" in doc, kind


def test_events_frame_single_and_batch() -> None:
    one = events_frame("s-1", [(3, '{"seq":3,"kind":"output","text":"a"}')])
    assert json.loads(one) == {"type": "event", "session": "s-1", "seq": 3, "kind": "output", "text": "a"}
    many = events_frame('s-"x', [(1, '{"seq":1}'), (2, '{"seq":2}')])
    assert json.loads(many) == {"type": "events", "session": 's-"x', "events": [{"seq": 1}, {"seq": 2}]}


def test_reply_sets_re_only_when_there_was_an_id() -> None:
    assert reply({"type": "ok"}, {"type": "stop"}) == {"type": "ok"}
    assert reply({"type": "ok"}, {"type": "stop", "id": 0}) == {"type": "ok", "re": 0}
