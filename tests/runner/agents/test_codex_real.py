"""The real Codex CLI (installed from npm by tests/fakes/install_codex.sh) driven through CodexAgent against the
scripted local Responses API server (tests/fakes/openai_server.py), offline: a turn, a resumed second turn, a
shell command the CLI runs, an interrupt, a thread the CLI lost, and the API's errors in words. The CLI is found (or
installed) by tests/runner/agents/real_cli.py."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.agents.codex import CodexAgent
from tests.fakes.openai_server import OpenAIServer, ResponseReply, texts_sent
from tests.runner.agents.real_cli import REFUSALS, RealCli

CLI = RealCli(CodexAgent, "install_codex.sh", "codex", login_words="codex login")
make, turn = CLI.make, CLI.turn

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def codex_bin() -> str:
    return CLI.path()


@pytest.fixture
def api(
    codex_bin: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
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
        CLI.describe(request)
        yield server


async def test_turn_then_resumed_turn(api: OpenAIServer, workdir: str) -> None:
    api.queue(ResponseReply.message("First reply."), ResponseReply.message("Second reply."))
    agent, host = make(workdir)
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
    agent, host = make(workdir)
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
    agent, host = make(workdir)
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
    await CLI.check_lost_session(api, workdir)


@pytest.mark.parametrize(("status", "code"), REFUSALS)
async def test_refused_key_and_rate_limit_in_words(api: OpenAIServer, workdir: str, status: int, code: str) -> None:
    # One retry instead of the default four (request) and five (stream).
    (Path(os.environ["CODEX_HOME"]) / "config.toml").write_text(api.config_toml(retries=1))
    host = await CLI.check_refusal(api, workdir, status, code)
    assert host.of("turn_end")[-1]["status"] == "error"


@pytest.mark.parametrize(
    "options", [{"permission_mode": "workspace-write"}, {"permission_mode": "read-only"}, {"approval": "auto_review"}]
)
async def test_sandbox_and_approval_options_are_accepted(
    api: OpenAIServer, workdir: str, options: dict[str, str]
) -> None:
    api.queue(ResponseReply.exec_command("echo sandboxed"), ResponseReply.message("ok"), ResponseReply.message("again"))
    agent, host = make(workdir, **options)
    end = await turn(agent, host, "run it")
    assert end["status"] == "success", host.brief()
    assert host.of("tool_result")[0]["output"].strip() == "sandboxed"
    end = await turn(agent, host, "resumed with the same flags")  # `resume` must accept them too
    assert end["status"] == "success", host.brief()
