"""The real agent CLIs in the offline end-to-end tests: finding (installing if need be) a CLI, and what the tests of
the per-turn agents (Codex, Gemini, OpenCode) share: a turn, a session the CLI lost, the API refusing the key or
limiting the rate, and two turns through a headless runner.

The CLIs come from the npm registry through tests/fakes/install_*.sh into <repo>/.cache, unless NIGHTSHIFT_<NAME>_PATH
(as scripts/setup.sh exports) or NIGHTSHIFT_REAL_<NAME> names one. When one cannot be installed the tests skip with
the reason on a developer's machine, but fail under CI=true: CI must never pass by silently testing nothing.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runner.agents.turn import TurnCliAgent
from tests.conftest import TOKEN, HeadlessRunner
from tests.fakes.recording_host import RecordingHost
from tests.fakes.scripted_server import ScriptedServer
from tests.fakes.view_client import ViewClient

REPO = Path(__file__).resolve().parents[3]
LOST_SESSION = "3f2a9c1d-0000-4000-8000-00000000dead"
# (HTTP status the scripted API answers with, the error code the agent must journal)
REFUSALS = [(401, "auth_required"), (429, "rate_limited")]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> None:
    print(reason)
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the real CLI tests must run)")
    pytest.skip(reason)


def real_cli(label: str, override_vars: str | Sequence[str], installer: str, default_bin: Path) -> str:
    """The CLI's path: the first of `override_vars` that is set, else `default_bin`, installed by
    tests/fakes/`installer` first."""
    for var in (override_vars,) if isinstance(override_vars, str) else override_vars:
        override = os.environ.get(var)
        if override:
            if not os.access(override, os.X_OK):
                _unavailable(f"{var}={override} is not an executable")
            return override
    if default_bin.exists():
        return str(default_bin)
    try:
        done = subprocess.run(
            ["sh", str(REPO / "tests" / "fakes" / installer)], capture_output=True, text=True, timeout=900, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        reason = f"{label} cannot be installed: {exc}"
    else:
        if done.returncode == 0 and default_bin.exists():
            return str(default_bin)
        reason = f"{label} cannot be installed (exit {done.returncode}): {done.stderr.strip()[-500:]}"
    _unavailable(reason)
    raise AssertionError("unreachable")  # _unavailable skips or fails


@dataclass
class RealCli:
    """One per-turn agent with its real CLI, for that CLI's end-to-end tests."""

    agent: type[TurnCliAgent]
    installer: str
    cache: str
    """The folder under <repo>/.cache its installer uses."""
    login_words: str
    """What the message of an auth_required error must say (the CLI's way to sign in)."""
    options: dict[str, Any] = field(default_factory=dict)
    """Create options of every test (a model the scripted server answers for)."""

    def path(self) -> str:
        name = self.agent.name.upper()
        default_bin = REPO / ".cache" / self.cache / "node_modules" / ".bin" / self.agent.executable
        return real_cli(self.agent.label, (self.agent.env_var, f"NIGHTSHIFT_REAL_{name}"), self.installer, default_bin)

    def describe(self, request: pytest.FixtureRequest) -> None:
        """Put the CLI's version in the test's report: a failure after a CLI update then says which broke what."""
        info = self.agent.detect()
        request.node.add_report_section(
            "setup", "real CLI", f"{info.label} {info.version} at {info.path}. {info.warning or 'A tested version.'}"
        )

    def make(
        self, workdir: str, state: dict[str, Any] | None = None, **options: Any
    ) -> tuple[TurnCliAgent, RecordingHost]:
        host = RecordingHost(workdir, options=self.agent.check_options({**self.options, **options}), state=state)
        return self.agent(host), host

    @staticmethod
    async def turn(agent: TurnCliAgent, host: RecordingHost, text: str) -> dict[str, Any]:
        """Send `text` as the session does and wait for its turn_end and the end of the turn's process."""
        n = len(host.of("turn_end")) + 1
        host.emit("user", text=text)
        await agent.send(text)
        end = await host.wait_event("turn_end", count=n, timeout=180)
        await host.wait_for(lambda: not agent.busy, timeout=60, what="the turn's process to end")
        return end

    async def check_lost_session(self, api: ScriptedServer[Any], workdir: str, lost: str = LOST_SESSION) -> None:
        """Resuming a session the CLI does not have: said once, the id forgotten, and the next message starts a new
        session that works."""
        api.queue(api.text_reply("A new session."))
        agent, host = self.make(workdir, state={"agent_session_id": lost})
        await self.turn(agent, host, "hello?")
        assert host.of("error", code="resume_failed"), host.brief()
        assert host.state["agent_session_id"] is None
        end = await self.turn(agent, host, "hello again")
        assert end["status"] == "success", host.brief()
        assert host.messages()[-1][1] == "A new session."
        assert host.state["agent_session_id"] not in (None, lost)

    async def check_refusal(self, api: ScriptedServer[Any], workdir: str, status: int, code: str) -> RecordingHost:
        """The API refusing the key (401) or limiting the rate (429): one error in words with what to do, and the
        session's status says why."""
        api.fail_with = status
        agent, host = self.make(workdir)
        await self.turn(agent, host, "hello")
        (error,) = host.of("error", code=code)
        words = self.login_words if code == "auth_required" else "rate limit"
        assert words in error["message"] and self.agent.label in error["message"], error
        assert host.of("status")[-1]["reason"] == code
        return host

    async def check_over_a_headless_runner(
        self, api: ScriptedServer[Any], headless: HeadlessRunner, workdir: str
    ) -> None:
        """Two turns of a session created over the protocol: the second resumes the first's session."""
        replies = ("Hi over the wire.", "Again over the wire.")
        api.queue(*(api.text_reply(text) for text in replies))
        client = await ViewClient.open(headless.start(), TOKEN)
        try:
            await client.request({"type": "hello", "protocol": 1})
            infos = {a["name"]: a for a in (await client.request({"type": "agents"}))["agents"]}
            info = infos[self.agent.name]
            assert info["available"] and info["version"], info["reason"]
            reply = await client.request({"type": "create", "agent": self.agent.name, "cwd": workdir, **self.options})
            sid = reply["session"]["id"]
            await client.request({"type": "attach", "session": sid})

            def kinds(kind: str) -> list[dict[str, Any]]:
                return [e for e in client.events.get(sid, []) if e["kind"] == kind]

            for n, text in enumerate(("hello", "again"), 1):
                await client.request({"type": "send", "session": sid, "text": text, "client_msg_id": f"w{n}"})
                await client.wait_for(lambda n=n: len(kinds("turn_end")) >= n, timeout=180)
            assert [e["status"] for e in kinds("turn_end")] == ["success", "success"]
            assert "".join(e["text"] for e in kinds("assistant")) == "".join(replies)
            assert len(kinds("agent_session")) == 1  # the second turn resumed the first's session
            await client.request({"type": "stop", "session": sid})
        finally:
            await client.close()

