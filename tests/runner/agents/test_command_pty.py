"""The command agent in a pseudo-terminal (issue 12 item 8): what the program sees, what the journal keeps, input,
terminal size and its errors, over the wire to a real runner."""

from __future__ import annotations

import sys

import pytest

from runner.process import MAX_CANON
from runner.runner import Runner
from tests.conftest import TOKEN
from tests.fakes.view_client import ViewClient

PY = sys.executable
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pipes on Windows: no pseudo-terminal")


async def start(client: ViewClient, code: str, **create: object) -> str:
    reply = await client.request({"type": "create", "argv": [PY, "-c", code], **create})
    assert reply["type"] == "created", reply
    sid = reply["session"]["id"]
    await client.request({"type": "attach", "session": sid})
    return sid


def lines(client: ViewClient, sid: str) -> list[str]:
    """The session's output lines as a view rebuilds them (parts of one line joined, EVENTS.md)."""
    out: list[str] = []
    open_line = False
    for e in client.events.get(sid, []):
        if e["kind"] != "output":
            continue
        if open_line:
            out[-1] += e["text"]
        else:
            out.append(e["text"])
        open_line = bool(e.get("truncated"))
    return out


async def test_pty_the_program_sees_a_terminal_it_controls(client: ViewClient) -> None:
    code = (
        "import os, sys\n"
        "print([os.isatty(fd) for fd in (0, 1, 2)], os.environ.get('TERM'), os.getsid(0) == os.getpid(),"
        " os.tcgetpgrp(0) == os.getpgrp())\n"
        "with open('/dev/tty', 'w') as tty:\n"  # only works with a controlling terminal
        "    tty.write('via /dev/tty\\n')\n"
    )
    sid = await start(client, code)
    await client.wait_status(sid, "exited")
    assert lines(client, sid) == ["[True, True, True] xterm-256color True True", "via /dev/tty"]
    assert {e["stream"] for e in client.events[sid] if e["kind"] == "output"} == {"stdout"}


async def test_pty_the_journal_keeps_escape_codes_and_carriage_returns(client: ViewClient, runner: Runner) -> None:
    code = "import sys\nsys.stdout.write('\\x1b[1;31mred\\x1b[0m plain\\r\\n10%\\r50%\\r100%\\n')\n"
    sid = await start(client, code)
    await client.wait_status(sid, "exited")
    assert lines(client, sid) == ["\x1b[1;31mred\x1b[0m plain", "10%\r50%\r100%"]
    # A catch-up from the journal gives the same text.
    late = await ViewClient.open(runner.url, TOKEN)
    try:
        await late.request({"type": "attach", "session": sid, "after": 0})
        await late.wait_status(sid, "exited")
        assert lines(late, sid) == lines(client, sid)
    finally:
        await late.close()


async def test_pty_a_prompt_shows_before_its_line_ends(client: ViewClient) -> None:
    code = "name = input('Your name? ')\nprint('hello', name)\n"
    sid = await start(client, code)
    # The prompt has no newline: it arrives as an unfinished part while the program waits for input.
    await client.wait_for(lambda: "Your name? " in lines(client, sid), timeout=60)
    prompt = [e for e in client.events[sid] if e["kind"] == "output"][-1]
    assert prompt["truncated"] is True and prompt["part"] == 0
    await client.request({"type": "send", "session": sid, "text": "Ada\n"})
    await client.wait_status(sid, "exited")
    # No echo: the answer is the `user` event, and the program's reply follows the prompt on its line.
    assert lines(client, sid) == ["Your name? hello Ada"]
    assert client.texts(sid, "user") == ["Ada\n"]


async def test_pty_sent_lines_are_not_echoed(client: ViewClient) -> None:
    sid = await start(client, "import sys\nfor line in sys.stdin: print('got', line.strip(), flush=True)\n")
    await client.request({"type": "send", "session": sid, "text": "one\ntwo\n"})
    await client.wait_for(lambda: "got two" in lines(client, sid), timeout=60)
    await client.request({"type": "stop", "session": sid})
    # An echoing terminal would print "one" and "two" themselves before the program's answers.
    assert lines(client, sid) == ["got one", "got two"]


async def test_pty_stop_ends_input_so_a_reader_exits_on_its_own(client: ViewClient) -> None:
    code = "import sys\nfor line in sys.stdin:\n    print('got', line.strip(), flush=True)\nprint('end of input')\n"
    sid = await start(client, code)
    await client.request({"type": "send", "session": sid, "text": "abc\n"})
    await client.wait_for(lambda: "got abc" in lines(client, sid), timeout=60)
    await client.request({"type": "stop", "session": sid})
    status = await client.wait_status(sid, "exited", "interrupted")
    # Ctrl+D ended its input: it finished on its own (exit 0), not by SIGTERM.
    assert lines(client, sid) == ["got abc", "end of input"] and status["exit_code"] == 0


async def test_pty_a_line_longer_than_the_terminal_takes_is_refused_not_cut(client: ViewClient) -> None:
    sid = await start(client, "import sys\nfor line in sys.stdin: print('got', len(line), flush=True)\n")
    await client.request({"type": "send", "session": sid, "text": "x" * (MAX_CANON + 10) + "\n"})
    await client.wait_for(lambda: any(e["kind"] == "error" for e in client.events[sid]), timeout=60)
    assert "4095" in client.events[sid][-1]["message"]
    await client.request({"type": "send", "session": sid, "text": "x" * MAX_CANON + "\n"})
    await client.wait_for(lambda: lines(client, sid), timeout=60)
    await client.request({"type": "stop", "session": sid})
    assert lines(client, sid) == [f"got {MAX_CANON + 1}"]  # the refused line never reached the program


