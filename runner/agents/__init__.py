"""Agent types the runner can start. Add new ones to AGENT_TYPES."""

from __future__ import annotations

from runner.agents.base import Agent, AgentError, AgentHost, AgentInfo
from runner.agents.command import CommandAgent

AGENT_TYPES: dict[str, type[Agent]] = {
    CommandAgent.name: CommandAgent,
}

__all__ = ["AGENT_TYPES", "Agent", "AgentError", "AgentHost", "AgentInfo", "CommandAgent"]
