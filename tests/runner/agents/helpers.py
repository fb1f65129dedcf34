"""Helpers shared by the agent tests."""

from __future__ import annotations

import json
from pathlib import Path

from runner.process import pid_alive

__all__ = ["FAKES", "FAKE_PATHS", "ArgvLog", "pid_alive"]

FAKES = Path(__file__).resolve().parents[2] / "fakes"

FAKE_PATHS = {
    "NIGHTSHIFT_CLAUDE_PATH": FAKES / "fake_claude.py",
    "NIGHTSHIFT_CODEX_PATH": FAKES / "fake_codex.py",
    "NIGHTSHIFT_GEMINI_PATH": FAKES / "fake_gemini.py",
    "NIGHTSHIFT_OPENCODE_PATH": FAKES / "fake_opencode.py",
}


class ArgvLog:
    """The argv of every fake CLI invocation (FAKE_CLI_LOG)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def calls(self) -> list[list[str]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
