"""Helpers shared by the agent tests."""

from __future__ import annotations

import json
from pathlib import Path

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


def pid_alive(pid: int) -> bool:
    """True if the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :].split()[0] not in (b"Z", b"X")
