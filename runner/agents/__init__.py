"""Agent types the runner can start. Add new ones to AGENT_TYPES."""

from __future__ import annotations

import asyncio

from runner.agents.base import Agent, AgentError, AgentHost, AgentInfo
from runner.agents.claude import ClaudeAgent
from runner.agents.codex import CodexAgent
from runner.agents.command import CommandAgent
from runner.agents.gemini import GeminiAgent
from runner.agents.opencode import OpenCodeAgent

AGENT_TYPES: dict[str, type[Agent]] = {
    CommandAgent.name: CommandAgent,
    ClaudeAgent.name: ClaudeAgent,
    CodexAgent.name: CodexAgent,
    GeminiAgent.name: GeminiAgent,
    OpenCodeAgent.name: OpenCodeAgent,
}


async def detect_agents() -> list[AgentInfo]:
    """Ask every agent type whether it can run here. detect() may run `--version`, so each runs in a thread
    and they run together; the server awaits this for `{"type":"agents"}` and the CLI for `--agents`."""
    return list(await asyncio.gather(*(asyncio.to_thread(t.detect) for t in AGENT_TYPES.values())))


__all__ = [
    "AGENT_TYPES",
    "Agent",
    "AgentError",
    "AgentHost",
    "AgentInfo",
    "ClaudeAgent",
    "CodexAgent",
    "CommandAgent",
    "GeminiAgent",
    "OpenCodeAgent",
    "detect_agents",
]
