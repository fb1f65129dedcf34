"""The search index (runner/search_index.py) on a real journal file written by the runner's Journal: the index
answers exactly as a scan of the events does, events just committed are found (a word cut between two commits
included), deleted sessions leave the index, hostile text never stops a commit, and journals written before the
index are indexed after open."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

import runner.search_index
from runner.journal import Journal
from runner.search import _Scan, _scan_journal, _search_index, search_journal
from runner.search_index import SearchIndex


class Writer:
    """A session journaled as the runner does: seq from 1, orjson payloads, a commit whenever `commit()` is
    called."""

    def __init__(self, journal: Journal, session: str = "s1") -> None:
        self.journal, self.session, self.seq = journal, session, 0

    def add(self, **event: Any) -> int:
        self.seq += 1
        payload = orjson.dumps({"seq": self.seq, "ts": 1.0, **event}).decode()
        self.journal.append(self.session, self.seq, payload)
        return self.seq

    async def commit(self) -> None:
        await self.journal.flush()


def found(path: str, query: str, session: str = "s1", limit: int = 50) -> list[tuple[int, str]]:
    return [(m["seq"], m["snippet"]) for m in search_journal(path, session, query, limit, None)["matches"]]


def both_ways(path: str, session: str, query: str, limit: int, before: int | None) -> tuple[Any, Any]:
    """The matches through the index and by a scan of the same journal."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        by_index, by_scan = _Scan(query, limit), _Scan(query, limit)
        _search_index(conn, session, by_index, before)
        _scan_journal(conn, session, by_scan, before)
    finally:
        conn.close()

    def top(scan: _Scan) -> list[dict[str, Any]]:
        return sorted(scan.matches, key=lambda m: m["seq"], reverse=True)[:limit]

    return top(by_index), top(by_scan)


WORDS = ["alpha", "Beta", "GAMMA", "straße", "STRASSE", "café", "naïve", "x", "yz", "日本語", "\U0001f600",
         "need", "le", "tab\tbed", "50%_off", '"q"', "back\\slash"]


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(WORDS) + rng.choice(["", " ", " ", "\n", "-"]) for _ in range(rng.randint(0, 6)))


async def test_the_index_answers_exactly_as_a_scan(tmp_path: Path) -> None:
    """Random sessions of every searchable kind, committed at random points (messages cut between commits, even
    inside a word), searched for substrings of what was written: same rows, seqs, snippets and order."""
    rng = random.Random(12)
    path = str(tmp_path / "j.sqlite3")
    journal = await Journal.open(path, lambda committed: None)
    texts: list[str] = []
    try:
        w = Writer(journal)
        message = 0
        for _ in range(1500):
            roll = rng.random()
            if roll < 0.45:
                if rng.random() < 0.15:
                    message += 1
                kind = "thinking" if message % 4 == 3 else "assistant"
                text = random_text(rng)
                w.add(kind=kind, message_id=f"m{message}", text=text)
            elif roll < 0.6:
                text = random_text(rng)
                w.add(kind="output", stream="stdout", text=rng.choice(["", "\x1b[31m", "xx\r"]) + text)
            elif roll < 0.7:
                text = random_text(rng)
                w.add(kind="tool_call", tool_id="t", name="Bash", input={"command": text})
            elif roll < 0.8:
                text = random_text(rng)
                w.add(kind="tool_result", tool_id="t", output=text, is_error=False)
            elif roll < 0.85:
                text = random_text(rng)
                w.add(kind="user", text=text)
            elif roll < 0.9:
                text = random_text(rng)
                w.add(kind="status", status="running", reason=text)  # not searched
            else:
                text = random_text(rng)
                w.add(kind="output", stream="stderr", text=text[:3], part=0, truncated=True)
                w.add(kind="output", stream="stdout", text="between")
                w.add(kind="output", stream="stderr", text=text[3:], part=1)
            texts.append(text)
            if rng.random() < 0.1:
                await w.commit()
        await w.commit()
    finally:
        await journal.close()
    queries = {"needle", "le", "ss", "STRASSE", "straße", "a b", "AFÉ", "gamma\nbeta", "\x1b", "x-", "本語"}
    for text in rng.sample(texts, 40):
        if text.strip():
            start = rng.randrange(len(text))
            queries.add(text[start:start + rng.randint(1, 12)])
    checked = 0
    for query in sorted(q for q in queries if q.strip()):
        for limit, before in ((50, None), (3, None), (7, 900)):
            by_index, by_scan = both_ways(path, "s1", query, limit, before)
            assert by_index == by_scan, (query, limit, before)
            checked += bool(by_scan)
    assert checked > 50  # most queries found something: the comparison is not of empty lists


