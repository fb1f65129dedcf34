"""The real Claude Code CLI (installed from npm by tests/fakes/install_claude.sh), driven through ClaudeAgent
and through the runner, against the scripted local Messages API server (tests/fakes/anthropic_server.py).
Offline: HOME is a temporary folder, the API is on loopback, non-essential traffic is off.

The CLI is found (or installed) by tests/runner/agents/real_cli.py.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.agents.claude import ClaudeAgent
from runner.blobs import sniff
from tests.fakes.anthropic_server import AnthropicServer, Reply
from tests.fakes.images import png
from tests.fakes.recording_host import RecordingHost
from tests.fakes.view_client import ViewClient
from tests.runner.agents.real_cli import REPO, real_cli

DEFAULT_BIN = REPO / ".cache" / "claude-code" / "node_modules" / ".bin" / "claude"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def claude_bin() -> str:
    """The CLI scripts/setup.sh installed and exported as NIGHTSHIFT_CLAUDE_PATH, else the one in .cache, installed
    now if need be (tests/runner/agents/real_cli.py)."""
    overrides = ("NIGHTSHIFT_CLAUDE_PATH", "NIGHTSHIFT_REAL_CLAUDE")
    return real_cli("Claude Code CLI", overrides, "install_claude.sh", DEFAULT_BIN)


@pytest.fixture
def api(claude_bin: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[AnthropicServer]:
    server = AnthropicServer()
    server.start()
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("NIGHTSHIFT_CLAUDE_PATH", claude_bin)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "dummy")
    monkeypatch.setenv("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
    monkeypatch.setenv("DISABLE_AUTOUPDATER", "1")
    monkeypatch.setenv("CLAUDECODE", "1")  # as if the runner itself ran inside Claude Code: must not leak
    for var in ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_MODEL", "CLAUDE_CONFIG_DIR"):
        monkeypatch.delenv(var, raising=False)
    try:
        yield server
    finally:
        server.stop()


def make(workdir: str, **options: Any) -> tuple[ClaudeAgent, RecordingHost]:
    host = RecordingHost(workdir, options=ClaudeAgent.check_options(options))
    return ClaudeAgent(host), host


async def turn(agent: ClaudeAgent, host: RecordingHost, text: str) -> dict[str, Any]:
    n = len(host.of("turn_end")) + 1
    host.emit("user", text=text)
    await agent.send(text)
    return await host.wait_event("turn_end", count=n, timeout=120)


def api_messages_text(body: dict[str, Any]) -> str:
    """All text the CLI sent to the model in one request (to check history and tool results)."""
    out = []
    for m in body.get("messages", []):
        content = m.get("content")
        if isinstance(content, str):
            out.append(content)
            continue
        for block in content or []:
            if block.get("type") == "text":
                out.append(block.get("text", ""))
            elif block.get("type") == "tool_result":
                c = block.get("content")
                out.append(c if isinstance(c, str) else str(c))
    return "\n".join(out)


async def test_text_turn_then_second_turn_in_the_same_process(api: AnthropicServer, workdir: str) -> None:
    api.queue(Reply.text("Hello from the scripted model."), Reply.text("Second answer here."))
    agent, host = make(workdir)
    try:
        end = await turn(agent, host, "say hello")
        assert end["status"] == "success", host.brief()
        assert host.text() == "Hello from the scripted model."  # streamed once, never duplicated
        assert len(host.messages()) == 1
        assert end["usage"]["output_tokens"] >= 1 and "duration_ms" in end
        sid = host.state["agent_session_id"]
        assert host.of("agent_session")[0]["agent_session_id"] == sid
        assert agent._proc is not None
        pid = agent._proc.pid

        end = await turn(agent, host, "and again")
        assert end["status"] == "success"
        assert [t for _, t in host.messages()] == ["Hello from the scripted model.", "Second answer here."]
        assert agent._proc is not None and agent._proc.pid == pid
        history = api_messages_text(api.requests[-1])
        assert (
            "say hello" in history and "Hello from the scripted model." in history and "and again" in history
        )
        assert host.statuses() == ["running", "idle", "running", "idle"]
    finally:
        await agent.stop()


async def test_tool_call_run_by_the_cli(api: AnthropicServer, workdir: str) -> None:
    api.queue(
        Reply.tool_use("Bash", {"command": "echo hi-from-tool", "description": "Say hi"}, text="Running it."),
        Reply.text("The tool said hi."),
    )
    agent, host = make(workdir)
    try:
        end = await turn(agent, host, "run echo")
        assert end["status"] == "success", host.brief()
        (call,) = host.of("tool_call")
        assert call["name"] == "Bash" and call["input"]["command"] == "echo hi-from-tool"
        (result,) = host.of("tool_result")
        assert result["tool_id"] == call["tool_id"] and result["output"].strip() == "hi-from-tool"
        assert result["is_error"] is False
        assert [t for _, t in host.messages()] == ["Running it.", "The tool said hi."]
        assert "hi-from-tool" in api_messages_text(api.requests[-1])  # the CLI sent the result to the model
    finally:
        await agent.stop()


async def test_interrupt_mid_stream_then_next_message(api: AnthropicServer, workdir: str) -> None:
    api.queue(Reply.slow_text(words=2000, delay=0.05), Reply.text("Fresh answer."))
    agent, host = make(workdir)
    try:
        host.emit("user", text="long story")
        await agent.send("long story")
        await host.wait_event("assistant", count=3, timeout=120)
        assert agent._proc is not None
        pid = agent._proc.pid
        await agent.interrupt()
        end = await host.wait_event("turn_end", timeout=120)
        assert end["status"] == "interrupted", end
        assert host.status == "idle" and agent.running
        assert len(host.text()) < len(" ".join(f"word{i}" for i in range(2000)))

        end = await turn(agent, host, "short please")
        assert end["status"] == "success"
        assert host.messages()[-1][1] == "Fresh answer."
        assert agent._proc is not None and agent._proc.pid == pid  # the same process served both
    finally:
        await agent.stop()


async def test_permission_denied_then_allowed(api: AnthropicServer, workdir: str) -> None:
    api.queue(
        Reply.tool_use("Bash", {"command": "touch denied-file", "description": "Create a file"}),
        Reply.text("Understood, not creating it."),
        Reply.tool_use("Bash", {"command": "touch allowed-file", "description": "Create a file"}),
        Reply.text("Created it."),
    )
    agent, host = make(workdir, permission_mode="ask")
    try:
        host.emit("user", text="make a file")
        await agent.send("make a file")
        request = await host.wait_event("permission_request", timeout=120)
        assert request["tool_name"] == "Bash" and request["input"]["command"] == "touch denied-file"
        assert request["tool_id"] == host.of("tool_call")[0]["tool_id"]  # a view can show it on the call
        await host.wait_status("needs_approval")
        assert list(host.state["pending_permissions"]) == [request["request_id"]]
        await agent.answer(request["request_id"], "deny", "Please do not create files.")
        end = await host.wait_event("turn_end", timeout=120)
        assert end["status"] == "success"
        denied = host.of("tool_result")[0]
        assert denied["is_error"] is True and "Please do not create files." in denied["output"]
        assert not os.path.exists(os.path.join(workdir, "denied-file"))

        host.emit("user", text="now do make it")
        await agent.send("now do make it")
        request = await host.wait_event("permission_request", count=2, timeout=120)
        await agent.answer(request["request_id"], "allow", None)
        await host.wait_event("turn_end", count=2, timeout=120)
        assert os.path.exists(os.path.join(workdir, "allowed-file"))
        assert host.of("tool_result")[1]["is_error"] is False
        assert [a["behavior"] for a in host.of("permission_answer")] == ["deny", "allow"]
        assert host.statuses().count("needs_approval") == 2 and host.status == "idle"
        assert host.state["pending_permissions"] == {}
    finally:
        await agent.stop()


async def test_configure_model_and_mode_between_turns(api: AnthropicServer, workdir: str) -> None:
    api.queue(Reply.text("one"), Reply.text("two"))
    agent, host = make(workdir, model="claude-sonnet-test")
    try:
        await turn(agent, host, "first")
        assert api.requests[-1]["model"] == "claude-sonnet-test"
        assert agent._proc is not None
        pid = agent._proc.pid
        await agent.configure({"model": "claude-haiku-test", "permission_mode": "acceptEdits"})
        end = await turn(agent, host, "second")
        assert end["status"] == "success"
        assert api.requests[-1]["model"] == "claude-haiku-test"
        assert agent._proc is not None and agent._proc.pid == pid  # changed in place, no restart
        assert host.options == {"model": "claude-haiku-test", "permission_mode": "acceptEdits"}
    finally:
        await agent.stop()


async def test_resume_after_the_process_is_gone(api: AnthropicServer, workdir: str) -> None:
    api.queue(Reply.text("Remember the word kumquat."), Reply.text("The word was kumquat."))
    agent, host = make(workdir)
    await turn(agent, host, "remember kumquat")
    sid = host.state["agent_session_id"]
    await agent.stop()
    assert not agent.running and host.of("status")[-1]["reason"] == "stopped"

    # A new agent object, as after a runner restart, with only the saved state.
    host2 = RecordingHost(workdir, options=dict(host.options), state=dict(host.state))
    agent2 = ClaudeAgent(host2)
    agent2.resume_after_restart()
    try:
        end = await turn(agent2, host2, "what was the word?")
        assert end["status"] == "success", host2.brief()
        history = api_messages_text(api.requests[-1])
        assert "remember kumquat" in history and "Remember the word kumquat." in history
        # This CLI keeps the id on resume (older ones forked a new id, which would be reported and saved).
        reported = host2.of("agent_session")
        assert host2.state["agent_session_id"] == (reported[-1]["agent_session_id"] if reported else sid)
    finally:
        await agent2.stop()


async def test_real_cli_through_the_runner(
    api: AnthropicServer, client: ViewClient, runner: Any, workdir: str
) -> None:
    api.queue(
        Reply.text("Hi over the wire."),
        Reply.tool_use("Bash", {"command": "touch wire-file", "description": "Create a file"}),
        Reply.text("Done over the wire."),
    )
    info = {a["name"]: a for a in (await client.request({"type": "agents"}))["agents"]}["claude"]
    assert info["available"] and info["version"]
    reply = await client.request({"type": "create", "agent": "claude", "cwd": workdir})
    sid = reply["session"]["id"]
    await client.request({"type": "attach", "session": sid})

    def kinds(kind: str) -> list[dict[str, Any]]:
        return [e for e in client.events.get(sid, []) if e["kind"] == kind]

    await client.request({"type": "send", "session": sid, "text": "hello", "client_msg_id": "w1"})
    await client.wait_for(lambda: kinds("turn_end"), timeout=120)
    texts = "".join(e["text"] for e in kinds("assistant"))
    assert texts == "Hi over the wire."
    await client.request({"type": "send", "session": sid, "text": "make a file", "client_msg_id": "w2"})
    await client.wait_for(lambda: kinds("permission_request"), timeout=120)
    (request,) = kinds("permission_request")
    ok = await client.request(
        {"type": "answer", "session": sid, "request_id": request["request_id"], "behavior": "allow"}
    )
    assert ok["type"] == "ok"
    await client.wait_for(lambda: len(kinds("turn_end")) >= 2, timeout=120)
    assert os.path.exists(os.path.join(workdir, "wire-file"))
    await client.request({"type": "stop", "session": sid})


async def test_real_cli_read_of_an_image_through_the_runner(
    api: AnthropicServer, client: ViewClient, runner: Any, workdir: str, data_dir: str
) -> None:
    """The real CLI's Read of a PNG: its image block becomes a reference, the bytes a blob a view can fetch."""
    picture = png(96, 64, (255, 0, 0), left_rgb=(0, 0, 255))
    Path(workdir, "shot.png").write_bytes(picture)
    api.queue(Reply.tool_use("Read", {"file_path": os.path.join(workdir, "shot.png")}), Reply.text("A picture."))
    sid = (await client.request({"type": "create", "agent": "claude", "cwd": workdir}))["session"]["id"]
    await client.request({"type": "attach", "session": sid})
    await client.request({"type": "send", "session": sid, "text": "look", "client_msg_id": "img"})
    await client.wait_for(lambda: any(e["kind"] == "turn_end" for e in client.events.get(sid, [])), timeout=120)
    (result,) = [e for e in client.events[sid] if e["kind"] == "tool_result"]
    (ref,) = result["images"]
    assert ref["media_type"] == "image/png" and (ref["width"], ref["height"]) == (96, 64), result
    assert result["output"].startswith("[image: PNG 96x64, ")
    blob = await client.request({"type": "get_blob", "blob": ref["blob"]})
    data = base64.b64decode(blob["data"])
    assert hashlib.sha256(data).hexdigest() == ref["blob"] and sniff(data) == ("image/png", 96, 64)
    assert os.listdir(os.path.join(data_dir, "blobs")) == [ref["blob"] + ".png"]
    await client.request({"type": "stop", "session": sid})


