"""ClaudeAgent driving the fake Claude Code CLI (tests/fakes/fake_claude.py): every mode of the fake, with the
transcript and the session state it leaves."""

from __future__ import annotations

import asyncio
import re

import pytest

from runner.agents.base import AgentError
from runner.agents.claude import ClaudeAgent
from tests.fakes.fake_common import HUGE_UTF8_TEXT, big_text
from tests.fakes.recording_host import RecordingHost
from tests.runner.agents.helpers import ArgvLog, pid_alive


def make(workdir: str, **options: object) -> tuple[ClaudeAgent, RecordingHost]:
    host = RecordingHost(workdir, options=ClaudeAgent.check_options(options))
    return ClaudeAgent(host), host


async def turn(agent: ClaudeAgent, host: RecordingHost, text: str, count: int | None = None) -> dict:
    n = len(host.of("turn_end")) + 1 if count is None else count
    host.emit("user", text=text)  # what the session does before send()
    await agent.send(text)
    return await host.wait_event("turn_end", count=n)


async def test_plain_turn_text_exactly_once_and_session_id_saved(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir)
    try:
        end = await turn(agent, host, "hello there")
        assert host.text() == "Echo: hello there"  # deltas only; the whole assistant line is not repeated
        assert len(host.messages()) == 1
        assert end["status"] == "success" and end["cost_usd"] == pytest.approx(0.0125)
        assert end["duration_ms"] == 42 and end["usage"]["output_tokens"] == 9
        sid = host.of("agent_session")[0]["agent_session_id"]
        assert host.state["agent_session_id"] == sid
        assert host.statuses() == ["running", "idle"]
        assert agent.running  # one long-lived process per session

        pid = agent._proc.pid if agent._proc else None
        end2 = await turn(agent, host, "second")
        assert end2["cost_usd"] == pytest.approx(0.0125)  # per turn, though the CLI reports a running total
        assert end2["total_cost_usd"] == pytest.approx(0.025)
        assert agent._proc is not None and agent._proc.pid == pid
        assert [t for _, t in host.messages()] == ["Echo: hello there", "Echo: second"]
        assert len(host.of("agent_session")) == 1
        argv = fake_clis.calls()[0]
        assert "--include-partial-messages" in argv and "--permission-prompt-tool" in argv
        assert not any(a.startswith("--resume") for a in argv)
        assert not any("hello" in a for a in argv)  # prompts never go on the command line
    finally:
        await agent.stop()
    assert host.status == "idle" and host.of("status")[-1]["reason"] == "stopped"


async def test_several_assistant_lines_share_one_message_id(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir)
    try:
        await turn(agent, host, "mode:multi")
        assert host.messages() == [(host.messages()[0][0], "First part. Second part.")]
        assert host.text("thinking") == "Let me think about it."
        assert host.messages("thinking")[0][0] == host.messages()[0][0]
    finally:
        await agent.stop()


async def test_tool_call_from_input_json_delta_fragments(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir)
    try:
        await turn(agent, host, "mode:tool")
        calls = host.of("tool_call")
        assert len(calls) == 1
        assert calls[0]["name"] == "Bash"
        assert calls[0]["input"] == {"command": "echo fake-tool", "description": 'a "quoted" {tricky} input'}
        results = host.of("tool_result")
        expected = {**results[0], "tool_id": calls[0]["tool_id"], "output": "fake-tool", "is_error": False}
        assert results == [expected]
        assert host.text() == "Running a tool.Tool finished."
        kinds = [e["kind"] for e in host.events if e["kind"] in ("tool_call", "tool_result", "turn_end")]
        assert kinds == ["tool_call", "tool_result", "turn_end"]
    finally:
        await agent.stop()


async def test_line_over_one_megabyte(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir)
    try:
        await turn(agent, host, "mode:big")
        (result,) = host.of("tool_result")
        assert len(result["output"]) == 1_500_000
        assert result["output"].startswith("0123456789abcdef")
        assert host.of("turn_end")[0]["status"] == "success"
    finally:
        await agent.stop()


async def test_line_over_the_readers_limit_is_joined(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir)
    try:
        await turn(agent, host, "mode:huge")
        (result,) = host.of("tool_result")
        assert result["output"] == big_text(20_000_000)  # whole, though the reader cut it at 16 MiB
        assert host.of("output") == [] and host.of("error") == []
    finally:
        await agent.stop()