async def test_events_committed_just_now_are_found(tmp_path: Path) -> None:
    path = str(tmp_path / "j.sqlite3")
    journal = await Journal.open(path, lambda committed: None)
    try:
        w = Writer(journal)
        w.add(kind="user", text="what is the answer?")
        first = w.add(kind="assistant", message_id="m1", text="The ans")
        await w.commit()
        assert found(path, "answer") == [(1, "what is the answer?")]
        # The rest of the word arrives in the next commit: the message is one row, found whole.
        w.add(kind="assistant", message_id="m1", text="wer is ")
        await w.commit()
        w.add(kind="assistant", message_id="m1", text="forty-two")
        line = w.add(kind="output", stream="stdout", text="\x1b[1mfor\x1b[0mty-three")
        await w.commit()
        assert found(path, "answer") == [(first, "The answer is forty-two"), (1, "what is the answer?")]
        assert found(path, "FORTY") == [(line, "forty-three"), (first, "The answer is forty-two")]
    finally:
        await journal.close()


async def test_a_deleted_session_leaves_the_index(tmp_path: Path) -> None:
    path = str(tmp_path / "j.sqlite3")
    journal = await Journal.open(path, lambda committed: None)
    try:
        for session in ("keep", "gone"):
            w = Writer(journal, session)
            w.add(kind="user", text=f"zebra {session}")
            w.add(kind="assistant", message_id="m", text=f"okapi {session}")
            await w.commit()
        journal.delete_session("gone")
        await journal.flush()
        await journal.purged()
    finally:
        await journal.close()
    conn = sqlite3.connect(path)
    try:
        assert {sid for (sid,) in conn.execute("SELECT session_id FROM search_docs")} == {"keep"}
        # Nothing of it is left in the FTS index either (and the index is consistent with its documents).
        hits = conn.execute("SELECT rowid FROM search_words WHERE search_words MATCH '\"gon\"'").fetchall()
        assert hits == []
        conn.execute("INSERT INTO search_words(search_words, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()
    assert found(path, "zebra", "keep") == [(1, "zebra keep")]
    assert found(path, "okapi", "keep") == [(2, "okapi keep")]


async def test_hostile_text_never_stops_a_commit(tmp_path: Path) -> None:
    """Lone surrogates (stored escaped after the first write fails on them), NUL, controls, astral characters:
    every event is committed and indexed, and the rest of its text is found."""
    path = str(tmp_path / "j.sqlite3")
    journal = await Journal.open(path, lambda committed: None)
    try:
        hostile = ["lone \ud800 surrogate", "low \udfff end", "nul\x00inside", "\u2028sep\u2029", "emoji 😀 end",
                   "bidi \u202eoverride", "combining e\u0301 accent", "\ufffd replacement"]
        for seq, text in enumerate(hostile, 1):
            # json, not orjson: orjson refuses lone surrogates (what an agent's translator might let through).
            payload = json.dumps({"seq": seq, "ts": 1.0, "kind": "tool_result", "tool_id": "t", "output": text,
                                  "is_error": False}, ensure_ascii=False)
            journal.append("s1", seq, payload)
            journal.append("s1", 100 + seq, json.dumps({"seq": 100 + seq, "kind": "assistant", "message_id": "m",
                                                        "text": text + " "}, ensure_ascii=False))
        await asyncio.wait_for(journal.flush(), 30)
        assert journal.failing is None
        w = Writer(journal)
        w.seq = 200
        w.add(kind="user", text="after them")
        await asyncio.wait_for(w.commit(), 30)
    finally:
        await journal.close()
    assert [seq for seq, _ in found(path, "surrogate")] == [101, 1]
    assert [seq for seq, _ in found(path, "inside")] == [101, 3]  # the text after a NUL is indexed too
    assert [seq for seq, _ in found(path, "SEP")] == [101, 4]
    assert [seq for seq, _ in found(path, "😀 END")] == [101, 5]
    assert found(path, "after them") == [(201, "after them")]
    conn = sqlite3.connect(path)
    try:  # found through the index, not by a scan after indexing failed
        assert conn.execute("SELECT count(*) FROM search_backlog").fetchone() == (0,)
    finally:
        conn.close()


async def _unindexed_journal(path: str, events: list[dict[str, Any]]) -> None:
    """A journal as a runner without the index left it: events and sessions, no search tables."""
    journal = await Journal.open(path, lambda committed: None)
    try:
        w = Writer(journal)
        journal.save_session("s1", {"id": "s1", "created_at": 1})
        for i, event in enumerate(events):
            w.add(**event)
            if i % 50 == 0:
                await w.commit()
        await w.commit()
    finally:
        await journal.close()
    conn = sqlite3.connect(path)
    try:
        conn.executescript("DROP TABLE search_words; DROP TABLE search_docs; DROP TABLE search_backlog; "
                           "DELETE FROM meta WHERE key='search_index';")
    finally:
        conn.close()


def session_events(n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        out.append({"kind": "user", "text": f"question {i}"})
        out += [{"kind": "assistant", "message_id": f"m{i}", "text": t} for t in ("the ze", "bra ", f"{i} is here")]
    return out


async def test_a_journal_without_the_index_is_indexed_after_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = str(tmp_path / "j.sqlite3")
    await _unindexed_journal(path, session_events(300))
    expected = [(4 * i + 2, f"the zebra {i} is here") for i in range(299, 249, -1)]
    # Small slices: messages are cut between slices, and the writer interleaves them with commits.
    monkeypatch.setattr(runner.search_index, "MIGRATION_SLICE", 13)
    caplog.set_level(logging.INFO, logger="runner")
    journal = await Journal.open(path, lambda committed: None)
    try:
        w = Writer(journal)
        w.seq = 1200
        w.add(kind="user", text="a new zebra")
        await w.commit()
        conn = sqlite3.connect(path)
        try:
            for _ in range(3000):
                if conn.execute("SELECT count(*) FROM search_backlog").fetchone()[0] == 0:
                    break
                # Meanwhile the session is searched by a scan, with the same results.
                assert found(path, "zebra")[1:] == expected[:49]
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the migration did not finish")
            assert conn.execute("SELECT count(DISTINCT lo) FROM search_docs WHERE row=1").fetchone()[0] == 300
        finally:
            conn.close()
    finally:
        await journal.close()
    assert found(path, "zebra") == [(1201, "a new zebra"), *expected[:49]]
    assert both_ways(path, "s1", "zebra 7", 500, None)[0] == both_ways(path, "s1", "zebra 7", 500, None)[1]
    assert any("sessions (up to 1200 events) to index" in r.getMessage() for r in caplog.records)
    assert any("search index built" in r.getMessage() for r in caplog.records)


async def test_an_interrupted_migration_starts_the_session_over(tmp_path: Path) -> None:
    path = str(tmp_path / "j.sqlite3")
    await _unindexed_journal(path, session_events(40))
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        index = SearchIndex()
        index.create(conn)
        runner.search_index.MIGRATION_SLICE, slice_was = 25, runner.search_index.MIGRATION_SLICE
        try:
            index.migrate_step(conn)  # a first slice, then the runner stops
        finally:
            runner.search_index.MIGRATION_SLICE = slice_was
        assert conn.execute("SELECT done FROM search_backlog").fetchone() == (25,)
    finally:
        conn.close()
    journal = await Journal.open(path, lambda committed: None)
    try:
        conn = sqlite3.connect(path)
        try:
            for _ in range(3000):
                if conn.execute("SELECT count(*) FROM search_backlog").fetchone()[0] == 0:
                    break
                await asyncio.sleep(0.01)
            # Each message indexed once, from its first delta (none left half-indexed by the first run).
            los = [lo for (lo,) in conn.execute("SELECT lo FROM search_docs WHERE row=1")]
            assert sorted(los) == [4 * i + 2 for i in range(40)]
        finally:
            conn.close()
    finally:
        await journal.close()
    assert both_ways(path, "s1", "zebra", 500, None)[0] == both_ways(path, "s1", "zebra", 500, None)[1]
    assert len(found(path, "zebra", limit=500)) == 40


async def test_a_failure_to_index_leaves_the_session_to_a_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "j.sqlite3")

    def broken(*args: Any) -> None:
        raise RuntimeError("an indexing bug")

    journal = await Journal.open(path, lambda committed: None)
    try:
        w = Writer(journal)
        w.add(kind="user", text="before the bug")
        await w.commit()
        monkeypatch.setattr(SearchIndex, "_index", broken)
        w.add(kind="user", text="during the bug")
        await asyncio.wait_for(w.commit(), 30)
        assert journal.failing is None  # the events were committed
    finally:
        await journal.close()
    assert [s for s, _ in found(path, "the bug")] == [2, 1]  # by a scan
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT session_id, upto, done FROM search_backlog").fetchall() == [("s1", 2, -1)]
    finally:
        conn.close()


@pytest.mark.parametrize("line_chars", [runner.search_index.LINE_CHARS, 10])
async def test_a_line_in_parts_is_found_as_the_terminal_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line_chars: int
) -> None:
    """A terminal's unfinished line (a progress bar redrawn with CR) comes in parts over several commits; it is
    indexed as shown so far (or, past LINE_CHARS, checked at every search)."""
    monkeypatch.setattr(runner.search_index, "LINE_CHARS", line_chars)
    path = str(tmp_path / "j.sqlite3")
    journal = await Journal.open(path, lambda committed: None)
    try:
        w = Writer(journal)
        first = w.add(kind="output", stream="stdout", text="Downloading 10%\r", part=0, truncated=True)
        await w.commit()
        w.add(kind="output", stream="stderr", text="a warning")
        w.add(kind="output", stream="stdout", text="Downloading 99%\rDown", part=1, truncated=True)
        await w.commit()
        assert found(path, "downloading 99") == [(first, "Downloading 99%")]
        w.add(kind="output", stream="stdout", text="loaded all", part=2)
        w.add(kind="output", stream="stdout", text="next line")
        await w.commit()
    finally:
        await journal.close()
    assert found(path, "downloaded all") == [(first, "Downloaded all%")]
    assert found(path, "downloading") == []  # redrawn: no longer shown
    assert found(path, "warning") == [(first + 1, "a warning")]
    conn = sqlite3.connect(path)
    try:
        words = [w for (w,) in conn.execute("SELECT words FROM search_docs WHERE row=2 ORDER BY hi")]
    finally:
        conn.close()
    if line_chars > 100:
        assert "downloaded" in words[-1].split()
    else:
        assert words[-1] is None


