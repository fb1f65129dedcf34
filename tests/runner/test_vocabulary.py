"""The protocol vocabulary (runner/vocabulary.py): the documents' examples speak it, and fields the desktop reads
(`pid` of a status event, `reason` of a session) arrive over the wire."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from desktop.core.transcript import RowKind, Transcript
from desktop.core.view import SessionInfo
from runner.runner import Runner
from runner.vocabulary import (
    ERROR_CODES,
    EVENT_ENVELOPE,
    EVENTS,
    REQUEST_FIELDS,
    STATUSES,
    message_problems,
)
from tests.conftest import TOKEN
from tests.fakes.view_client import ViewClient

DOCS = Path(__file__).resolve().parents[2] / "runner"
DOCUMENTS = ("PROTOCOL.md", "EVENTS.md")


def _fenced_json(text: str) -> list[str]:
    return re.findall(r"```json\n(.*?)```", text, re.S)


def _objects(block: str) -> list[dict[str, Any]]:
    """Every JSON object in a block (a block may hold several, one after another)."""
    decoder = json.JSONDecoder()
    found, at = [], 0
    while True:
        while at < len(block) and block[at].isspace():
            at += 1
        if at == len(block):
            return found
        obj, at = decoder.raw_decode(block, at)
        found.append(obj)


# Inline examples (`{"type":"detach","session":ID}`) use placeholders; these make them JSON. A new placeholder
# makes an inline example unparseable, and the test below fails: add it here.
_PLACEHOLDERS = [
    (r"\{\.\.\.\}", '{"...": "..."}'),
    (r",\s*\.\.\.(?=\s*\})", ', "...": "..."'),
    (r",\s*\.\.\.(?=\s*\])", ""),
    (r"(?<=:)\s*\.\.\.", "null"),
    (r"\{ID: N", '{"ID": 1'),
    (r"(?<=[:\[,])\s*(ID|SHA)\b", '"X"'),
    (r"(?<=:)\s*BOOL\b", "true"),
    (r"(?<=:)\s*N\b", "1"),
]


def _inline_json(text: str) -> list[str]:
    spans = re.findall(r"`(\{\"type\".*?\})`", text)
    out = []
    for span in spans:
        for pattern, value in _PLACEHOLDERS:
            span = re.sub(pattern, value, span)
        out.append(span)
    return out


def _examples() -> list[tuple[str, str]]:
    examples = []
    for name in DOCUMENTS:
        text = (DOCS / name).read_text()
        examples += [(name, block) for block in _fenced_json(text)]
        examples += [(name, span) for span in _inline_json(text)]
    return examples


def test_every_message_example_in_the_documents_is_a_message_of_the_vocabulary() -> None:
    examples = _examples()
    messages = []
    for name, block in examples:
        try:
            objects = _objects(block)
        except json.JSONDecodeError as exc:
            pytest.fail(f"{name}: an example is not JSON ({exc}):\n{block}")
        messages += [(name, obj) for obj in objects]
    assert len(messages) >= 40  # the extraction found the examples (a broken regex would find none)
    problems = [f"{name}: {json.dumps(msg)[:100]}: {p}" for name, msg in messages for p in message_problems(msg)]
    assert not problems, "\n".join(problems)
    documented_types = {msg["type"] for _, msg in messages}
    # Every request type has an example (the pushes `heads` etc. too: inline ones).
    assert set(REQUEST_FIELDS) <= documented_types, set(REQUEST_FIELDS) - documented_types


@pytest.mark.parametrize("message,problem", [
    ({"type": "hello", "protocol": 1, "colour": "red"}, "unknown field 'colour'"),
    ({"type": "frobnicate"}, "unknown message type 'frobnicate'"),
    ({"type": "event", "session": "s", "seq": 1, "ts": 1.0, "kind": "sparkle"}, "unknown event kind 'sparkle'"),
    ({"type": "event", "session": "s", "seq": 1, "ts": 1.0, "kind": "status", "status": "running", "pd": 3},
     "unknown field 'pd'"),
    ({"type": "events", "session": "s", "events": [{"seq": 1, "ts": 1.0, "kind": "output", "text": "x"}]},
     "missing field 'stream'"),
    ({"type": "session_changed", "session": {"id": "s", "status": "dozing", "...": "..."}}, "unknown status"),
    ({"type": "error", "code": "oops", "message": "m"}, "unknown error code 'oops'"),
    ({"type": "send", "session": "s"}, "missing field 'text'"),
])
def test_the_check_finds_what_the_documents_must_not_hold(message: dict[str, Any], problem: str) -> None:
    assert any(problem in p for p in message_problems(message)), message_problems(message)


def _table_rows(text: str, heading: str) -> dict[str, set[str]]:
    """`| \\`kind\\` | \\`field\\`, \\`optional\\`? | ...` rows of the first table after `heading`."""
    section = text[text.index(heading):]
    table = re.search(r"\| kind \| fields \|.*?\n\n", section, re.S)
    assert table is not None
    rows = {}
    for line in table.group(0).strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = set(re.findall(r"`([a-z_]+)`", re.sub(r"\(.*?\)", "", cells[1])))
    return rows


def test_the_kind_tables_list_exactly_the_vocabulary_s_event_fields() -> None:
    vocabulary = {kind: set(shape.__required_keys__ | shape.__optional_keys__) - EVENT_ENVELOPE
                  for kind, shape in EVENTS.items()}
    events_md = _table_rows((DOCS / "EVENTS.md").read_text(), "## Kinds")
    assert events_md == vocabulary
    # PROTOCOL.md shows the command agent's four kinds, with the fields that agent uses.
    protocol_md = _table_rows((DOCS / "PROTOCOL.md").read_text(), "## Events")
    assert set(protocol_md) == {"status", "output", "user", "error"}
    for kind, fields in protocol_md.items():
        assert fields <= vocabulary[kind], kind


def test_every_error_code_and_status_is_documented_and_every_documented_code_is_known() -> None:
    text = "".join((DOCS / name).read_text() for name in DOCUMENTS)
    codes_in_tables = set(re.findall(r"^\| `([a-z_]+)`(?: / `([a-z_]+)`)? \|", text, re.M))
    table_codes = {c for pair in codes_in_tables for c in pair if c} - set(EVENTS)
    assert table_codes <= ERROR_CODES, table_codes - ERROR_CODES
    for code in ERROR_CODES:
        assert f"`{code}`" in text, code
    states = (DOCS / "PROTOCOL.md").read_text().split("Session states:")[1].split("\n\n")[0]
    assert set(re.findall(r"`([a-z_]+)`", states)) >= STATUSES


# --- fields the desktop reads arrive over the wire ----------------------------------------------------------------


async def test_a_started_process_s_pid_reaches_the_transcript_as_a_started_row(
    runner: Runner, client: ViewClient, tmp_path: Path
) -> None:
    created = await client.request({
        "type": "create", "argv": [sys.executable, "-c", "import os; print(os.getpid())"], "cwd": str(tmp_path),
    })
    sid = created["session"]["id"]
    await client.request({"type": "attach", "session": sid, "after": 0})
    await client.wait_status(sid, "exited")
    events = client.events[sid]
    pid = int(client.texts(sid)[0])
    transcript = Transcript()
    transcript.apply(events)
    started = [r for r in transcript.rows if r.kind is RowKind.STATUS and r.text.startswith("Started")]
    assert [r.text for r in started] == [f"Started (pid {pid})"]
    for event in events:  # and what the runner sends is what the vocabulary says it sends
        assert message_problems({"type": "event", "session": sid, **event}) == []


async def test_a_session_carries_the_reason_of_its_last_status_change_across_a_restart(
    data_dir: str, tmp_path: Path
) -> None:
    async def session_object() -> dict[str, Any]:
        r = await Runner.start(data_dir, TOKEN, "127.0.0.1", 0)
        try:
            view = await ViewClient.open(r.url, TOKEN)
            try:
                if not r.manager.sessions:
                    created = await view.request({
                        "type": "create", "argv": [str(tmp_path / "no-such-program")], "cwd": str(tmp_path)})
                    assert created["session"]["status"] == "error"
                    assert created["session"]["reason"] == "spawn_failed"
                listed = await view.request({"type": "list"})
                assert message_problems(listed) == []
                return listed["sessions"][0]
            finally:
                await view.close()
        finally:
            await r.shutdown()

    for _ in range(2):  # as created, then as restored from the journal by a new runner
        obj = await session_object()
        assert (obj["status"], obj["reason"]) == ("error", "spawn_failed")
        info = SessionInfo(obj["id"])
        info.update(obj)
        assert info.data.get("reason") == "spawn_failed"  # what the desktop's error notification shows


async def test_a_new_status_without_a_reason_clears_the_old_one(
    runner: Runner, client: ViewClient, tmp_path: Path
) -> None:
    created = await client.request({"type": "create", "argv": [sys.executable, "-c", "pass"], "cwd": str(tmp_path)})
    sid = created["session"]["id"]
    await client.request({"type": "attach", "session": sid, "after": 0})
    await client.wait_status(sid, "exited")
    got = await client.request({"type": "get", "session": sid})
    assert (got["session"]["status"], got["session"]["reason"]) == ("exited", None)
