"""Sessions of the command agent end to end: create, stream, send, interrupt, stop, rename, delete."""

from __future__ import annotations

import os
import sys

from runner.process import TERMINALS_SUPPORTED
from tests.conftest import HeadlessRunner
from tests.fakes.view_client import ViewClient

PY = sys.executable


async def create(client: ViewClient, argv: list[str], **extra: object) -> str:
    reply = await client.request({"type": "create", "agent": "command", "argv": argv, **extra})
    assert reply["type"] == "created", reply
    return reply["session"]["id"]


async def test_output_lines_become_events_in_order(client: ViewClient, tmp_path) -> None:
    sid = await create(
        client,
        [PY, "-c", "import sys\nfor i in range(5): print(i)\nprint('oops', file=sys.stderr)"],
        cwd=str(tmp_path),
    )
    await client.request({"type": "attach", "session": sid, "after": 0})
    await client.wait_status(sid, "exited")
    events = client.events[sid]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    out = [(e["stream"], e["text"]) for e in events if e["kind"] == "output"]
    if TERMINALS_SUPPORTED:  # stdout and stderr are one terminal, as in a terminal window
        assert out == [("stdout", t) for t in ["0", "1", "2", "3", "4", "oops"]]
    else:
        assert [t for s, t in out if s == "stdout"] == ["0", "1", "2", "3", "4"]
        assert ("stderr", "oops") in out
    assert events[-1]["status"] == "exited" and events[-1]["exit_code"] == 0


async def test_send_goes_to_stdin_and_is_journaled(client: ViewClient) -> None:
    sid = await create(
        client, [PY, "-u", "-c", "import sys\nfor line in sys.stdin: print('got', line.strip())"]
    )
    await client.request({"type": "attach", "session": sid})
    r = await client.request({"type": "send", "session": sid, "text": "hello\n", "client_msg_id": "m1"})
    assert r == {"type": "sent", "session": sid, "client_msg_id": "m1", "duplicate": False, "re": r["re"]}
    again = await client.request({"type": "send", "session": sid, "text": "hello\n", "client_msg_id": "m1"})
    assert again["duplicate"] is True
    await client.request({"type": "send", "session": sid, "text": "world\n", "client_msg_id": "m2"})
    await client.wait_for(lambda: "got world" in client.texts(sid))
    assert client.texts(sid) == ["got hello", "got world"]
    assert client.texts(sid, "user") == ["hello\n", "world\n"]
    await client.request({"type": "stop", "session": sid})
    await client.wait_status(sid, "exited")


async def test_interrupt_sends_sigint_to_the_group(client: ViewClient) -> None:
    code = (
        "import time\nprint('ready', flush=True)\ntry:\n    time.sleep(60)\n"
        "except KeyboardInterrupt:\n    print('interrupted', flush=True)"
    )
    sid = await create(client, [PY, "-u", "-c", code])
    await client.request({"type": "attach", "session": sid})
    await client.wait_for(lambda: "ready" in client.texts(sid))  # its SIGINT handler is installed by then
    assert (await client.request({"type": "interrupt", "session": sid}))["type"] == "ok"
    status = await client.wait_status(sid, "interrupted")
    assert status["exit_code"] == 0
    assert "interrupted" in client.texts(sid)


# Each process of the tree: catches SIGINT, says it is ready, and on SIGINT says so and waits for its own child.
# A process that never gets SIGINT keeps waiting, so its parent gives up after a while and the line is missing.
TREE_MEMBER = """
import signal, subprocess, sys, threading
role, below = sys.argv[1], sys.argv[2:]
got = threading.Event()
# One write per line: the three processes share one terminal and may print at the same moment.
say = lambda *words: sys.stdout.write(" ".join(words) + "\\n")
signal.signal(signal.SIGINT, lambda *_: got.set())
kid = subprocess.Popen([sys.executable, "-u", __file__, *below]) if below else None
say("ready", role)
got.wait(120)
say("SIGINT", role)
if kid is not None:
    try:
        kid.wait(30)
    except subprocess.TimeoutExpired:
        say("no SIGINT reached", below[0])
"""


async def test_interrupt_reaches_children_and_grandchildren(client: ViewClient, tmp_path) -> None:
    script = tmp_path / "tree.py"
    script.write_text(TREE_MEMBER)
    sid = await create(client, [PY, "-u", str(script), "leader", "child", "grandchild"])
    await client.request({"type": "attach", "session": sid})
    roles = {"leader", "child", "grandchild"}
    await client.wait_for(lambda: {t.split()[1] for t in client.texts(sid) if t.startswith("ready")} == roles)
    assert (await client.request({"type": "interrupt", "session": sid}))["type"] == "ok"
    await client.wait_status(sid, "interrupted", "exited", timeout=120)
    assert {t.split()[1] for t in client.texts(sid) if t.startswith("SIGINT")} == roles, client.texts(sid)


