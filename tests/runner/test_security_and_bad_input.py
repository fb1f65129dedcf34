"""Authentication, Origin checks, and every kind of bad input: an error reply, nothing else breaks."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from runner.runner import Runner
from tests.conftest import TOKEN
from tests.fakes.view_client import ViewClient

PY = sys.executable


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Bearer {TOKEN} {TOKEN}"},
        {"Authorization": TOKEN},
    ],
)
async def test_missing_or_wrong_token_is_refused_with_401(runner: Runner, headers: dict[str, str]) -> None:
    with pytest.raises(InvalidStatus) as info:
        await connect(runner.url, additional_headers=headers, proxy=None)
    assert info.value.response.status_code == 401


def one_byte_off(token: str, index: int) -> str:
    return token[:index] + chr(ord(token[index]) ^ 1) + token[index + 1 :]


NEAR_MISSES = {
    "first byte off": one_byte_off(TOKEN, 0),
    "ninth byte off": one_byte_off(TOKEN, 8),
    "last byte off": one_byte_off(TOKEN, len(TOKEN) - 1),
    "one byte short": TOKEN[:-1],
    "one byte long": TOKEN + "9",
    "first 8 bytes only": TOKEN[:8],
    "other case": TOKEN.upper(),
}


@pytest.mark.parametrize("presented", NEAR_MISSES.values(), ids=NEAR_MISSES.keys())
async def test_near_miss_tokens_are_refused_and_the_exact_one_accepted(runner: Runner, presented: str) -> None:
    assert presented != TOKEN
    with pytest.raises(InvalidStatus) as info:
        await connect(runner.url, additional_headers={"Authorization": f"Bearer {presented}"}, proxy=None)
    assert info.value.response.status_code == 401
    async with connect(runner.url, additional_headers={"Authorization": f"Bearer {TOKEN}"}, proxy=None) as ws:
        await ws.send(json.dumps({"type": "ping", "id": 1}))
        assert json.loads(await ws.recv()) == {"type": "pong", "re": 1}


async def test_browser_origin_is_refused_with_403(runner: Runner) -> None:
    with pytest.raises(InvalidStatus) as info:
        await connect(
            runner.url,
            additional_headers={"Authorization": f"Bearer {TOKEN}"},
            origin="http://evil.example",
            proxy=None,
        )
    assert info.value.response.status_code == 403


async def test_allowlisted_origin_is_accepted(data_dir: str) -> None:
    runner = await Runner.start(data_dir, TOKEN, allowed_origins=["http://localhost:3000"])
    try:
        ws = await connect(
            runner.url,
            additional_headers={"Authorization": f"Bearer {TOKEN}"},
            origin="http://localhost:3000",
            proxy=None,
        )
        await ws.send(json.dumps({"type": "ping", "id": 1}))
        assert json.loads(await ws.recv()) == {"type": "pong", "re": 1}
        await ws.close()
    finally:
        await runner.shutdown()


BAD_FRAMES = [
    ("not json", "bad_json", None),
    ("[1, 2]", "bad_json", None),
    ('{"id": 1}', "bad_request", 1),
    ('{"type": 5, "id": 2}', "bad_request", 2),
    ('{"type": "teleport", "id": 3}', "unknown_type", 3),
    ('{"type": "attach", "id": 4}', "bad_request", 4),
    ('{"type": "attach", "session": 12, "id": 5}', "bad_request", 5),
    ('{"type": "attach", "session": "s-nope", "id": 6}', "unknown_session", 6),
    ('{"type": "attach", "session": "s-nope", "after": -1, "id": 7}', "bad_request", 7),
    ('{"type": "attach", "session": "s-nope", "after": true, "id": 8}', "bad_request", 8),
    ('{"type": "send", "session": "s-nope", "id": 9}', "bad_request", 9),
    ('{"type": "send", "session": "s-nope", "text": "hi", "id": 10}', "unknown_session", 10),
    ('{"type": "create", "argv": "ls", "id": 11}', "bad_request", 11),
    ('{"type": "create", "argv": [], "id": 12}', "bad_request", 12),
    ('{"type": "create", "agent": "nope", "argv": ["ls"], "id": 13}', "unknown_agent", 13),
    ('{"type": "rename", "session": "s-nope", "id": 14}', "bad_request", 14),
    ('{"type": "hello", "protocol": 2, "id": 15}', "unsupported_protocol", 15),
    ('{"type": "stop", "session": "s-nope", "id": "x"}', "unknown_session", "x"),
    (
        '{"type": "answer", "session": "s-nope", "request_id": "r", "behavior": "maybe", "id": 16}',
        "bad_request",
        16,
    ),
    ('{"type": "list", "id": {"a": 1}}', "bad_request", None),
    ('{"type": "create", "argv": ["ls"], "cwd": 7, "id": 17}', "bad_request", 17),
    ("[" * 100000 + "]" * 100000, "bad_json", None),
]


async def test_every_bad_input_gets_an_error_and_breaks_nothing(client: ViewClient, runner: Runner) -> None:
    code = "import time\nfor i in range(200):\n    print(i, flush=True)\n    time.sleep(0.005)"
    sid = (await client.request({"type": "create", "argv": [PY, "-u", "-c", code]}))["session"]["id"]
    await client.request({"type": "attach", "session": sid})
    for frame, code_expected, re in BAD_FRAMES:
        before = len(client.pushes)
        await client.send_raw(frame)
        await client.wait_for(lambda b=before: any(p["type"] == "error" for p in client.pushes[b:]))
        error = next(p for p in client.pushes[before:] if p["type"] == "error")
        assert error["code"] == code_expected, (frame[:80], error)
        assert error.get("re") == re
        assert error["message"]
    before = len(client.pushes)
    await client.send_raw(b"\x00binary")
    await client.wait_for(lambda: any(p.get("code") == "binary_frame" for p in client.pushes[before:]))
    # The connection still works and the session kept streaming, complete.
    assert (await client.request({"type": "ping"}))["type"] == "pong"
    await client.wait_status(sid, "exited")
    assert client.texts(sid) == [str(i) for i in range(200)]


async def test_send_to_a_finished_command_is_refused(client: ViewClient) -> None:
    sid = (await client.request({"type": "create", "argv": ["true"]}))["session"]["id"]
    await client.request({"type": "attach", "session": sid})
    await client.wait_status(sid, "exited")
    r = await client.request({"type": "send", "session": sid, "text": "x", "client_msg_id": "a"})
    assert r["type"] == "error" and r["code"] == "not_running"
    r = await client.request({"type": "interrupt", "session": sid})
    assert r["code"] == "not_running"


async def test_an_oversized_frame_closes_only_that_connection(client: ViewClient, runner: Runner) -> None:
    sid = await client.request({"type": "create", "argv": [PY, "-u", "-c", "import time; time.sleep(300)"]})
    sid = sid["session"]["id"]
    big = await connect(runner.url, additional_headers={"Authorization": f"Bearer {TOKEN}"}, proxy=None)
    with pytest.raises(ConnectionClosed) as info:
        await big.send(json.dumps({"type": "send", "session": sid, "text": "x" * (5 * 1024 * 1024)}))
        await big.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    assert (await client.request({"type": "get", "session": sid}))["session"]["status"] == "running"
    await client.request({"type": "stop", "session": sid})


async def test_a_view_that_never_reads_does_not_slow_the_agent(client: ViewClient, runner: Runner) -> None:
    stalled = await ViewClient.open(runner.url, TOKEN, max_queue=1)
    stalled._reader.cancel()  # this view stops reading entirely
    await asyncio.sleep(0)
    code = "for i in range(200000): print('line %d ' % i + 'z' * 100)"
    sid = (await client.request({"type": "create", "argv": [PY, "-c", code]}))["session"]["id"]
    await stalled.ws.send(json.dumps({"type": "attach", "session": sid, "id": 1}))
    await client.request({"type": "attach", "session": sid})
    await client.wait_status(sid, "exited", timeout=120)
    assert runner.manager.get(sid).committed == 200003  # idle, running, 200000 lines, exited
    stalled.ws.transport.abort()
