"""Agent processes: output edge cases, signals, and cleanup of the whole process group."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest

from runner.process import MAX_LINE_BYTES, char_boundary, live_group_members, pid_alive
from runner.runner import Runner
from tests.fakes.view_client import ViewClient

PY = sys.executable
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX here")


async def run_to_end(client: ViewClient, argv: list[str], *statuses: str) -> tuple[str, list[dict]]:
    reply = await client.request({"type": "create", "argv": argv})
    sid = reply["session"]["id"]
    await client.request({"type": "attach", "session": sid})
    await client.wait_status(sid, *(statuses or ("exited",)), timeout=60)
    return sid, client.events[sid]


async def test_a_line_of_8_mib_arrives_whole(client: ViewClient) -> None:
    size = 8 * 1024 * 1024
    _, events = await run_to_end(
        client, [PY, "-c", f"import sys; sys.stdout.write('x' * {size} + '\\nafter\\n')"]
    )
    out = [e for e in events if e["kind"] == "output"]
    assert len(out[0]["text"]) == size and set(out[0]["text"]) == {"x"}
    assert "truncated" not in out[0]
    assert out[1]["text"] == "after"


async def test_a_line_above_the_cap_is_split_with_a_marker(client: ViewClient) -> None:
    size = MAX_LINE_BYTES + 1000
    _, events = await run_to_end(
        client, [PY, "-c", f"import sys; sys.stdout.write('y' * {size} + '\\nend\\n')"]
    )
    out = [e for e in events if e["kind"] == "output"]
    assert out[0]["truncated"] is True and len(out[0]["text"]) == MAX_LINE_BYTES and out[0]["part"] == 0
    assert len(out[1]["text"]) == 1000 and "truncated" not in out[1] and out[1]["part"] == 1
    assert out[2]["text"] == "end" and "part" not in out[2]


def rebuild_lines(events: list[dict], stream: str = "stdout") -> list[str]:
    """What EVENTS.md tells a view to do: an `output` event with `part` continues the line until a part without
    `truncated`; every other `output` event is a line of its own."""
    lines: list[str] = []
    open_line = False
    for e in events:
        if e["kind"] != "output" or e["stream"] != stream:
            continue
        if open_line:
            assert e["part"] > 0, e.get("part")
            lines[-1] += e["text"]
        else:
            assert e.get("part", 0) == 0
            lines.append(e["text"])
        open_line = bool(e.get("truncated"))
    assert not open_line
    return lines


async def test_a_50_mb_line_of_multibyte_characters_is_cut_at_character_boundaries(client: ViewClient) -> None:
    chars = 50_000_000 // 3  # '€' is 3 bytes in UTF-8; 16 MiB is not a multiple of 3
    code = f"import sys; sys.stdout.write('a€' + '€' * {chars} + '\\nafter\\n')"
    _, events = await run_to_end(client, [PY, "-c", code], "exited")
    parts = [e for e in events if e["kind"] == "output" and "part" in e]
    assert [p["part"] for p in parts] == list(range(len(parts))) and len(parts) == 3
    assert all(p.get("truncated") is True for p in parts[:-1]) and "truncated" not in parts[-1]
    for p in parts:
        assert "\ufffd" not in p["text"]
        assert len(p["text"].encode()) <= MAX_LINE_BYTES
    assert rebuild_lines(events) == ["a€" + "€" * chars, "after"]


async def test_lines_are_exact_across_reads(client: ViewClient) -> None:
    # A character, a CRLF and a line each split between two writes (so, usually, two reads), empty lines kept.
    code = (
        "import sys, time\nw = sys.stdout.buffer\n"
        "for chunk in (b'caf\\xc3', b'\\xa9\\r', b'\\n\\nsecond li', b'ne\\nlast'):\n"
        "    w.write(chunk); w.flush(); time.sleep(0.05)\n"
    )
    _, events = await run_to_end(client, [PY, "-c", code])
    # In a terminal a pause may hand out an unfinished line in parts (a prompt): the rebuilt lines are exact.
    assert rebuild_lines(events) == ["café", "", "second line", "last"]


def test_char_boundary_never_splits_a_character() -> None:
    data = "a€😀é\u0800x".encode() * 3
    for at in range(1, len(data)):
        cut = char_boundary(data, at)
        assert at - 3 <= cut <= at
        data[:cut].decode()  # raises if a character was split
        data[cut:].decode()
    invalid = b"\x80" * 10  # not UTF-8: cut where asked rather than give back more
    assert char_boundary(invalid, 5) == 5


async def test_binary_output_is_decoded_with_replacement(client: ViewClient) -> None:
    code = "import sys; sys.stdout.buffer.write(b'ok \\xff\\xfe caf\\xc3\\xa9\\r\\n\\x00bin'); sys.stdout.flush()"
    _, events = await run_to_end(client, [PY, "-c", code])
    texts = [e["text"] for e in events if e["kind"] == "output"]
    assert texts == ["ok \ufffd\ufffd café", "\x00bin"]


async def test_a_process_that_exits_at_once(client: ViewClient) -> None:
    _, events = await run_to_end(client, ["false"])
    assert events[-1]["status"] == "exited" and events[-1]["exit_code"] == 1


async def test_stop_kills_a_process_that_ignores_sigterm(client: ViewClient, runner: Runner) -> None:
    code = (
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\n"
        "while True: time.sleep(1)"
    )
    reply = await client.request({"type": "create", "argv": [PY, "-u", "-c", code]})
    sid = reply["session"]["id"]
    await client.request({"type": "attach", "session": sid})
    await client.wait_for(lambda: "ready" in client.texts(sid))
    pid = runner.manager.get(sid).state["pid"]
    started = time.monotonic()
    await client.request({"type": "stop", "session": sid}, timeout=60)
    assert time.monotonic() - started >= 4  # it waited the grace period, then SIGKILL
    status = await client.wait_status(sid, "exited")
    assert status["exit_code"] == -9
    assert not pid_alive(pid)


async def test_stop_reaps_children_and_grandchildren(client: ViewClient, runner: Runner) -> None:
    # The agent starts a child shell which starts a grandchild that also ignores SIGTERM and detaches
    # from its parent (double fork), as MCP servers and language servers do.
    code = (
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen(['sh', '-c', 'sleep 300 & echo $!; wait'], stdout=subprocess.PIPE, text=True)\n"
        "grand = child.stdout.readline().strip()\n"
        "if os.fork() == 0:\n"
        "    import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(300)\n"
        "    os._exit(0)\n"
        "print(child.pid, grand, flush=True)\n"
        "time.sleep(300)\n"
    )
    reply = await client.request({"type": "create", "argv": [PY, "-u", "-c", code]})
    sid = reply["session"]["id"]
    await client.request({"type": "attach", "session": sid})
    await client.wait_for(lambda: len(client.texts(sid)) >= 1)
    pgid = runner.manager.get(sid).state["pid"]
    child, grand = map(int, client.texts(sid)[0].split())
    await client.wait_for(lambda: len(live_group_members(pgid)) >= 4)  # the double fork has happened
    members = live_group_members(pgid)
    assert {pgid, child, grand} <= set(members) and len(members) >= 4
    await client.request({"type": "stop", "session": sid}, timeout=60)
    await client.wait_status(sid, "exited")
    assert live_group_members(pgid) == []
    for pid in (pgid, child, grand):
        assert not pid_alive(pid)
        assert not os.path.exists(f"/proc/{pid}")  # reaped, not a zombie


async def test_leftover_grandchildren_die_with_a_finished_agent(client: ViewClient) -> None:
    _, events = await run_to_end(client, ["sh", "-c", "sleep 300 & echo $!"])
    grand = int(next(e["text"] for e in events if e["kind"] == "output"))
    deadline = time.monotonic() + 10
    while pid_alive(grand) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not pid_alive(grand)


async def test_runner_shutdown_stops_every_agent(data_dir: str) -> None:
    from tests.conftest import TOKEN

    runner = await Runner.start(data_dir, TOKEN)
    view = await ViewClient.open(runner.url, TOKEN)
    pgids = []
    for _ in range(3):
        reply = await view.request({"type": "create", "argv": ["sh", "-c", "sleep 300 & sleep 300"]})
        pgids.append(runner.manager.get(reply["session"]["id"]).state["pid"])
    await view.close()
    deadline = time.monotonic() + 30
    while not all(len(live_group_members(p)) >= 2 for p in pgids) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)  # until each shell has started both of its sleeps
    assert all(len(live_group_members(p)) >= 2 for p in pgids)
    await runner.shutdown()
    assert all(live_group_members(p) == [] for p in pgids)


def parent_pid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("PPid:"))
    except (OSError, StopIteration):
        return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="child subreapers are a Linux feature")
async def test_an_orphaned_grandchild_becomes_the_runners_child(headless) -> None:
    """The runner is a child subreaper: a grandchild whose parent exits is handed to the runner (which can reap
    it), not to init. Checked on a runner process of its own, which sets this up as it starts."""
    from tests.conftest import TOKEN

    url = headless.start()
    view = await ViewClient.open(url, TOKEN)
    try:
        # The leader stays; its child shell starts a sleep and exits at once, orphaning the sleep.
        code = (
            "import subprocess, time\n"
            "shell = ['sh', '-c', 'sleep 300 >/dev/null 2>&1 & echo $!']\n"
            "print(subprocess.run(shell, capture_output=True, text=True).stdout, flush=True)\n"
            "time.sleep(300)\n"
        )
        sid = (await view.request({"type": "create", "argv": [PY, "-u", "-c", code]}))["session"]["id"]
        await view.request({"type": "attach", "session": sid})
        await view.wait_for(lambda: any(t.strip().isdigit() for t in view.texts(sid)))
        orphan = int(next(t for t in view.texts(sid) if t.strip().isdigit()))
        assert parent_pid(orphan) == headless.proc.pid
        await view.request({"type": "stop", "session": sid})
        await view.wait_status(sid, "exited")
    finally:
        await view.close()
        headless.stop()