async def test_batches_of_one_kind_are_indexed_whole(tmp_path: Path) -> None:
    """A commit of plain lines only, of tool events only, or of one message's deltas only (the flood cases indexed
    by scanning the whole batch at once): each event is found by any of its words, the name of a tool included
    when its input has a `text` of its own."""
    path = str(tmp_path / "j.sqlite3")
    journal = await Journal.open(path, lambda committed: None)
    try:
        w = Writer(journal)
        for i in range(300):
            w.add(kind="output", stream="stdout", text=f"line {i} of the flood")
        await w.commit()
        call = w.add(kind="tool_call", tool_id="t1", name="Notepad", input={"text": "jot this down", "n": 1})
        result = w.add(kind="tool_result", tool_id="t1", output="noted", is_error=False)
        w.add(kind="status", status="running")
        await w.commit()
        first = w.add(kind="assistant", message_id="m1", text="a streamed ")
        for word in ("mes", "sage ", "ends"):
            w.add(kind="assistant", message_id="m1", text=word)
        await w.commit()
    finally:
        await journal.close()
    assert found(path, "line 257 of") == [(258, "line 257 of the flood")]
    assert [seq for seq, _ in found(path, "flood", limit=500)] == list(range(300, 0, -1))
    assert [seq for seq, _ in found(path, "notepad")] == [call]
    assert [seq for seq, _ in found(path, "jot this")] == [call]
    assert [seq for seq, _ in found(path, "noted")] == [result]
    assert found(path, "message ends") == [(first, "a streamed message ends")]
