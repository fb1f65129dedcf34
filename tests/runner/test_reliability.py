"""Issue 9: nothing acknowledged is lost, no input breaks the runner, memory stays bounded, files stay private.

Each test here failed against the runner before the change it covers (replies before the commit, lone surrogates
reaching SQLite, a count-bounded tail and reply queue, a non-atomic token file, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from runner.journal import Journal
from runner.runner import Runner
from tests.conftest import TOKEN, HeadlessRunner
from tests.fakes.view_client import ViewClient

PY = sys.executable
LONG_RUNNING = [PY, "-u", "-c", "import sys\nfor line in sys.stdin: print('got', line.strip())"]


def stored(data_dir: str) -> tuple[dict[str, dict], dict[str, list[dict]]]:
    """Sessions and events as they are on disk (what a restarted runner will serve)."""
    conn = sqlite3.connect(f"{data_dir}/journal.sqlite3")
    try:
        sessions = {sid: json.loads(rec) for sid, rec in conn.execute("SELECT id, record FROM sessions")}
        events: dict[str, list[dict]] = {}
        for sid, payload in conn.execute("SELECT session_id, payload FROM events ORDER BY session_id, seq"):
            events.setdefault(sid, []).append(json.loads(payload))
        return sessions, events
    finally:
        conn.close()


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


# --- 1. acknowledged, then lost ----------------------------------------------------------------------------------


async def test_every_confirmed_change_survives_kill_9_right_after_its_reply(headless: HeadlessRunner) -> None:
    """`created`, `sent`, `ok` (rename, delete): kill -9 the moment the reply arrives; the change must be on disk."""
    tries = 3
    for attempt in range(tries):
        url = headless.start()
        view = await ViewClient.open(url, TOKEN)
        created = await view.request({"type": "create", "argv": LONG_RUNNING, "title": f"t{attempt}"})
        headless.proc.kill()  # type: ignore[union-attr]
        headless.proc.wait()  # type: ignore[union-attr]
        await view.close()
        sid = created["session"]["id"]
        sessions, _ = stored(headless.data_dir)
        assert sid in sessions, f"try {attempt}: session confirmed by `created` is not on disk"

        url = headless.start()
        view = await ViewClient.open(url, TOKEN)
        live = (await view.request({"type": "create", "argv": LONG_RUNNING}))["session"]["id"]
        sent = await view.request({"type": "send", "session": live, "text": "hi\n", "client_msg_id": f"m{attempt}"})
        assert sent["type"] == "sent", sent
        headless.proc.kill()  # type: ignore[union-attr]
        headless.proc.wait()  # type: ignore[union-attr]
        await view.close()
        _, events = stored(headless.data_dir)
        users = [e for e in events.get(live, []) if e["kind"] == "user"]
        assert [u["client_msg_id"] for u in users] == [f"m{attempt}"], f"try {attempt}: `sent` message lost"

        url = headless.start()
        view = await ViewClient.open(url, TOKEN)
        assert (await view.request({"type": "rename", "session": sid, "title": f"renamed {attempt}"}))["type"] == "ok"
        headless.proc.kill()  # type: ignore[union-attr]
        headless.proc.wait()  # type: ignore[union-attr]
        await view.close()
        sessions, _ = stored(headless.data_dir)
        assert sessions[sid]["title"] == f"renamed {attempt}", f"try {attempt}: confirmed rename lost"

        url = headless.start()
        view = await ViewClient.open(url, TOKEN)
        assert (await view.request({"type": "delete", "session": sid}))["type"] == "ok"
        headless.proc.kill()  # type: ignore[union-attr]
        headless.proc.wait()  # type: ignore[union-attr]
        await view.close()
        sessions, events = stored(headless.data_dir)
        assert sid not in sessions and sid not in events, f"try {attempt}: confirmed delete undone"


async def test_two_views_deleting_one_session_at_once_both_hear_ok(runner: Runner) -> None:
    a = await ViewClient.open(runner.url, TOKEN)
    b = await ViewClient.open(runner.url, TOKEN)
    try:
        sid = (await a.request({"type": "create", "argv": LONG_RUNNING}))["session"]["id"]
        replies = await asyncio.gather(
            a.request({"type": "delete", "session": sid}), b.request({"type": "delete", "session": sid})
        )
        assert [r["type"] for r in replies] == ["ok", "ok"], replies
        assert (await a.request({"type": "list"}))["sessions"] == []
    finally:
        await a.close()
        await b.close()


# --- 2. strings UTF-8 cannot hold; NaN and Infinity ----------------------------------------------------------------

SURROGATE_FRAMES = [
    ('{"type":"create","argv":["echo"],"title":"bad \\ud800 title","id":1}', "title"),
    ('{"type":"create","argv":["echo","\\udfff"],"id":2}', "argv[1]"),
    ('{"type":"create","cwd":"/tmp/\\udc80","id":3}', "cwd"),
    ('{"type":"hello","client":"\\ud83d","id":4}', "client"),  # half of a pair
]


@pytest.mark.parametrize(("frame", "field"), SURROGATE_FRAMES)
async def test_lone_surrogates_get_bad_request_naming_the_field(client: ViewClient, frame: str, field: str) -> None:
    await client.send_raw(frame)
    await client.wait_for(lambda: any(f.get("type") == "error" for f in client.frames))
    error = next(f for f in client.frames if f.get("type") == "error")
    assert error["code"] == "bad_request" and field in error["message"], error
    assert (await client.request({"type": "list"}))["type"] == "sessions"


async def test_a_surrogate_pair_is_fine_and_stored_as_the_character(client: ViewClient, runner: Runner) -> None:
    await client.send_raw('{"type":"create","argv":["true"],"title":"pair \\ud83d\\ude00","id":"p"}')
    await client.wait_for(lambda: any(f.get("re") == "p" for f in client.frames))
    reply = next(f for f in client.frames if f.get("re") == "p")
    assert reply["type"] == "created" and reply["session"]["title"] == "pair \U0001f600"


async def test_surrogates_in_send_and_rename_are_refused_and_the_journal_keeps_saving(headless: HeadlessRunner) -> None:
    url = headless.start()
    view = await ViewClient.open(url, TOKEN)
    sid = (await view.request({"type": "create", "argv": LONG_RUNNING, "title": "ok"}))["session"]["id"]
    await view.request({"type": "attach", "session": sid})
    await view.send_raw(json.dumps({"type": "send", "session": sid, "text": "x", "id": "s1"})
                        .replace('"x"', '"x\\ud800"'))
    await view.send_raw(json.dumps({"type": "rename", "session": sid, "title": "t", "id": "r1"})
                        .replace('"t"', '"\\udbff"'))
    await view.wait_for(lambda: {f.get("re") for f in view.frames} >= {"s1", "r1"})
    assert {f["code"] for f in view.frames if f.get("re") in ("s1", "r1")} == {"bad_request"}
    # Nothing broke: another message is journaled, echoed by the agent, listed, and survives a restart.
    await view.request({"type": "send", "session": sid, "text": "after\n", "client_msg_id": "c-after"})
    await view.wait_for(lambda: "got after" in view.texts(sid))
    assert [s["title"] for s in (await view.request({"type": "list"}))["sessions"]] == ["ok"]
    await view.close()
    assert headless.stop() == 0, headless.proc.stderr.read()  # type: ignore[union-attr]
    url = headless.start()
    view = await ViewClient.open(url, TOKEN)
    try:
        assert [s["title"] for s in (await view.request({"type": "list"}))["sessions"]] == ["ok"]
        _, events = stored(headless.data_dir)
        assert any(e.get("client_msg_id") == "c-after" for e in events[sid])
    finally:
        await view.close()


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_nan_and_infinity_are_refused_never_echoed(client: ViewClient, literal: str) -> None:
    await client.send_raw('{"type":"ping","id":' + literal + "}")
    await client.wait_for(lambda: any(f.get("type") == "error" for f in client.frames))
    error = next(f for f in client.frames if f.get("type") == "error")
    assert error["code"] == "bad_json" and "re" not in error


async def test_the_journal_writer_survives_text_utf8_cannot_hold(tmp_path: Path) -> None:
    """Defence in depth behind the door check: such a payload is stored losslessly (as a JSON escape), and the
    writer goes on committing later events."""
    committed: list[int] = []
    errors: list[str | None] = []
    journal = await Journal.open(
        str(tmp_path / "j.sqlite3"),
        lambda c: committed.extend(seq for evs in c.values() for seq, _ in evs),
        errors.append,
    )
    try:
        journal.append("s", 1, json.dumps({"seq": 1, "text": "a\ud800b"}, ensure_ascii=False))
        await asyncio.wait_for(journal.sync(), 30)
        journal.append("s", 2, json.dumps({"seq": 2, "text": "fine"}))
        await asyncio.wait_for(journal.sync(), 30)
        assert committed == [1, 2]
        rows = await journal.read("s", 0, 2, 10, 1 << 20)
        assert json.loads(rows[0][1])["text"] == "a\ud800b"  # lossless
        assert errors and errors[-1] is None  # reported, then cleared
    finally:
        await journal.close()


async def test_a_journal_from_before_the_door_check_lists_fine(data_dir: str) -> None:
    """A title with a lone surrogate already on disk must not make `list` abort every connection."""
    r = await Runner.start(data_dir, TOKEN)
    sid = r.manager.list()[0].id if r.manager.list() else None
    assert sid is None
    await r.shutdown()
    conn = sqlite3.connect(f"{data_dir}/journal.sqlite3")
    record = {"id": "s-old", "title": "old \ud800", "agent": "command", "cwd": "/", "status": "exited"}
    conn.execute("INSERT INTO sessions VALUES (?, ?)", ("s-old", json.dumps(record)))  # escaped: \ud800
    conn.commit()
    conn.close()
    r = await Runner.start(data_dir, TOKEN)
    view = await ViewClient.open(r.url, TOKEN)
    try:
        sessions = (await view.request({"type": "list"}))["sessions"]
        assert [s["title"] for s in sessions] == ["old \ufffd"]
    finally:
        await view.close()
        await r.shutdown()


# --- 3. no task dies silently --------------------------------------------------------------------------------------


async def test_a_failing_follower_says_so_and_closes_and_the_view_catches_up(runner: Runner, monkeypatch) -> None:
    view = await ViewClient.open(runner.url, TOKEN)
    sid = (await view.request({"type": "create", "argv": [PY, "-c", "print('one')"]}))["session"]["id"]
    await asyncio.sleep(0)
    original = runner.manager.frames_after

    async def broken(*args, **kwargs):  # fault injection: the storage read fails once
        monkeypatch.setattr(runner.manager, "frames_after", original)
        raise RuntimeError("disk read failed")

    monkeypatch.setattr(runner.manager, "frames_after", broken)
    await view.request({"type": "attach", "session": sid})
    await asyncio.wait_for(view.closed.wait(), 30)
    errors = [f for f in view.frames if f.get("type") == "error"]
    assert errors and "follower failed" in errors[0]["message"] and errors[0]["session"] == sid
    view = await ViewClient.open(runner.url, TOKEN)
    try:
        await view.request({"type": "attach", "session": sid, "after": 0})
        await view.wait_status(sid, "exited")
        assert view.seqs(sid) == list(range(1, len(view.seqs(sid)) + 1))
        assert "one" in view.texts(sid)
    finally:
        await view.close()


# --- 4. shutdown is bounded ----------------------------------------------------------------------------------------


def _limit_file_size(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


async def test_sigterm_while_the_journal_cannot_write_ends_in_15_s_and_says_what_was_lost(data_dir: str) -> None:
    # Create the journal normally, then restart the runner unable to grow any file (EFBIG: like a full disk).
    first = HeadlessRunner(data_dir)
    first.start()
    assert first.stop() == 0
    size = max(os.path.getsize(os.path.join(data_dir, name)) for name in os.listdir(data_dir))
    env = {**os.environ, "NIGHTSHIFT_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [PY, "-m", "runner", "--port", "0", "--data-dir", data_dir],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=_limit_file_size(size + 64 * 1024),
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        view = await ViewClient.open(url, TOKEN)
        flood = [PY, "-u", "-c", "import time\nwhile True: print('x' * 200)"]
        create = asyncio.ensure_future(view.request({"type": "create", "argv": flood}, timeout=60))
        await view.wait_for(lambda: any(p.get("type") == "journal_error" for p in view.pushes), timeout=60)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 30)
        took = time.monotonic() - started
        stderr = proc.stderr.read()  # type: ignore[union-attr]
        print(f"SIGTERM with an unwritable journal: exit {code} after {took:.1f} s")
        assert took < 15, took
        assert code != 0
        assert "could not be saved" in stderr
        create.cancel()
        await view.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    # Nothing is ever left `running` on disk for a restarted runner.
    again = HeadlessRunner(data_dir)
    url = again.start()
    view = await ViewClient.open(url, TOKEN)
    try:
        assert all(s["status"] not in ("running", "needs_approval")
                   for s in (await view.request({"type": "list"}))["sessions"])
    finally:
        await view.close()
        again.stop()


# --- 5. memory bounded in bytes, and given back ----------------------------------------------------------------------


async def test_big_lines_are_not_all_kept_in_memory_and_deleting_gives_memory_back(headless: HeadlessRunner) -> None:
    url = headless.start()
    pid = headless.proc.pid  # type: ignore[union-attr]
    view = await ViewClient.open(url, TOKEN)
    try:
        base = rss_kib(pid)
        big = [PY, "-c", "import sys\nfor i in range(300): sys.stdout.write('y' * 1_000_000 + '\\n')"]
        sid = (await view.request({"type": "create", "argv": big}))["session"]["id"]
        deadline = time.monotonic() + 120
        while (await view.request({"type": "get", "session": sid}))["session"]["status"] != "exited":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
        grown = rss_kib(pid) - base
        # Not asserted: 70-130 MiB stay until the delete (not Python objects: the tail is 4 MiB; see the
        # closing note of issue 9). Before, the 4,096-event tail alone held 300 MB here.
        print(f"300 x 1 MB lines: runner RSS +{grown / 1024:.0f} MiB after the session ended")
        await view.request({"type": "delete", "session": sid})
        after = rss_kib(pid) - base
        print(f"after deleting it: +{after / 1024:.0f} MiB")
        # About +3 MiB (runner/memory.py); without a fixed mmap threshold glibc kept 10-70 MiB, varying by run.
        assert after < 20_000, f"{after} KiB still held after deleting the session"
    finally:
        await view.close()


async def test_a_view_that_never_reads_big_replies_is_disconnected_not_buffered(headless: HeadlessRunner) -> None:
    url = headless.start()
    pid = headless.proc.pid  # type: ignore[union-attr]
    setup = await ViewClient.open(url, TOKEN)
    await setup.request({"type": "create", "argv": LONG_RUNNING, "title": "t" * 200_000})
    await setup.close()
    base = rss_kib(pid)
    ws = await connect(url, additional_headers={"Authorization": f"Bearer {TOKEN}"}, max_queue=1, proxy=None,
                       max_size=None)
    try:
        ws.transport.pause_reading()  # a view that asks for 200 KB replies and never reads them
        for i in range(1000):
            await ws.send(json.dumps({"type": "list", "id": i}))
        # Wait until the runner has dealt with every request: its memory stops changing.
        peak, last, stable_since = 0, -1, time.monotonic()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and time.monotonic() - stable_since < 2.0:
            now = rss_kib(pid)
            peak = max(peak, now - base)
            if abs(now - last) > 2048:
                last, stable_since = now, time.monotonic()
            await asyncio.sleep(0.1)
        ws.transport.resume_reading()
        replies = 0
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                replies += 1
        print(f"a view that never reads 1,000 x 200 KB replies: peak +{peak / 1024:.0f} MiB, {replies} replies, closed")
        assert replies < 1000, "every reply was buffered for a view that did not read"
        assert peak < 100_000, f"the runner buffered {peak} KiB for a view that does not read"
    finally:
        await ws.close()


# --- 7. files and secrets ------------------------------------------------------------------------------------------


async def test_journal_files_and_data_folder_are_private(runner: Runner, client: ViewClient, data_dir: str) -> None:
    await client.request({"type": "create", "argv": [PY, "-c", "print(1)"]})
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    names = [n for n in os.listdir(data_dir) if n.startswith("journal.sqlite3")]
    assert {"journal.sqlite3", "journal.sqlite3-wal", "journal.sqlite3-shm"} <= set(names)
    for name in names:
        assert stat.S_IMODE(os.stat(os.path.join(data_dir, name)).st_mode) == 0o600, name


def test_an_old_journal_readable_by_others_is_narrowed(data_dir: str) -> None:
    os.makedirs(data_dir, mode=0o755)
    os.chmod(data_dir, 0o755)
    sqlite3.connect(os.path.join(data_dir, "journal.sqlite3")).close()
    os.chmod(os.path.join(data_dir, "journal.sqlite3"), 0o644)
    proc = HeadlessRunner(data_dir)
    proc.start()
    proc.stop()
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(data_dir, "journal.sqlite3")).st_mode) == 0o600


def _runner_cli(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "runner", "--port", "0", *args], capture_output=True, text=True,
                          timeout=60, env=env or {k: v for k, v in os.environ.items() if k != "NIGHTSHIFT_TOKEN"},
                          **kw)


def test_an_empty_token_file_is_replaced_and_a_shared_one_refused(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("")  # what a full disk left behind before writes were atomic
    token_file.chmod(0o600)
    proc = subprocess.Popen([PY, "-m", "runner", "--port", "0", "--data-dir", str(tmp_path / "d"),
                             "--token-file", str(token_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={k: v for k, v in os.environ.items() if k != "NIGHTSHIFT_TOKEN"})
    try:
        assert proc.stdout.readline().startswith("listening on")  # type: ignore[union-attr]
    finally:
        proc.terminate()
        proc.communicate(timeout=30)  # waits, and closes the pipes
    assert len(token_file.read_text().strip()) >= 32
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    token_file.chmod(0o644)
    result = _runner_cli("--data-dir", str(tmp_path / "d"), "--token-file", str(token_file))
    assert result.returncode == 2
    assert "readable by other users" in result.stderr and "chmod 600" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unusable_data_folder_gives_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = _runner_cli("--data-dir", str(blocker / "data"), env={**os.environ, "NIGHTSHIFT_TOKEN": TOKEN})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error:"), result.stderr

    full = tmp_path / "full"
    result = _runner_cli("--data-dir", str(full), env={**os.environ, "NIGHTSHIFT_TOKEN": TOKEN},
                         preexec_fn=_limit_file_size(0))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error:"), result.stderr


async def test_the_token_never_appears_in_logs_even_at_debug(data_dir: str) -> None:
    token = "tok-" + "s3cr3t" * 8
    env = {**os.environ, "NIGHTSHIFT_TOKEN": token}
    proc = subprocess.Popen([PY, "-m", "runner", "--port", "0", "--data-dir", data_dir, "--log-level", "DEBUG"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = proc.stdout.readline().split()[-1]  # type: ignore[union-attr]
        view = await ViewClient.open(url, token)
        await view.request({"type": "hello"})
        await view.close()
        with pytest.raises(InvalidStatus):
            await ViewClient.open(url, token[:-1] + "X")
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert "Authorization" in stderr  # the headers were logged ...
    assert token not in stderr and token[:-1] not in stderr  # ... but not the token


@pytest.mark.parametrize("header", ["Authorization", "Origin"])
async def test_duplicate_auth_or_origin_headers_get_400(runner: Runner, header: str) -> None:
    value = f"Bearer {TOKEN}" if header == "Authorization" else "http://localhost"
    headers = [("Authorization", f"Bearer {TOKEN}")] if header == "Origin" else []
    headers += [(header, value), (header, value)]
    with pytest.raises(InvalidStatus) as info:
        await connect(runner.url, additional_headers=headers, proxy=None)
    assert info.value.response.status_code == 400
