"""The real OpenCode CLI (installed from npm by tests/fakes/install_opencode.sh) driven through OpenCodeAgent and
through a headless runner, offline, against the scripted Messages API on loopback (tests/fakes/anthropic_server.py):
a text turn, a resumed second turn, a shell command the CLI runs, an interrupt, and the API's errors in words.

How the CLI is pointed at loopback: OPENCODE_CONFIG_CONTENT defines a custom provider (the bundled
`@ai-sdk/anthropic` SDK with `options.baseURL` on 127.0.0.1 and a model of our own, so nothing depends on the model
list embedded in the binary). State goes to temporary XDG folders; OPENCODE_DISABLE_MODELS_FETCH stops the model
list download, and a seeded config folder stops the background `npm install` of its plugin package. The CLI is found
(or installed) by tests/runner/agents/real_cli.py.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.agents.opencode import OpenCodeAgent
from tests.conftest import HeadlessRunner
from tests.fakes.anthropic_server import AnthropicServer, Reply
from tests.runner.agents.real_cli import REFUSALS, RealCli

MODEL = "scripted/scripted-model"
CLI = RealCli(OpenCodeAgent, "install_opencode.sh", "opencode", login_words="opencode auth login",
              options={"model": MODEL})
make, turn = CLI.make, CLI.turn

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def opencode_bin() -> str:
    return CLI.path()


def offline_env(root: Path, api_url: str) -> dict[str, str]:
    """The environment that keeps OpenCode on loopback with its state under `root`."""
    config = root / "config" / "opencode"
    (config / "node_modules").mkdir(parents=True, exist_ok=True)
    # With the plugin package already "installed", OpenCode does not run npm in the background on every start.
    deps = {"@opencode-ai/plugin": "*"}
    (config / "package.json").write_text(json.dumps({"dependencies": deps}))
    (config / "package-lock.json").write_text(
        json.dumps({"lockfileVersion": 3, "packages": {"": {"dependencies": deps}}})
    )
    (root / "home").mkdir(exist_ok=True)
    provider = {
        "npm": "@ai-sdk/anthropic",
        "name": "Scripted",
        "options": {"baseURL": f"{api_url}/v1", "apiKey": "dummy"},
        "models": {"scripted-model": {"name": "Scripted model", "tool_call": True}},
    }
    content = {
        "provider": {"scripted": provider},
        "model": MODEL,
        "small_model": MODEL,
        "autoupdate": False,
        "share": "disabled",
        "permission": {"webfetch": "deny"},
    }
    return {
        "HOME": str(root / "home"),
        "XDG_CONFIG_HOME": str(root / "config"),
        "XDG_DATA_HOME": str(root / "data"),
        "XDG_CACHE_HOME": str(root / "cache"),
        "XDG_STATE_HOME": str(root / "state"),
        "OPENCODE_CONFIG_CONTENT": json.dumps(content),
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "OPENCODE_DISABLE_PROJECT_CONFIG": "1",
    }


@pytest.fixture
def api(
    opencode_bin: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[AnthropicServer]:
    with AnthropicServer() as server:
        for var, value in offline_env(tmp_path / "oc", server.url).items():
            monkeypatch.setenv(var, value)
        monkeypatch.setenv("NIGHTSHIFT_OPENCODE_PATH", opencode_bin)
        for var in ("OPENCODE_CONFIG", "OPENCODE_CONFIG_DIR", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
            monkeypatch.delenv(var, raising=False)
        CLI.describe(request)
        yield server


def user_texts(body: dict[str, Any]) -> list[str]:
    out = []
    for m in body.get("messages", []):
        content = m.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        for b in blocks:
            if m.get("role") == "user" and b.get("type") == "text":
                out.append(b["text"])
            elif b.get("type") == "tool_result":
                c = b.get("content")
                out.append(c if isinstance(c, str) else json.dumps(c))
    return out


async def test_turn_then_resumed_turn(api: AnthropicServer, workdir: str) -> None:
    api.queue(Reply.text("First reply."), Reply.text("Second reply."))
    agent, host = make(workdir)
    # Over Linux's 128 KiB limit for one argument, starts like a flag, and has spaces (which `run` would quote
    # if the prompt were one argument).
    prompt = "--version and " + "z" * 200_000
    end = await turn(agent, host, prompt)
    assert end["status"] == "success", host.brief()
    assert host.text() == "First reply."
    assert end["usage"]["output"] >= 1
    sid = host.state["agent_session_id"]
    assert sid.startswith("ses_")
    assert user_texts(api.requests[0])[-1] == prompt  # exactly what was sent
    end = await turn(agent, host, "and the second")
    assert end["status"] == "success", host.brief()
    assert host.messages()[-1][1] == "Second reply."
    sent = user_texts(api.requests[-1])
    assert prompt in sent and sent[-1] == "and the second"  # resumed: the history went along
    assert host.state["agent_session_id"] == sid and len(host.of("agent_session")) == 1
    assert host.statuses() == ["running", "idle", "running", "idle"]


async def test_shell_command_run_by_the_cli(api: AnthropicServer, workdir: str) -> None:
    api.queue(
        Reply.tool_use("bash", {"command": "echo hi-from-opencode", "description": "Say hi"}),
        Reply.text("It printed hi."),
    )
    agent, host = make(workdir)
    end = await turn(agent, host, "run echo")
    assert end["status"] == "success", host.brief()
    (call,) = host.of("tool_call")
    assert call["name"] == "bash" and call["input"]["command"] == "echo hi-from-opencode"
    (result,) = host.of("tool_result")
    assert result["tool_id"] == call["tool_id"] and result["output"].strip() == "hi-from-opencode"
    assert result["is_error"] is False
    assert any("hi-from-opencode" in t for t in user_texts(api.requests[-1]))  # the output went to the model
    assert host.messages()[-1][1] == "It printed hi."


async def test_interrupt_then_next_turn(api: AnthropicServer, workdir: str) -> None:
    api.queue(Reply.slow_text(words=2000, delay=0.05), Reply.text("After the interrupt."))
    agent, host = make(workdir)
    host.emit("user", text="long story")
    # As in a runner started in the background by a shell: SIGINT ignored, which the CLI inherits and keeps.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        await agent.send("long story")
    finally:
        signal.signal(signal.SIGINT, previous)
    # OpenCode prints text only once a part is complete: interrupt while the reply is streaming.
    await host.wait_for(lambda: api.requests, timeout=180, what="the CLI's request")
    await agent.interrupt()
    end = await host.wait_event("turn_end", timeout=60)
    assert end["status"] == "interrupted", host.brief()
    await host.wait_for(lambda: host.status == "idle" and not agent.busy, timeout=60)
    assert api.streams_cut >= 1 or not host.text()
    end = await turn(agent, host, "next")
    assert end["status"] == "success", host.brief()
    assert host.messages()[-1][1] == "After the interrupt."


async def test_resume_of_a_session_the_cli_does_not_have(api: AnthropicServer, workdir: str) -> None:
    await CLI.check_lost_session(api, workdir, lost="ses_0000000000000000000dead")


async def test_through_a_headless_runner(api: AnthropicServer, headless: HeadlessRunner, workdir: str) -> None:
    await CLI.check_over_a_headless_runner(api, headless, workdir)


@pytest.mark.parametrize(("status", "code"), REFUSALS)
async def test_refused_key_and_rate_limit_in_words(api: AnthropicServer, workdir: str, status: int, code: str) -> None:
    await CLI.check_refusal(api, workdir, status, code)  # 429 comes with retry-after: 1: the retries end soon