async def test_pty_a_program_in_raw_mode_takes_a_long_line_whole(client: ViewClient) -> None:
    code = (
        "import sys, tty\ntty.setraw(0)\nprint('raw', flush=True)\nbuf = b''\n"
        "while not buf.endswith(b'.'):\n    buf += __import__('os').read(0, 65536)\n"
        "sys.stdout.write('got %d\\n' % len(buf))\n"
    )
    sid = await start(client, code)
    await client.wait_for(lambda: "raw" in "".join(lines(client, sid)), timeout=60)
    await client.request({"type": "send", "session": sid, "text": "y" * 20_000 + "."})
    await client.wait_status(sid, "exited", timeout=60)
    assert lines(client, sid)[-1] == "got 20001"


SIZE_REPORTER = (
    "import os, signal, sys, threading\n"
    "changed = threading.Event()\n"
    "signal.signal(signal.SIGWINCH, lambda *_: changed.set())\n"
    "size = os.get_terminal_size(0)\n"
    "print('size', size.columns, size.lines, flush=True)\n"
    "changed.wait(120)\n"
    "size = os.get_terminal_size(0)\n"
    "print('resized', size.columns, size.lines, flush=True)\n"
)


async def test_pty_resize_reaches_the_program_with_sigwinch(client: ViewClient) -> None:
    sid = await start(client, SIZE_REPORTER, cols=100, rows=30)
    await client.wait_for(lambda: lines(client, sid), timeout=60)
    assert lines(client, sid) == ["size 100 30"]
    reply = await client.request({"type": "resize", "session": sid, "cols": 132, "rows": 43})
    assert reply["type"] == "ok"
    await client.wait_status(sid, "exited", timeout=60)
    assert lines(client, sid) == ["size 100 30", "resized 132 43"]


async def test_pty_default_size_and_stty(client: ViewClient) -> None:
    reply = await client.request({"type": "create", "argv": ["stty", "size"]})
    sid = reply["session"]["id"]
    await client.request({"type": "attach", "session": sid})
    await client.wait_status(sid, "exited")
    assert lines(client, sid) == ["24 80"]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"cols": 0, "rows": 10}, "'cols' must be an integer from 1"),
        ({"cols": 80, "rows": 100_000}, "'rows' must be an integer from 1"),
        ({"cols": True, "rows": 10}, "'cols'"),
        ({"cols": 80}, "'rows'"),
    ],
)
async def test_pty_create_refuses_a_bad_size(client: ViewClient, fields: dict, words: str) -> None:
    reply = await client.request({"type": "create", "argv": ["true"], **fields})
    assert reply["type"] == "error" and reply["code"] == "bad_request" and words in reply["message"], reply


async def test_pty_resize_errors(client: ViewClient) -> None:
    sid = await start(client, "print('done')")
    await client.wait_status(sid, "exited")
    gone = await client.request({"type": "resize", "session": sid, "cols": 80, "rows": 24})
    assert gone["type"] == "error" and gone["code"] == "not_running"
    missing = await client.request({"type": "resize", "session": sid, "cols": 80})
    assert missing["type"] == "error" and missing["code"] == "bad_request" and "rows" in missing["message"]
    negative = await client.request({"type": "resize", "session": sid, "cols": -1, "rows": 24})
    assert negative["type"] == "error" and negative["code"] == "bad_request"
    unknown = await client.request({"type": "resize", "session": "nope", "cols": 80, "rows": 24})
    assert unknown["type"] == "error" and unknown["code"] == "unknown_session"
    running = await start(client, SIZE_REPORTER)
    await client.wait_for(lambda: lines(client, running), timeout=60)
    huge = await client.request({"type": "resize", "session": running, "cols": 80, "rows": 70_000})
    assert huge["type"] == "error" and huge["code"] == "bad_request"
    await client.request({"type": "stop", "session": running})


async def test_pty_input_waiting_for_room_fails_when_the_program_ends(client: ViewClient, tmp_path) -> None:
    """A program that stops reading: the terminal's input queue fills and the write waits for room. When the
    program ends, the waiting input is reported as not delivered (it must not wait forever)."""
    go = tmp_path / "go"
    code = (
        "import os, time, tty\ntty.setraw(0)\nprint('raw', flush=True)\n"
        f"while not os.path.exists({str(go)!r}):\n    time.sleep(0.02)\n"
    )
    sid = await start(client, code)
    await client.wait_for(lambda: "raw" in "".join(lines(client, sid)), timeout=60)
    await client.request({"type": "send", "session": sid, "text": "z" * 1_000_000})
    go.write_text("")
    await client.wait_status(sid, "exited", timeout=60)
    await client.wait_for(lambda: any(e["kind"] == "error" for e in client.events[sid]), timeout=30)
    (error,) = [e for e in client.events[sid] if e["kind"] == "error"]
    assert error["message"].startswith("input not delivered") and error["code"] == "not_running"