async def test_resume_of_a_conversation_the_cli_does_not_have(api: AnthropicServer, workdir: str) -> None:
    api.queue(Reply.text("A new conversation."))
    lost = "3f2a9c1d-0000-4000-8000-00000000dead"
    host = RecordingHost(workdir, options=ClaudeAgent.check_options({}), state={"agent_session_id": lost})
    agent = ClaudeAgent(host)
    host.emit("user", text="hello?")
    await agent.send("hello?")
    await host.wait_status("error", timeout=120)
    assert host.of("error", code="resume_failed"), host.brief()
    assert host.state["agent_session_id"] is None
    try:
        end = await turn(agent, host, "hello again")
        assert end["status"] == "success" and host.messages()[-1][1] == "A new conversation."
        assert host.state["agent_session_id"] not in (None, lost)
    finally:
        await agent.stop()


@pytest.mark.parametrize(
    ("status", "code", "words"), [(401, "auth_required", "/login"), (429, "rate_limited", "rate limit")]
)
async def test_refused_key_and_rate_limit_in_words(
    api: AnthropicServer, workdir: str, monkeypatch: pytest.MonkeyPatch, status: int, code: str, words: str
) -> None:
    api.fail_with = status
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "1")  # the CLI retries both for minutes by default
    agent, host = make(workdir)
    try:
        end = await turn(agent, host, "hello")
        assert end["status"] == "error"
        errors = host.of("error", code=code)
        # Said at the first retry (while the CLI keeps trying), and again when the turn gives up.
        assert len(errors) == 2 and all(words in e["message"] and "Claude Code" in e["message"] for e in errors)
    finally:
        await agent.stop()