async def test_rename_list_get_delete(client: ViewClient) -> None:
    sid = await create(client, [PY, "-c", "pass"], title="first")
    r = await client.request({"type": "rename", "session": sid, "title": "second"})
    assert r["type"] == "ok"
    got = await client.request({"type": "get", "session": sid})
    assert got["session"]["title"] == "second"
    listed = await client.request({"type": "list"})
    assert [s["title"] for s in listed["sessions"]] == ["second"]
    assert set(listed["sessions"][0]) >= {"id", "title", "agent", "status", "head"}
    assert (await client.request({"type": "delete", "session": sid}))["type"] == "ok"
    assert (await client.request({"type": "list"}))["sessions"] == []
    await client.wait_for(lambda: any(p["type"] == "session_deleted" for p in client.pushes))


async def test_pushes_reach_every_view(runner, client: ViewClient) -> None:
    from tests.conftest import TOKEN

    other = await ViewClient.open(runner.url, TOKEN)
    try:
        sid = await create(client, [PY, "-c", "print('x')"])
        await other.wait_for(
            lambda: any(
                p["type"] == "session_changed"
                and p["session"]["id"] == sid
                and p["session"]["status"] == "exited"
                for p in other.pushes
            )
        )
        await other.wait_for(
            lambda: any(p["type"] == "heads" and p["heads"].get(sid, 0) >= 3 for p in other.pushes)
        )
    finally:
        await other.close()


async def test_missing_executable_is_an_error_event(client: ViewClient) -> None:
    sid = await create(client, ["/nonexistent/agent-cli", "--flag"])
    await client.request({"type": "attach", "session": sid})
    await client.wait_status(sid, "error")
    errors = [e for e in client.events[sid] if e["kind"] == "error"]
    assert errors and "/nonexistent/agent-cli" in errors[0]["message"]
    got = await client.request({"type": "get", "session": sid})
    assert got["session"]["status"] == "error"


async def test_bad_cwd_is_refused(client: ViewClient, tmp_path) -> None:
    r = await client.request({"type": "create", "argv": ["true"], "cwd": str(tmp_path / "nope")})
    assert r["type"] == "error" and r["code"] == "bad_request" and "cwd" in r["message"]


async def test_disconnecting_view_never_stops_the_agent(runner, client: ViewClient) -> None:
    from tests.conftest import TOKEN

    sid = await create(
        client, [PY, "-u", "-c", "import time\nfor i in range(30):\n    print(i)\n    time.sleep(0.05)"]
    )
    await client.request({"type": "attach", "session": sid})
    await client.wait_for(lambda: len(client.texts(sid)) >= 2)
    await client.close()
    await client.wait_for(lambda: not runner.server.views, timeout=30)  # the runner has seen the view go
    session = runner.manager.get(sid)
    assert session.status == "running" and session.agent.running
    later = await ViewClient.open(runner.url, TOKEN)
    try:
        await later.request({"type": "attach", "session": sid, "after": 0})
        await later.wait_status(sid, "exited")
        assert later.texts(sid) == [str(i) for i in range(30)]
        assert later.seqs(sid) == list(range(1, len(later.seqs(sid)) + 1))
    finally:
        await later.close()
    assert os.path.exists(os.path.join(runner.manager.data_dir, "journal.sqlite3"))


async def test_turn_ended_is_the_seq_of_the_status_event_that_ended_the_run_and_survives_a_restart(
        headless: HeadlessRunner) -> None:
    from tests.conftest import TOKEN

    url = headless.start()
    view = await ViewClient.open(url, TOKEN)
    try:
        sid = await create(view, [PY, "-u", "-c", "import sys\nprint('up')\nsys.stdin.readline()"])
        listed = await view.request({"type": "get", "session": sid})
        assert listed["session"]["turn_ended"] is None  # running: nothing has ended yet
        await view.request({"type": "attach", "session": sid})
        await view.wait_for(lambda: "up" in view.texts(sid))
        await view.request({"type": "send", "session": sid, "text": "\n", "client_msg_id": "m1"})
        ended = await view.wait_status(sid, "exited")
        session = (await view.request({"type": "get", "session": sid}))["session"]
        assert session["turn_ended"] == ended["seq"] and session["head"] >= ended["seq"]
        renamed = await view.request({"type": "rename", "session": sid, "title": "later"})
        assert renamed["type"] == "ok"
    finally:
        await view.close()
    assert headless.stop() == 0
    url = headless.start()
    view = await ViewClient.open(url, TOKEN)
    try:
        listed = {s["id"]: s for s in (await view.request({"type": "list"}))["sessions"]}
        assert listed[sid]["turn_ended"] == ended["seq"]
    finally:
        await view.close()
        headless.stop()
