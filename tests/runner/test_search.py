"""Search (issue 12 item 4, runner side): the `search` request over the wire against real sessions, and the scan
itself on a real journal file written by the runner's Journal: merged deltas, joined line parts, terminal text,
case folding, hostile queries, limits and paging."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

import runner.search
from runner.journal import Journal
from runner.search import MAX_LIMIT, MAX_QUERY_CHARS, search_journal
from tests.fakes.view_client import ViewClient

PY = sys.executable


async def write_journal(path: str, events: list[dict[str, Any]], session: str = "s1") -> None:
    """Journal the events as a session does (seq from 1, orjson-encoded payloads)."""
    journal = await Journal.open(path, lambda committed: None)
    try:
        rows = []
        for seq, event in enumerate(events, 1):
            payload = orjson.dumps({"seq": seq, "ts": 1.0, **event}).decode()
            rows.append((session, seq, payload))
        journal.extend(rows, sum(len(r[2]) for r in rows))
        await journal.flush()
    finally:
        await journal.close()


def seqs(found: dict[str, Any]) -> list[int]:
    return [m["seq"] for m in found["matches"]]


async def command_session(client: ViewClient, code: str) -> str:
    sid = (await client.request({"type": "create", "argv": [PY, "-c", code]}))["session"]["id"]
    await client.request({"type": "attach", "session": sid})
    await client.wait_status(sid, "exited", timeout=60)
    return sid


async def test_search_over_the_wire_finds_lines_case_insensitively(client: ViewClient) -> None:
    code = (
        "import sys\nw = sys.stdout.write\n"
        "w('nothing here\\nThe NEEDLE is here\\n\\x1b[31mneed\\x1b[0mle in colour\\nSTRASSE\\nnaïve café\\n')\n"
    )
    sid = await command_session(client, code)
    reply = await client.request({"type": "search", "session": sid, "query": "needle"})
    assert reply["type"] == "search_results" and reply["session"] == sid and reply["query"] == "needle"
    assert reply["complete"] is True and reply["next_before"] is None
    found = reply["matches"]
    assert [m["snippet"] for m in found] == ["needle in colour", "The NEEDLE is here"]  # newest first
    assert found[1]["kind"] == "output" and found[1]["snippet"][found[1]["start"]:found[1]["end"]] == "NEEDLE"
    outputs = {e["seq"]: e["text"] for e in client.events[sid] if e["kind"] == "output"}
    assert outputs[found[1]["seq"]] == "The NEEDLE is here"  # the seq is the event's own
    # Unicode: full case folding (ß is "ss") and accented letters.
    assert [m["snippet"] for m in (await client.request(
        {"type": "search", "session": sid, "query": "straße"}))["matches"]] == ["STRASSE"]
    assert [m["snippet"] for m in (await client.request(
        {"type": "search", "session": sid, "query": "NAÏVE CAFÉ"}))["matches"]] == ["naïve café"]
    none = await client.request({"type": "search", "session": sid, "query": "absent"})
    assert none["matches"] == [] and none["complete"] is True


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        ('{"type":"search","session":"S","query":"\\ud800x"}', "lone UTF-16 surrogate"),
        ('{"type":"search","session":"S","query":""}', "'query' must be a non-empty string"),
        ('{"type":"search","session":"S","query":"   "}', "'query' must be a non-empty string"),
        ('{"type":"search","session":"S","query":"' + "q" * (MAX_QUERY_CHARS + 1) + '"}', "longer than"),
        ('{"type":"search","session":"S","query":"x","limit":0}', "'limit' must be an integer from 1"),
        ('{"type":"search","session":"S","query":"x","limit":' + str(MAX_LIMIT + 1) + "}", "'limit'"),
        ('{"type":"search","session":"S","query":"x","limit":true}', "'limit'"),
        ('{"type":"search","session":"S","query":"x","before_seq":0}', "'before_seq' must be a positive"),
        ('{"type":"search","session":"S","query":7}', "'query' must be a string"),
        ('{"type":"search","session":"S"}', "needs 'query'"),
    ],
)
async def test_search_refuses_bad_requests_in_words(client: ViewClient, frame: str, words: str) -> None:
    sid = await command_session(client, "print('x')")
    await client.send_raw(frame.replace('"S"', f'"{sid}"')[:-1] + ',"id":"bad"}')
    await client.wait_for(lambda: any(f.get("re") == "bad" for f in client.frames), timeout=30)
    (reply,) = [f for f in client.frames if f.get("re") == "bad"]
    assert reply["type"] == "error" and reply["code"] == "bad_request" and words in reply["message"], reply


async def test_search_of_an_unknown_session(client: ViewClient) -> None:
    reply = await client.request({"type": "search", "session": "nope", "query": "x"})
    assert reply["type"] == "error" and reply["code"] == "unknown_session"


@pytest.mark.parametrize("query", ["%", "_", "50%_off", "\\", '"quoted"', "a'b", "[x]", "*", "\\u0041", "\x1b"])
async def test_hostile_queries_match_only_themselves(tmp_path: Path, query: str) -> None:
    path = str(tmp_path / "j.sqlite3")
    texts = ["plain words", 'a "quoted" 50%_off sale \\ back', "a'b [x] * \\u0041", "A", "esc \x1b here"]
    await write_journal(path, [{"kind": "user", "text": t} for t in texts])
    found = search_journal(path, "s1", query, 50, None)
    expected = [i + 1 for i, t in enumerate(texts) if query.casefold() in t.casefold()]
    assert sorted(seqs(found)) == expected


async def test_deltas_are_searched_as_one_message(tmp_path: Path) -> None:
    path = str(tmp_path / "j.sqlite3")
    events = [
        {"kind": "user", "text": "question"},
        {"kind": "assistant", "message_id": "m1", "text": "The ans"},
        {"kind": "thinking", "message_id": "m1", "text": "hmm"},
        {"kind": "assistant", "message_id": "m1", "text": "wer is forty"},
        {"kind": "assistant", "message_id": "m1", "text": "-two."},
        {"kind": "tool_call", "tool_id": "t1", "name": "Bash", "input": {"command": "echo forty-two"}},
        {"kind": "tool_result", "tool_id": "t1", "output": "forty-two", "is_error": False},
        {"kind": "assistant", "message_id": "m2", "text": "Forty-two it is"},
    ]
    await write_journal(path, events)
    found = search_journal(path, "s1", "answer is forty-two", 50, None)
    # The row of the message starts at its first delta.
    assert found["matches"] == [{"seq": 2, "kind": "assistant", "snippet": "The answer is forty-two.", "start": 4,
                                 "end": 23}]
    assert seqs(search_journal(path, "s1", "forty-two", 50, None)) == [8, 7, 6, 2]


async def test_parts_of_a_line_are_joined(tmp_path: Path) -> None:
    path = str(tmp_path / "j.sqlite3")
    events = [
        {"kind": "output", "stream": "stdout", "text": "Downloading 10%\r", "part": 0, "truncated": True},
        {"kind": "status", "status": "running"},
        {"kind": "output", "stream": "stdout", "text": "Downloading 99%\rDown", "part": 1, "truncated": True},
        {"kind": "output", "stream": "stdout", "text": "loaded all", "part": 2},
        {"kind": "output", "stream": "stdout", "text": "after"},
    ]
    await write_journal(path, events)
    found = search_journal(path, "s1", "downloaded all", 50, None)
    # The terminal shows what is left after the carriage returns: "Downloaded all" (over "Downloading 99%").
    assert [(m["seq"], m["snippet"]) for m in found["matches"]] == [(1, "Downloaded all%")]
    assert seqs(search_journal(path, "s1", "after", 50, None)) == [5]


@pytest.mark.parametrize("batch", [2, 7, 4096])
async def test_limits_and_paging_give_every_match_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    # Small batches cut messages (two deltas each) between batches: each is still found whole, once.
    monkeypatch.setattr(runner.search, "BATCH", batch)
    path = str(tmp_path / "j.sqlite3")
    events: list[dict[str, Any]] = []
    for i in range(600):
        events.append({"kind": "output", "stream": "stdout", "text": f"line {i} {'hit' if i % 5 == 0 else 'miss'}"})
        events.append({"kind": "assistant", "message_id": f"m{i}", "text": "h"})
        events.append({"kind": "assistant", "message_id": f"m{i}", "text": "it" if i % 7 == 0 else "at"})
    await write_journal(path, events)
    expected = sorted(
        [3 * i + 1 for i in range(600) if i % 5 == 0] + [3 * i + 2 for i in range(600) if i % 7 == 0], reverse=True
    )
    pages, before = [], None
    while True:
        found = search_journal(path, "s1", "hit", 50, before)
        assert len(found["matches"]) <= 50
        pages.append(seqs(found))
        if found["complete"]:
            assert found["next_before"] is None
            break
        before = found["next_before"]
        assert before == pages[-1][-1]
    assert [s for page in pages for s in page] == expected
    assert all(len(page) == 50 for page in pages[:-1])
    assert seqs(search_journal(path, "s1", "hit", 1, None)) == expected[:1]
    assert seqs(search_journal(path, "s1", "hit", 10, expected[3])) == expected[4:14]


async def test_other_sessions_are_not_searched(tmp_path: Path) -> None:
    path = str(tmp_path / "j.sqlite3")
    await write_journal(path, [{"kind": "user", "text": "mine"}], session="a")
    await write_journal(path, [{"kind": "user", "text": "mine too"}], session="b")
    assert [m["snippet"] for m in search_journal(path, "a", "mine", 50, None)["matches"]] == ["mine"]


async def test_search_while_the_runner_writes(client: ViewClient) -> None:
    """The scan's own read-only connection reads beside the runner's writer."""
    code = "import sys, time\nfor i in range(200):\n    print('tick', i, flush=True)\n    time.sleep(0.01)\n"
    sid = (await client.request({"type": "create", "argv": [PY, "-c", code]}))["session"]["id"]
    await client.request({"type": "attach", "session": sid})
    started = time.monotonic()
    while time.monotonic() - started < 60:
        reply = await client.request({"type": "search", "session": sid, "query": "tick 1"})
        assert reply["type"] == "search_results"
        if any(e.get("status") == "exited" for e in client.events[sid] if e["kind"] == "status"):
            break
    final = await client.request({"type": "search", "session": sid, "query": "tick 1", "limit": 500})
    assert len(final["matches"]) == 111  # tick 1, tick 10-19, tick 100-199
