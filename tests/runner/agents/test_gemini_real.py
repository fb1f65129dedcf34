"""The real Gemini CLI (installed from npm by tests/fakes/install_gemini.sh) driven through GeminiAgent and through a
headless runner, offline, against the scripted Gemini API on loopback (tests/fakes/gemini_server.py): a text turn,
a resumed second turn, a shell command the CLI runs, an interrupt, and the API's errors in words.

How the CLI is pointed at loopback: GOOGLE_GEMINI_BASE_URL (http is allowed for 127.0.0.1), GEMINI_API_KEY, and a
~/.gemini/settings.json under a temporary HOME that selects API-key auth and turns off usage statistics, update
checks and retries. The CLI is found (or installed) by tests/runner/agents/real_cli.py.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.agents.gemini import GeminiAgent
from tests.conftest import HeadlessRunner
from tests.fakes.gemini_server import GeminiReply, GeminiServer, texts_sent
from tests.runner.agents.real_cli import REFUSALS, RealCli

CLI = RealCli(GeminiAgent, "install_gemini.sh", "gemini-cli", login_words="GEMINI_API_KEY",
              options={"model": "gemini-2.5-flash"})
make, turn = CLI.make, CLI.turn

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def gemini_bin() -> str:
    return CLI.path()


@pytest.fixture
def api(
    gemini_bin: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[GeminiServer]:
    with GeminiServer() as server:
        home = tmp_path / "home"
        (home / ".gemini").mkdir(parents=True)
        (home / ".gemini" / "settings.json").write_text(json.dumps(server.settings()))
        monkeypatch.setenv("NIGHTSHIFT_GEMINI_PATH", gemini_bin)
        monkeypatch.setenv("HOME", str(home))
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
        monkeypatch.setenv("GEMINI_API_KEY", "dummy")
        for var in ("GEMINI_CLI_HOME", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_CLOUD_PROJECT"):
            monkeypatch.delenv(var, raising=False)
        CLI.describe(request)
        yield server


async def test_turn_then_resumed_turn(api: GeminiServer, workdir: str) -> None:
    api.queue(GeminiReply.message("First reply, streamed."), GeminiReply.message("Second reply."))
    agent, host = make(workdir)
    # Over Linux's 128 KiB limit for one argument, and it starts like a flag.
    prompt = "--version " + "z" * 200_000
    end = await turn(agent, host, prompt)
    assert end["status"] == "success", host.brief()
    assert host.text() == "First reply, streamed."
    assert len(host.of("assistant")) > 1 and len(host.messages()) == 1  # streamed as deltas of one message
    assert end["usage"]["output_tokens"] == 5
    sid = host.state["agent_session_id"]
    assert texts_sent(api.requests[0])[-1] == prompt  # exactly what was sent, nothing added
    end = await turn(agent, host, "and the second")
    assert end["status"] == "success", host.brief()
    assert host.messages()[-1][1] == "Second reply."
    # Resumed: the second request carries the first exchange, and the session id stays.
    history = api.requests[-1]["contents"]
    assert prompt in texts_sent(api.requests[-1]) and texts_sent(api.requests[-1])[-1] == "and the second"
    assert any(p.get("text") == "First reply, streamed." for c in history if c["role"] == "model" for p in c["parts"])
    assert host.state["agent_session_id"] == sid and len(host.of("agent_session")) == 1
    assert host.statuses() == ["running", "idle", "running", "idle"]


async def test_shell_command_run_by_the_cli(api: GeminiServer, workdir: str) -> None:
    api.queue(GeminiReply.shell("echo hi-from-gemini"), GeminiReply.message("It printed hi."))
    agent, host = make(workdir, permission_mode="yolo")  # headless, only yolo offers the shell tool
    end = await turn(agent, host, "run echo")
    assert end["status"] == "success", host.brief()
    (call,) = host.of("tool_call")
    assert call["name"] == "run_shell_command" and call["input"]["command"] == "echo hi-from-gemini"
    (result,) = host.of("tool_result")
    assert result["tool_id"] == call["tool_id"] and result["output"].strip() == "hi-from-gemini"
    assert result["is_error"] is False
    assert any("hi-from-gemini" in t for t in texts_sent(api.requests[-1]))  # the CLI sent the output back
    assert host.messages()[-1][1] == "It printed hi."


async def test_interrupt_then_next_turn(api: GeminiServer, workdir: str) -> None:
    api.queue(GeminiReply.slow(), GeminiReply.message("After the interrupt."))
    agent, host = make(workdir)
    host.emit("user", text="long story")
    # As in a runner started in the background by a shell: SIGINT ignored, which a child inherits.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        await agent.send("long story")
    finally:
        signal.signal(signal.SIGINT, previous)
    await host.wait_event("assistant", count=3, timeout=180)
    await agent.interrupt()
    end = await host.wait_event("turn_end", timeout=60)
    assert end["status"] == "interrupted", host.brief()
    await host.wait_for(lambda: host.status == "idle" and not agent.busy, timeout=60)
    assert len(host.text()) < len(" ".join(f"word{i}" for i in range(2000)))
    end = await turn(agent, host, "next")
    assert end["status"] == "success", host.brief()
    assert host.messages()[-1][1] == "After the interrupt."


async def test_resume_of_a_session_the_cli_does_not_have(api: GeminiServer, workdir: str) -> None:
    await CLI.check_lost_session(api, workdir)


async def test_through_a_headless_runner(api: GeminiServer, headless: HeadlessRunner, workdir: str) -> None:
    await CLI.check_over_a_headless_runner(api, headless, workdir)


@pytest.mark.parametrize(("status", "code"), REFUSALS)
async def test_refused_key_and_rate_limit_in_words(api: GeminiServer, workdir: str, status: int, code: str) -> None:
    host = await CLI.check_refusal(api, workdir, status, code)
    assert host.of("turn_end")[-1]["status"] == "error"
    # The raw stderr (a stack trace) stays in the output, not in the errors a user reads.
    assert all("    at " not in e["message"] for e in host.of("error"))


async def test_no_api_key_in_words(api: GeminiServer, workdir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    agent, host = make(workdir)
    await turn(agent, host, "hello")
    (error,) = host.of("error", code="auth_required")
    assert "gemini" in error["message"] and "GEMINI_API_KEY" in error["message"]
    assert not api.requests