async def test_line_over_the_readers_limit_in_multibyte_characters_is_joined_exactly(
    fake_clis: ArgvLog, workdir: str
) -> None:
    agent, host = make(workdir)
    try:
        await turn(agent, host, "mode:hugeutf8")
        (result,) = host.of("tool_result")
        assert "\ufffd" not in result["output"]  # cut inside a character, it would gain replacement characters
        assert result["output"] == HUGE_UTF8_TEXT
        assert host.of("output") == [] and host.of("error") == []
    finally:
        await agent.stop()


async def test_stderr_noise_is_kept_apart_from_the_transcript(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir)
    try:
        await turn(agent, host, "mode:stderr")
        assert host.text() == "Echo: mode:stderr"
        noise = [e["text"] for e in host.of("output", stream="stderr")]
        assert "[fake] debug noise turn start" in noise and len(noise) >= 3
        assert host.of("error") == []
        assert host.status == "idle"
    finally:
        await agent.stop()


async def test_non_utf8_bytes_are_replaced_and_the_session_goes_on(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir)
    try:
        await turn(agent, host, "mode:badutf8")
        text = host.text()
        assert text.startswith("bad bytes here: ") and text.endswith(" end")
        assert "\ufffd" in text
        await turn(agent, host, "after")
        assert host.messages()[-1][1] == "Echo: after"
    finally:
        await agent.stop()


async def test_exit_mid_stream_reports_error_and_next_send_resumes(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir)
    try:
        await turn(agent, host, "first")
        sid = host.state["agent_session_id"]
        host.emit("user", text="mode:crash")
        await agent.send("mode:crash")
        await host.wait_status("error")
        (error,) = host.of("error")
        assert error["code"] == "agent_exited" and error["exit_code"] == 3
        assert "fatal: the fake crashed on purpose" in error["message"]
        assert host.of("status")[-1]["exit_code"] == 3
        assert host.text().endswith("partial")  # what streamed before the crash stays
        assert not agent.running

        end = await turn(agent, host, "again")
        assert end["status"] == "success"
        assert fake_clis.calls()[-1][-1] == f"--resume={sid}"
        assert host.statuses()[-2:] == ["running", "idle"]
    finally:
        await agent.stop()


async def test_hanging_cli_is_stopped(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir)
    host.emit("user", text="mode:hang")
    await agent.send("mode:hang")
    await host.wait_event("agent_session")
    assert host.status == "running"
    await agent.stop()
    assert host.status == "idle" and host.of("status")[-1]["reason"] == "stopped"
    assert not agent.running and host.of("turn_end") == []


@pytest.mark.slow
async def test_cli_ignoring_sigterm_is_killed(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir)
    await turn(agent, host, "mode:ignore_term")
    assert agent._proc is not None
    pgid = agent._proc.pgid
    await agent.stop()  # stdin EOF, SIGTERM (ignored), SIGKILL after the grace period
    assert not agent.running and not pid_alive(pgid)
    assert host.of("status")[-1]["reason"] == "stopped"


async def test_grandchild_is_reaped_on_stop(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir)
    await turn(agent, host, "mode:grandchild")
    pid = int(re.search(r"grandchild=(\d+)", host.text()).group(1))
    assert pid_alive(pid)
    await agent.stop()
    assert not pid_alive(pid)