QUESTIONS = [
    {"question": "Which database should we use?", "header": "Database", "multiSelect": False,
     "options": [{"label": "SQLite", "description": "a file"}, {"label": "PostgreSQL", "description": "a server"}]},
    {"question": "Which features?", "header": "Features", "multiSelect": True,
     "options": [{"label": "Auth", "description": "log in"}, {"label": "Search", "description": "find things"}]},
]


async def test_ask_user_question_answers_reach_the_model(api: AnthropicServer, workdir: str) -> None:
    """AskUserQuestion arrives as a permission request holding the questions; the view's answers go back and the
    model reads them in the tool result (issue 14 item 4)."""
    api.queue(Reply.tool_use("AskUserQuestion", {"questions": QUESTIONS}), Reply.text("Going with SQLite."))
    agent, host = make(workdir, permission_mode="ask")
    try:
        host.emit("user", text="set up storage")
        await agent.send("set up storage")
        request = await host.wait_event("permission_request", timeout=120)
        assert request["tool_name"] == "AskUserQuestion"
        assert [q["question"] for q in request["input"]["questions"]] == [q["question"] for q in QUESTIONS]
        chosen = {"Which database should we use?": "SQLite", "Which features?": "Auth, Search"}
        await agent.answer(request["request_id"], "allow", None, answers=chosen)
        await host.wait_event("turn_end", timeout=120)
        result = host.of("tool_result")[0]
        assert result["is_error"] is False
        seen = api_messages_text(api.wait_requests(2)[-1])
        assert '"Which database should we use?"="SQLite"' in seen and '"Which features?"="Auth, Search"' in seen
        assert host.of("permission_answer")[0]["answers"] == chosen
    finally:
        await agent.stop()


