"""Codex, Gemini and OpenCode agents (one CLI process per turn) driving their fake CLIs: resume of the agent's
own session, every failure mode of the fakes, interrupt, stop, queued messages."""

from __future__ import annotations

import re

import pytest

from runner.agents.base import AgentError
from runner.agents.codex import CodexAgent
from runner.agents.gemini import GeminiAgent
from runner.agents.opencode import OpenCodeAgent
from runner.agents.turn import TurnCliAgent
from tests.fakes.recording_host import RecordingHost
from tests.runner.agents.helpers import ArgvLog, pid_alive

AGENTS = [CodexAgent, GeminiAgent, OpenCodeAgent]


def make(cls: type[TurnCliAgent], workdir: str, **options: object) -> tuple[TurnCliAgent, RecordingHost]:
    host = RecordingHost(workdir, options=cls.check_options(options))
    return cls(host), host


async def turn(agent: TurnCliAgent, host: RecordingHost, text: str) -> dict:
    n = len(host.of("turn_end")) + 1
    host.emit("user", text=text)
    await agent.send(text)
    await host.wait_event("turn_end", count=n)
    # The turn is over when the process is gone and the status says so.
    await host.wait_for(lambda: not agent.busy, what="the turn's process to end")
    return host.of("turn_end")[n - 1]


def resume_arg(cls: type[TurnCliAgent], argv: list[str]) -> str | None:
    if cls is CodexAgent:
        return argv[argv.index("resume") + 1] if "resume" in argv else None
    flag = "--resume=" if cls is GeminiAgent else "--session="
    found = [a[len(flag) :] for a in argv if a.startswith(flag)]
    return found[0] if found else None