async def test_claudecode_variable_is_removed(
    fake_clis: ArgvLog, workdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDECODE", "1")  # the fake refuses to start when it sees it, like the real CLI
    agent, host = make(workdir)
    try:
        end = await turn(agent, host, "nested?")
        assert end["status"] == "success"
    finally:
        await agent.stop()


async def test_subagent_lines_carry_parent_tool_id(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir)
    try:
        await turn(agent, host, "mode:subagent")
        (task,) = host.of("tool_call", name="Task")
        sub = [e for e in host.events if e.get("parent_tool_id") == task["tool_id"]]
        assert [(e["kind"], e["text"]) for e in sub] == [
            ("user", "list files"),
            ("assistant", "Subagent says hi."),
        ]
        top = [e for e in host.of("assistant") if "parent_tool_id" not in e]
        assert "".join(e["text"] for e in top) == "Done with the subagent."
    finally:
        await agent.stop()


async def test_permission_allow(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir)
    try:
        host.emit("user", text="mode:permission")
        await agent.send("mode:permission")
        request = await host.wait_event("permission_request")
        assert request["tool_name"] == "Bash" and request["input"] == {"command": "touch made-by-fake"}
        await host.wait_status("needs_approval")
        assert list(host.state["pending_permissions"]) == [request["request_id"]]
        await asyncio.sleep(0.3)
        assert host.of("turn_end") == []  # it waits: no auto-deny, no timeout
        with pytest.raises(AgentError) as bad:
            await agent.answer("no-such-request", "allow", None)
        assert bad.value.code == "unknown_request"
        await agent.answer(request["request_id"], "allow", None)
        end = await host.wait_event("turn_end")
        assert end["status"] == "success"
        assert host.of("permission_answer") == [
            {**host.of("permission_answer")[0], "request_id": request["request_id"], "behavior": "allow"}
        ]
        assert host.of("tool_result")[0]["output"] == "ran touch made-by-fake"
        assert host.state["pending_permissions"] == {}
        assert host.statuses() == ["running", "needs_approval", "running", "idle"]
    finally:
        await agent.stop()


async def test_permission_deny_with_message(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir)
    try:
        await agent.send("mode:permission")
        request = await host.wait_event("permission_request")
        await agent.answer(request["request_id"], "deny", "not today")
        await host.wait_event("turn_end")
        (result,) = host.of("tool_result")
        assert result["is_error"] is True and result["output"] == "not today"
        assert host.of("permission_answer")[0]["message"] == "not today"
        with pytest.raises(AgentError):
            await agent.answer(request["request_id"], "allow", None)  # answered already
    finally:
        await agent.stop()


async def test_two_open_permission_requests_answered_out_of_order(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir)
    try:
        await agent.send("mode:parallel")
        await host.wait_for(lambda: len(host.of("permission_request")) == 2, what="two permission requests")
        first, second = host.of("permission_request")
        assert first["input"] == {"command": "touch parallel-1"}
        assert second["input"] == {"command": "touch parallel-2"}
        assert set(host.state["pending_permissions"]) == {first["request_id"], second["request_id"]}
        # The newer one first: each answer must reach the request it names, not the oldest open one.
        await agent.answer(second["request_id"], "allow", None)
        assert list(host.state["pending_permissions"]) == [first["request_id"]]
        await agent.answer(first["request_id"], "deny", "not this one")
        await host.wait_event("turn_end")
        answers = {a["request_id"]: a["behavior"] for a in host.of("permission_answer")}
        assert answers == {second["request_id"]: "allow", first["request_id"]: "deny"}
        results = {r["tool_id"]: (r["output"], r["is_error"]) for r in host.of("tool_result")}
        assert results == {
            first["tool_id"]: ("not this one", True),
            second["tool_id"]: ("ran touch parallel-2", False),
        }
        assert host.state["pending_permissions"] == {}
    finally:
        await agent.stop()


async def test_interrupt_while_waiting_for_permission_withdraws_it(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir)
    try:
        await agent.send("mode:permission")
        request = await host.wait_event("permission_request")
        await agent.interrupt()
        end = await host.wait_event("turn_end")
        assert end["status"] == "interrupted"
        (answer,) = host.of("permission_answer")
        assert answer["request_id"] == request["request_id"] and answer["behavior"] == "cancelled"
        assert host.status == "idle" and host.state["pending_permissions"] == {}
    finally:
        await agent.stop()


async def test_interrupt_mid_stream_keeps_the_process(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir)
    try:
        await agent.send("mode:slow")
        await host.wait_event("assistant", count=3)
        pid = agent._proc.pid if agent._proc else None
        await agent.interrupt()
        end = await host.wait_event("turn_end")
        assert end["status"] == "interrupted" and end["reason"] == "error_during_execution"
        assert host.status == "idle"
        assert len(host.text()) < len(" ".join(f"word{i}" for i in range(2000)))
        end = await turn(agent, host, "next")
        assert end["status"] == "success" and host.messages()[-1][1] == "Echo: next"
        assert agent._proc is not None and agent._proc.pid == pid
    finally:
        await agent.stop()


async def test_stop_with_pending_permission_cancels_it(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir)
    await agent.send("mode:permission")
    request = await host.wait_event("permission_request")
    await agent.stop()
    assert host.of("permission_answer")[0] == {
        **host.of("permission_answer")[0],
        "request_id": request["request_id"],
        "behavior": "cancelled",
    }
    assert host.state["pending_permissions"] == {}
    with pytest.raises(AgentError):
        await agent.answer(request["request_id"], "allow", None)


async def test_configure_between_turns(fake_clis: ArgvLog, workdir: str) -> None:
    agent, host = make(workdir, model="sonnet", permission_mode="ask")
    try:
        await turn(agent, host, "one")
        assert "--model=sonnet" in fake_clis.calls()[0]
        pid = agent._proc.pid if agent._proc else None
        await agent.configure({"model": "opus", "permission_mode": "acceptEdits"})
        assert host.options["model"] == "opus" and host.options["permission_mode"] == "acceptEdits"
        assert agent._proc is not None and agent._proc.pid == pid  # changed in place with control requests
        # A change the running CLI refuses restarts it with the new flags at the next message.
        await agent.configure({"permission_mode": "bypassPermissions"})
        assert not agent.running
        await turn(agent, host, "two")
        argv = fake_clis.calls()[-1]
        assert "--permission-mode=bypassPermissions" in argv and "--model=opus" in argv
        assert f"--resume={host.state['agent_session_id']}" in argv
        with pytest.raises(AgentError):
            await agent.configure({"model": "-rf /"})
        with pytest.raises(AgentError):
            await agent.configure({"colour": "blue"})
    finally:
        await agent.stop()


async def test_resume_after_runner_restart(fake_clis: ArgvLog, workdir: str) -> None:
    sid = "3f2a9c1d-0000-4000-8000-000000000001"
    host = RecordingHost(
        workdir,
        options=ClaudeAgent.check_options({}),
        state={
            "agent_session_id": sid,
            "pending_permissions": {"old-req": {}},
        },
    )
    agent = ClaudeAgent(host)
    agent.resume_after_restart()
    assert host.of("permission_answer")[0]["request_id"] == "old-req"
    assert host.state["pending_permissions"] == {}
    try:
        await turn(agent, host, "continue")
        assert fake_clis.calls()[-1][-1] == f"--resume={sid}"
        assert host.of("agent_session") == []  # same id: nothing new to report
    finally:
        await agent.stop()


async def test_invalid_stored_session_id_is_never_put_on_the_command_line(fake_clis: ArgvLog, workdir: str) -> None:
    options = ClaudeAgent.check_options({})
    host = RecordingHost(workdir, options=options, state={"agent_session_id": "--evil x"})
    agent = ClaudeAgent(host)
    try:
        await turn(agent, host, "hi")
        assert not any("evil" in a for a in fake_clis.calls()[-1])
        assert host.of("error", code="bad_agent_session_id")
        assert host.state["agent_session_id"] != "--evil x"  # replaced by the new session's id
    finally:
        await agent.stop()


async def test_missing_cli_reports_unavailable(monkeypatch: pytest.MonkeyPatch, workdir: str) -> None:
    monkeypatch.setenv("NIGHTSHIFT_CLAUDE_PATH", "/nonexistent/claude")
    agent, host = make(workdir)
    await agent.send("hi")
    assert host.status == "error"
    assert host.of("error")[0]["code"] == "agent_unavailable"
    with pytest.raises(AgentError) as exc:
        await agent.interrupt()
    assert exc.value.code == "not_running"


def test_check_options() -> None:
    assert ClaudeAgent.check_options({}) == {"model": None, "permission_mode": "ask"}
    assert ClaudeAgent.check_options({"model": "claude-opus-4-1[1m]", "permission_mode": "plan"}) == {
        "model": "claude-opus-4-1[1m]",
        "permission_mode": "plan",
    }
    for bad in ({"model": "--dangerous"}, {"model": "a b"}, {"permission_mode": "yolo"}, {"model": 3}):
        with pytest.raises(AgentError):
            ClaudeAgent.check_options(bad)


async def test_resume_of_a_conversation_the_cli_lost(
    fake_clis: ArgvLog, workdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = RecordingHost(workdir, options=ClaudeAgent.check_options({}), state={"agent_session_id": "gone-1234"})
    agent = ClaudeAgent(host)
    monkeypatch.setenv("FAKE_CLI_MODES", "forget")
    host.emit("user", text="hello?")
    await agent.send("hello?")
    await host.wait_status("error")
    assert host.of("error", code="resume_failed")
    assert host.state["agent_session_id"] is None
    monkeypatch.delenv("FAKE_CLI_MODES")
    try:
        end = await turn(agent, host, "hello again")
        assert end["status"] == "success"
        assert not any(a.startswith("--resume") for a in fake_clis.calls()[-1])
        assert host.state["agent_session_id"] == host.of("agent_session")[-1]["agent_session_id"]
    finally:
        await agent.stop()