async def test_always_allow_passes_the_cli_suggestion_and_it_stops_asking(api: AnthropicServer,
                                                                          workdir: str) -> None:
    """Bash permission requests carry the CLI's own suggestion; allowing with it as `updated_permissions` makes
    the CLI stop asking for the same command (issue 14 item 4)."""
    command = "touch always-file"
    api.queue(
        Reply.tool_use("Bash", {"command": command, "description": "Create a file"}), Reply.text("Made it."),
        Reply.tool_use("Bash", {"command": command, "description": "Create a file"}), Reply.text("Again."),
    )
    agent, host = make(workdir, permission_mode="ask")
    try:
        await turn_started(agent, host, "make a file")
        request = await host.wait_event("permission_request", timeout=120)
        suggestions = request.get("suggestions")
        assert suggestions and suggestions[0]["type"] == "addRules", request
        await agent.answer(request["request_id"], "allow", None, updated_permissions=suggestions)
        await host.wait_event("turn_end", timeout=120)
        assert host.of("permission_answer")[0]["updated_permissions"] == suggestions
        await turn(agent, host, "once more")
        assert len(host.of("permission_request")) == 1  # not asked again
        assert [r["is_error"] for r in host.of("tool_result")] == [False, False]
    finally:
        await agent.stop()


async def turn_started(agent: ClaudeAgent, host: RecordingHost, text: str) -> None:
    host.emit("user", text=text)
    await agent.send(text)
