"""The real Codex CLI (installed from npm by tests/fakes/install_codex.sh) driven through CodexAgent against the
scripted local Responses API server (tests/fakes/openai_server.py), offline: a turn, a resumed second turn, a
shell command the CLI runs, and an interrupt. Skipped, with the reason, when the CLI cannot be installed, except in
CI (CI=true), where that is a failure."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.agents.codex import CodexAgent
from tests.conftest import missing
from tests.fakes.openai_server import OpenAIServer, ResponseReply, texts_sent
from tests.fakes.recording_host import RecordingHost

REPO = Path(__file__).resolve().parents[3]
DEFAULT_BIN = REPO / ".cache" / "codex" / "node_modules" / ".bin" / "codex"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def codex_bin() -> str:
    """The CLI scripts/setup.sh installed and exported as NIGHTSHIFT_CODEX_PATH, else the one in .cache, installed
    now if need be. Missing: a skip on a developer's machine, a failure in CI (tests/conftest.py missing())."""
    for var in ("NIGHTSHIFT_CODEX_PATH", "NIGHTSHIFT_REAL_CODEX"):
        override = os.environ.get(var)
        if override:
            if not os.access(override, os.X_OK):
                missing(f"{var}={override} is not an executable")
            return override
    if not DEFAULT_BIN.exists():
        try:
            subprocess.run(
                ["sh", str(REPO / "tests" / "fakes" / "install_codex.sh")],
                capture_output=True,
                timeout=600,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"Codex CLI cannot be installed: {exc}")
    if not DEFAULT_BIN.exists():
        reason = "Codex CLI cannot be installed (tests/fakes/install_codex.sh failed)"
        print(reason)
        missing(reason)
    return str(DEFAULT_BIN)


@pytest.fixture
def api(codex_bin: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[OpenAIServer]:
    server = OpenAIServer()
    server.start()
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text(server.config_toml())
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("NIGHTSHIFT_CODEX_PATH", codex_bin)
    monkeypatch.setenv("CODEX_HOME", str(codex_home))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OPENAI_API_KEY", "dummy")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    try:
        yield server
    finally:
        server.stop()


async def turn(agent: CodexAgent, host: RecordingHost, text: str) -> dict[str, Any]:
    n = len(host.of("turn_end")) + 1
    host.emit("user", text=text)
    await agent.send(text)
    end = await host.wait_event("turn_end", count=n, timeout=120)
    await host.wait_for(lambda: not agent.busy, timeout=60)
    return end


async def test_turn_then_resumed_turn(api: OpenAIServer, workdir: str) -> None:
    api.queue(ResponseReply.message("First reply."), ResponseReply.message("Second reply."))
    host = RecordingHost(workdir, options=CodexAgent.check_options({}))
    agent = CodexAgent(host)
    end = await turn(agent, host, "-a prompt that looks like a flag")
    assert end["status"] == "success", host.brief()
    assert end["usage"]["output_tokens"] == 5
    assert host.text() == "First reply."
    thread = host.state["agent_session_id"]
    end = await turn(agent, host, "and the second")
    assert end["status"] == "success" and host.messages()[-1][1] == "Second reply."
    # Resumed: the second request carries the first exchange, and the thread id stays.
    sent = texts_sent(api.requests[-1])
    assert "-a prompt that looks like a flag" in sent and sent[-1] == "and the second"
    assert host.state["agent_session_id"] == thread and len(host.of("agent_session")) == 1
    assert host.status == "idle"


async def test_shell_command_run_by_the_cli(api: OpenAIServer, workdir: str) -> None:
    api.queue(ResponseReply.exec_command("echo hi-from-codex"), ResponseReply.message("It printed hi."))
    host = RecordingHost(workdir, options=CodexAgent.check_options({}))
    agent = CodexAgent(host)
    end = await turn(agent, host, "run echo")
    assert end["status"] == "success", host.brief()
    (call,) = host.of("tool_call")
    assert call["name"] == "command" and "echo hi-from-codex" in call["input"]["command"]
    (result,) = host.of("tool_result")
    assert result["tool_id"] == call["tool_id"] and result["output"].strip() == "hi-from-codex"
    assert result["is_error"] is False and result["exit_code"] == 0
    assert any("hi-from-codex" in t for t in texts_sent(api.requests[-1]))
    assert host.messages()[-1][1] == "It printed hi."


async def test_interrupt_then_next_turn(api: OpenAIServer, workdir: str) -> None:
    api.queue(ResponseReply.message("too late", delay=60), ResponseReply.message("After the interrupt."))
    host = RecordingHost(workdir, options=CodexAgent.check_options({}))
    agent = CodexAgent(host)
    host.emit("user", text="long task")
    await agent.send("long task")
    await host.wait_for(lambda: api.requests, timeout=120, what="the CLI's request")
    await asyncio.sleep(0.5)
    await agent.interrupt()
    end = await host.wait_event("turn_end", timeout=60)
    assert end["status"] == "interrupted"
    await host.wait_for(lambda: host.status == "idle" and not agent.busy, timeout=60)
    end = await turn(agent, host, "next")
    assert end["status"] == "success" and host.messages()[-1][1] == "After the interrupt."


async def test_resume_of_a_thread_the_cli_does_not_have(api: OpenAIServer, workdir: str) -> None:
    api.queue(ResponseReply.message("A new thread."))
    lost = "3f2a9c1d-0000-4000-8000-00000000dead"
    host = RecordingHost(workdir, options=CodexAgent.check_options({}), state={"agent_session_id": lost})
    agent = CodexAgent(host)
    await turn(agent, host, "hello?")
    assert host.of("error", code="resume_failed"), host.brief()
    assert host.state["agent_session_id"] is None
    end = await turn(agent, host, "hello again")
    assert end["status"] == "success" and host.messages()[-1][1] == "A new thread."
    assert host.state["agent_session_id"] not in (None, lost)


@pytest.mark.parametrize(
    ("status", "code", "words"), [(401, "auth_required", "codex login"), (429, "rate_limited", "rate limit")]
)
async def test_refused_key_and_rate_limit_in_words(
    api: OpenAIServer, workdir: str, status: int, code: str, words: str
) -> None:
    api.fail_with = status
    # One retry instead of the default four (request) and five (stream).
    (Path(os.environ["CODEX_HOME"]) / "config.toml").write_text(api.config_toml(retries=1))
    host = RecordingHost(workdir, options=CodexAgent.check_options({}))
    agent = CodexAgent(host)
    end = await turn(agent, host, "hello")
    assert end["status"] == "error"
    (error,) = host.of("error", code=code)
    assert words in error["message"] and "Codex CLI" in error["message"], error
    assert host.of("status")[-1]["reason"] == code


@pytest.mark.parametrize(
    "options", [{"permission_mode": "workspace-write"}, {"permission_mode": "read-only"}, {"approval": "auto_review"}]
)
async def test_sandbox_and_approval_options_are_accepted(
    api: OpenAIServer, workdir: str, options: dict[str, str]
) -> None:
    api.queue(ResponseReply.exec_command("echo sandboxed"), ResponseReply.message("ok"), ResponseReply.message("again"))
    host = RecordingHost(workdir, options=CodexAgent.check_options(options))
    agent = CodexAgent(host)
    end = await turn(agent, host, "run it")
    assert end["status"] == "success", host.brief()
    assert host.of("tool_result")[0]["output"].strip() == "sandboxed"
    end = await turn(agent, host, "resumed with the same flags")  # `resume` must accept them too
    assert end["status"] == "success", host.brief()
