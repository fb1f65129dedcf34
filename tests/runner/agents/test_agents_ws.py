"""Agent sessions through the real runner over a real WebSocket: create, send, attach (also late), answer a
permission request from another view, configure, and a restart of the runner with a request still open."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from tests.conftest import TOKEN, HeadlessRunner
from tests.fakes.view_client import ViewClient
from tests.runner.agents.helpers import ArgvLog


def merged(events: list[dict[str, Any]], kind: str = "assistant") -> list[str]:
    """Message texts as a view shows them: deltas of one message_id concatenated."""
    texts: dict[str, str] = {}
    for e in events:
        if e["kind"] == kind:
            texts[e["message_id"]] = texts.get(e["message_id"], "") + e["text"]
    return list(texts.values())


def of(client: ViewClient, sid: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in client.events.get(sid, []) if e["kind"] == kind]


async def create(client: ViewClient, agent: str, cwd: str, **extra: Any) -> str:
    reply = await client.request({"type": "create", "agent": agent, "cwd": cwd, **extra})
    assert reply["type"] == "created", reply
    return reply["session"]["id"]


@pytest.mark.parametrize("agent", ["claude", "codex", "gemini", "opencode"])
async def test_two_turns_over_the_wire(
    agent: str, fake_clis: ArgvLog, client: ViewClient, workdir: str
) -> None:
    sid = await create(client, agent, workdir, model="some-model")
    await client.request({"type": "attach", "session": sid})
    for n, text in enumerate(["hello", "again"], start=1):
        await client.request({"type": "send", "session": sid, "text": text, "client_msg_id": f"m{n}"})
        await client.wait_for(lambda n=n: len(of(client, sid, "turn_end")) >= n)
    await client.wait_for(
        lambda: client.events[sid][-1]["kind"] == "status" and client.events[sid][-1]["status"] == "idle"
    )
    events = client.events[sid]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert merged(events) == ["Echo: hello", "Echo: again"]
    assert [e["text"] for e in of(client, sid, "user")] == ["hello", "again"]
    assert len(of(client, sid, "agent_session")) == 1
    session = (await client.request({"type": "get", "session": sid}))["session"]
    assert session["agent"] == agent and session["status"] == "idle"
    assert session["options"]["model"] == "some-model" and session["pending_permissions"] == 0
    await client.request({"type": "stop", "session": sid})


async def test_permission_request_answered_by_a_view_that_attached_later(
    fake_clis: ArgvLog, client: ViewClient, runner: Any, workdir: str
) -> None:
    sid = await create(client, "claude", workdir)
    await client.request({"type": "attach", "session": sid})
    await client.request({"type": "send", "session": sid, "text": "mode:permission", "client_msg_id": "p1"})
    await client.wait_for(lambda: of(client, sid, "permission_request"))
    await client.wait_status(sid, "needs_approval")
    listed = {s["id"]: s for s in (await client.request({"type": "list"}))["sessions"]}
    assert listed[sid]["status"] == "needs_approval" and listed[sid]["pending_permissions"] == 1

    late = await ViewClient.open(runner.url, TOKEN)
    try:
        await late.request({"type": "hello", "protocol": 1})
        await late.request({"type": "attach", "session": sid, "after": 0})
        await late.wait_for(lambda: of(late, sid, "permission_request"))
        (request,) = of(late, sid, "permission_request")
        assert request["tool_name"] == "Bash" and request["input"] == {"command": "touch made-by-fake"}
        assert not of(late, sid, "permission_answer")  # still open

        bad = await late.request(
            {"type": "answer", "session": sid, "request_id": "nope", "behavior": "allow"}
        )
        assert bad["type"] == "error" and bad["code"] == "unknown_request"
        ok = await late.request(
            {
                "type": "answer",
                "session": sid,
                "request_id": request["request_id"],
                "behavior": "deny",
                "message": "not now",
            }
        )
        assert ok["type"] == "ok"
        again = await client.request(
            {"type": "answer", "session": sid, "request_id": request["request_id"], "behavior": "allow"}
        )
        assert again["type"] == "error" and again["code"] == "unknown_request"
    finally:
        await late.close()
    await client.wait_for(lambda: of(client, sid, "turn_end"))
    (answer,) = of(client, sid, "permission_answer")
    assert answer["behavior"] == "deny" and answer["message"] == "not now"
    assert of(client, sid, "tool_result")[0]["is_error"] is True
    await client.wait_status(sid, "idle")
    session = (await client.request({"type": "get", "session": sid}))["session"]
    assert session["pending_permissions"] == 0
    await client.request({"type": "stop", "session": sid})


async def test_configure_and_bad_options(fake_clis: ArgvLog, client: ViewClient, workdir: str) -> None:
    bad = await client.request(
        {"type": "create", "agent": "claude", "cwd": workdir, "permission_mode": "yolo"}
    )
    assert bad["type"] == "error" and bad["code"] == "bad_request"
    sid = await create(client, "claude", workdir, model="sonnet")
    await client.request({"type": "attach", "session": sid})
    await client.request({"type": "send", "session": sid, "text": "one"})
    await client.wait_for(lambda: of(client, sid, "turn_end"))
    reply = await client.request(
        {"type": "configure", "session": sid, "model": "opus", "permission_mode": "plan"}
    )
    assert reply["type"] == "session", reply
    assert reply["session"]["options"] == {"model": "opus", "permission_mode": "plan"}
    bad = await client.request({"type": "configure", "session": sid, "model": "--x"})
    assert bad["type"] == "error" and bad["code"] == "bad_request"
    await client.request({"type": "stop", "session": sid})


@pytest.mark.slow
async def test_runner_restart_withdraws_open_requests_and_resumes(
    fake_clis: ArgvLog, headless: HeadlessRunner, workdir: str
) -> None:
    url = headless.start()
    c = await ViewClient.open(url, TOKEN)
    await c.request({"type": "hello", "protocol": 1})
    sid = await create(c, "claude", workdir)
    await c.request({"type": "attach", "session": sid})
    await c.request({"type": "send", "session": sid, "text": "first"})
    await c.wait_for(lambda: of(c, sid, "turn_end"))
    await c.request({"type": "send", "session": sid, "text": "mode:permission"})
    await c.wait_for(lambda: of(c, sid, "permission_request"))
    agent_sid = of(c, sid, "agent_session")[0]["agent_session_id"]
    await c.close()
    headless.stop(signal.SIGKILL)  # no clean shutdown: the new runner finds the request still open

    url = headless.start()
    c = await ViewClient.open(url, TOKEN)
    try:
        await c.request({"type": "hello", "protocol": 1})
        await c.request({"type": "attach", "session": sid, "after": 0})
        await c.wait_for(lambda: of(c, sid, "permission_answer"))
        (request,) = of(c, sid, "permission_request")
        (answer,) = of(c, sid, "permission_answer")
        assert answer["request_id"] == request["request_id"] and answer["behavior"] == "cancelled"
        session = (await c.request({"type": "get", "session": sid}))["session"]
        assert session["pending_permissions"] == 0
        await c.request({"type": "send", "session": sid, "text": "after restart"})
        await c.wait_for(
            lambda: len(of(c, sid, "turn_end")) >= 1 and "Echo: after restart" in merged(c.events[sid])
        )
        assert fake_clis.calls()[-1][-1] == f"--resume={agent_sid}"
        await c.request({"type": "stop", "session": sid})
    finally:
        await c.close()


async def test_question_answers_and_always_allow_over_the_wire(
    fake_clis: ArgvLog, client: ViewClient, workdir: str
) -> None:
    sid = await create(client, "claude", workdir)
    await client.request({"type": "attach", "session": sid})
    await client.request({"type": "send", "session": sid, "text": "mode:ask", "client_msg_id": "q1"})
    await client.wait_for(lambda: of(client, sid, "permission_request"))
    (question,) = of(client, sid, "permission_request")
    assert question["tool_name"] == "AskUserQuestion" and len(question["input"]["questions"]) == 2
    bad = await client.request({"type": "answer", "session": sid, "request_id": question["request_id"],
                                "behavior": "allow", "answers": {"Which features?": ["Auth"]}})
    assert bad["code"] == "bad_request" and "answers" in bad["message"]
    chosen = {"Which database should we use?": "PostgreSQL", "Which features?": "Auth, Search"}
    ok = await client.request({"type": "answer", "session": sid, "request_id": question["request_id"],
                               "behavior": "allow", "answers": chosen})
    assert ok["type"] == "ok"
    await client.wait_for(lambda: len(of(client, sid, "turn_end")) >= 1)
    assert 'Going with: "Which database should we use?"="PostgreSQL"' in merged(client.events[sid])[-1]

    await client.request({"type": "send", "session": sid, "text": "mode:permission", "client_msg_id": "p1"})
    await client.wait_for(lambda: len(of(client, sid, "permission_request")) >= 2)
    request = of(client, sid, "permission_request")[1]
    assert request["suggestions"][0]["rules"][0]["ruleContent"] == "touch made-by-fake"
    await client.request({"type": "answer", "session": sid, "request_id": request["request_id"],
                          "behavior": "allow", "updated_permissions": request["suggestions"]})
    await client.wait_for(lambda: len(of(client, sid, "turn_end")) >= 2)
    await client.request({"type": "send", "session": sid, "text": "mode:permission", "client_msg_id": "p2"})
    await client.wait_for(lambda: len(of(client, sid, "turn_end")) >= 3)
    assert len(of(client, sid, "permission_request")) == 2  # the rule answered the third turn's request
    await client.request({"type": "stop", "session": sid})