@pytest.mark.parametrize("cls", AGENTS)
async def test_two_turns_resume_the_agents_session(cls: type[TurnCliAgent], fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(cls, workdir, model="fake-model-1")
    end = await turn(agent, host, "hello")
    assert end["status"] == "success"
    assert host.text() == "Echo: hello"
    sid = host.state["agent_session_id"]
    assert host.of("agent_session")[0]["agent_session_id"] == sid
    assert host.statuses() == ["running", "idle"]
    assert not agent.running

    await turn(agent, host, "-starts with a dash --version")
    assert host.messages()[-1][1] == "Echo: -starts with a dash --version"  # never read as a flag
    first, second = fake_clis.calls()
    assert resume_arg(cls, first) is None and resume_arg(cls, second) == sid
    assert "--model=fake-model-1" in first and "--model=fake-model-1" in second
    assert len(host.of("agent_session")) == 1
    assert host.status == "idle"


async def test_codex_maps_every_item_type(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(CodexAgent, workdir)
    end = await turn(agent, host, "mode:tool")
    assert end["usage"] == {"input_tokens": 20, "cached_input_tokens": 0, "output_tokens": 7}
    # Item ids restart every turn, so the agent prefixes them: key by the item id part.
    calls = {e["tool_id"].split(":")[-1]: e for e in host.of("tool_call")}
    results = {e["tool_id"].split(":")[-1]: e for e in host.of("tool_result")}
    assert {e["tool_id"] for e in host.of("tool_call")} == {e["tool_id"] for e in host.of("tool_result")}
    assert calls["item_1"]["name"] == "command" and calls["item_1"]["input"] == {"command": "bash -lc 'echo hi'"}
    assert results["item_1"]["output"] == "hi\n" and results["item_1"]["exit_code"] == 0
    assert not results["item_1"]["is_error"]
    assert calls["item_2"]["name"] == "file_change" and results["item_2"]["output"] == "add a.txt\nupdate b.txt"
    assert calls["item_3"]["name"] == "docs.search" and calls["item_3"]["input"] == {"q": "x"}
    assert results["item_3"] == {**results["item_3"], "is_error": True, "output": "server down"}
    assert calls["item_4"]["input"] == {"query": "python asyncio"}
    assert calls["item_5"]["name"] == "todo_list" and results["item_5"]["output"] == "[x] read\n[ ] write"
    assert len(host.of("tool_call")) == 5 and len(host.of("tool_result")) == 5  # updates do not repeat calls
    assert host.of("error") == [{**host.of("error")[0], "message": "model metadata not found"}]
    assert host.text("thinking") == "**Thinking** about the prompt"
    assert host.text() == "Echo: mode:tool"


async def test_gemini_maps_deltas_tools_and_warnings(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(GeminiAgent, workdir)
    end = await turn(agent, host, "mode:tool")
    assert end["usage"]["total_tokens"] == 30 and end["duration_ms"] == 17
    # Deltas before the tool calls are one message, deltas after them another.
    assert [t for _, t in host.messages()] == ["Let me look.", "Echo: mode:tool"]
    assert [(e["name"], e["input"]) for e in host.of("tool_call")] == [
        ("read_file", {"path": "a.txt"}),
        ("run_shell_command", {"command": "x"}),
    ]
    ok, failed = host.of("tool_result")
    assert ok["output"] == "contents of a" and not ok["is_error"]
    assert failed["output"] == "command not found" and failed["is_error"]
    assert host.of("error")[0] == {**host.of("error")[0], "severity": "warning"}
    assert host.of("user") == [{**host.of("user")[0], "text": "mode:tool"}]  # the CLI's echo is not repeated


async def test_opencode_maps_parts_and_sums_steps(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(OpenCodeAgent, workdir)
    end = await turn(agent, host, "mode:tool mode:multi")
    assert end["status"] == "success" and end["cost_usd"] == pytest.approx(0.003) and end["num_turns"] == 2
    assert end["usage"]["input"] == 30 and end["usage"]["cache"] == {"read": 0, "write": 0}
    messages = host.messages()
    assert messages[0][1] == "Part one. Part two."  # two whole text parts of one message
    assert host.text("thinking") == "Thinking it over."
    assert [(e["tool_id"], e["name"]) for e in host.of("tool_call")] == [
        ("call_1", "bash"),
        ("call_2", "read"),
    ]
    ok, failed = host.of("tool_result")
    assert ok["output"] == "a.txt\nb.txt" and failed == {
        **failed,
        "is_error": True,
        "output": "File not found",
    }


@pytest.mark.parametrize("cls", AGENTS)
async def test_line_over_one_megabyte(cls: type[TurnCliAgent], fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(cls, workdir)
    await turn(agent, host, "mode:big")
    assert len(host.of("tool_result")[0]["output"]) == 1_500_000


@pytest.mark.parametrize("cls", AGENTS)
async def test_stderr_noise(cls: type[TurnCliAgent], fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(cls, workdir)
    end = await turn(agent, host, "mode:stderr")
    assert end["status"] == "success"
    assert host.of("output", stream="stderr")[0]["text"].startswith("[fake] debug noise")
    assert host.text() == "Echo: mode:stderr" and host.of("error") == []


@pytest.mark.parametrize("cls", AGENTS)
async def test_non_utf8_bytes(cls: type[TurnCliAgent], fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(cls, workdir)
    await turn(agent, host, "mode:badutf8")
    assert "\ufffd" in host.text() and host.text().endswith(" end")
    assert host.status == "idle"


@pytest.mark.parametrize("cls", AGENTS)
async def test_exit_mid_stream(cls: type[TurnCliAgent], fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(cls, workdir)
    end = await turn(agent, host, "mode:crash")
    assert end == {**end, "status": "error", "exit_code": 3}
    error = host.of("error", code="agent_exited")[0]
    assert error["exit_code"] == 3
    assert host.status == "error" and host.of("status")[-1]["exit_code"] == 3
    # The next message still works, resuming the same agent session.
    end = await turn(agent, host, "again")
    assert end["status"] == "success" and host.status == "idle"
    assert resume_arg(cls, fake_clis.calls()[-1]) == host.state["agent_session_id"]


@pytest.mark.parametrize("cls", AGENTS)
async def test_failed_turn(cls: type[TurnCliAgent], fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(cls, workdir)
    end = await turn(agent, host, "mode:fail")
    assert end["status"] == "error"
    assert host.of("error") and host.status == "error"


@pytest.mark.parametrize("cls", AGENTS)
async def test_interrupt_a_hanging_turn(cls: type[TurnCliAgent], fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(cls, workdir)
    host.emit("user", text="mode:slow")
    await agent.send("mode:slow")
    await host.wait_event("agent_session")
    assert host.status == "running"
    await agent.interrupt()
    end = await host.wait_event("turn_end")
    assert end["status"] == "interrupted"
    await host.wait_for(lambda: host.status == "idle")
    assert host.of("status")[-1]["reason"] == "interrupted"
    assert host.of("error") == []
    with pytest.raises(AgentError):
        await agent.interrupt()  # nothing runs any more


@pytest.mark.slow
@pytest.mark.parametrize("cls", AGENTS)
async def test_stop_a_cli_that_ignores_sigterm(cls: type[TurnCliAgent], fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(cls, workdir)
    await agent.send("mode:ignore_term")
    await host.wait_event("agent_session")
    assert agent._proc is not None
    pgid = agent._proc.pgid
    await agent.stop()
    assert not pid_alive(pgid) and not agent.running
    assert host.status == "idle" and host.of("status")[-1]["reason"] == "stopped"


@pytest.mark.parametrize("cls", AGENTS)
async def test_grandchild_does_not_outlive_the_turn(cls: type[TurnCliAgent], fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(cls, workdir)
    await turn(agent, host, "mode:grandchild")
    pid = int(re.search(r"grandchild=(\d+)", host.text()).group(1))
    assert not pid_alive(pid)  # the turn's process group went with the turn


@pytest.mark.parametrize("cls", AGENTS)
async def test_messages_sent_during_a_turn_run_next_in_order(
    cls: type[TurnCliAgent], fake_clis: ArgvLog, workdir: str
) -> None:
    agent, host = make(cls, workdir)
    for text in ("one mode:stderr", "two", "three"):
        await agent.send(text)
    await host.wait_event("turn_end", count=3)
    await host.wait_for(lambda: not agent.busy)
    assert [t for _, t in host.messages()] == ["Echo: one mode:stderr", "Echo: two", "Echo: three"]
    assert host.statuses() == ["running", "idle"] * 3


@pytest.mark.parametrize("cls", AGENTS)
async def test_stop_drops_queued_messages(cls: type[TurnCliAgent], fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(cls, workdir)
    await agent.send("mode:hang")
    await agent.send("queued")
    await host.wait_event("agent_session")
    await agent.stop()
    assert len(fake_clis.calls()) == 1 and host.status == "idle"


async def test_nul_in_prompt_is_refused(fake_clis: ArgvLog, workdir: str) -> None:
    agent, _ = make(CodexAgent, workdir)
    with pytest.raises(AgentError) as exc:
        await agent.send("a\0b")
    assert exc.value.code == "bad_request" and fake_clis.calls() == []


async def test_configure_model_and_mode_apply_to_the_next_turn(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(GeminiAgent, workdir)
    await turn(agent, host, "one")
    await agent.configure({"model": "gemini-other", "permission_mode": "yolo"})
    await turn(agent, host, "two")
    assert "--model=gemini-other" in fake_clis.calls()[-1] and "--approval-mode=yolo" in fake_clis.calls()[-1]
    assert not any(a.startswith(("--model", "--approval-mode")) for a in fake_clis.calls()[0])
    assert host.options == {"model": "gemini-other", "permission_mode": "yolo"}
    with pytest.raises(AgentError):
        await agent.configure({"permission_mode": "--yolo"})
    codex, _ = make(CodexAgent, workdir)
    with pytest.raises(AgentError):
        await codex.configure({"permission_mode": "plan"})


@pytest.mark.parametrize("cls", AGENTS)
async def test_resume_of_a_session_the_cli_lost(
    cls: type[TurnCliAgent], fake_clis: ArgvLog, workdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = RecordingHost(workdir, options=cls.check_options({}), state={"agent_session_id": "lost-1234"})
    agent = cls(host)
    monkeypatch.setenv("FAKE_CLI_MODES", "forget")
    await turn(agent, host, "hello?")
    assert host.of("error", code="resume_failed") and host.status == "error"
    assert host.state["agent_session_id"] is None
    monkeypatch.delenv("FAKE_CLI_MODES")
    end = await turn(agent, host, "hello again")
    assert end["status"] == "success" and resume_arg(cls, fake_clis.calls()[-1]) is None
    assert host.state["agent_session_id"] not in (None, "lost-1234")


@pytest.mark.parametrize("cls", AGENTS)
async def test_prompt_of_any_size_goes_on_stdin(cls: type[TurnCliAgent], fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(cls, workdir)
    prompt = "long " + "z" * 300_000  # over Linux's 128 KiB limit for one argument
    await turn(agent, host, prompt)
    assert host.text() == f"Echo: {prompt}"
    assert all(len(a) < 1000 for a in fake_clis.calls()[0])


async def test_codex_sandbox_and_approval_on_every_turn(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(CodexAgent, workdir, permission_mode="workspace-write")
    await turn(agent, host, "one")
    await agent.configure({"permission_mode": "read-only"})
    await turn(agent, host, "two")
    first, second = fake_clis.calls()
    assert "--sandbox=workspace-write" in first and "--approve-for-me" not in first
    # Given before `resume`, whose subcommand does not take --sandbox.
    assert second.index("--sandbox=read-only") < second.index("resume")
    agent, host = make(CodexAgent, workdir, approval="auto_review")
    await turn(agent, host, "three")
    third = fake_clis.calls()[-1]
    assert "--approve-for-me" in third and not any(a.startswith("--sandbox") for a in third)
    bad_options = (
        {"permission_mode": "yolo"},
        {"approval": "always"},
        {"approval": ["never"]},
        {"approval": "auto_review", "permission_mode": "read-only"},  # the CLI refuses the pair
    )
    for bad in bad_options:
        with pytest.raises(AgentError):
            CodexAgent.check_options(bad)
    assert CodexAgent.detect().options == {"approval": ["never", "auto_review"]}
