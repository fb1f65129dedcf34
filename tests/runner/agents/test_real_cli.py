"""The rule for the real CLI tests: a CLI that cannot be installed skips them on a developer's machine and fails
them under CI=true (tests/runner/agents/real_cli.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.runner.agents.real_cli import real_cli


def test_missing_cli_fails_under_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NIGHTSHIFT_REAL_NOTHING", raising=False)
    missing = tmp_path / "no" / "cli"
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        real_cli("Nothing CLI", "NIGHTSHIFT_REAL_NOTHING", "no_such_installer.sh", missing)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="Nothing CLI cannot be installed"):
        real_cli("Nothing CLI", "NIGHTSHIFT_REAL_NOTHING", "no_such_installer.sh", missing)
    monkeypatch.setenv("NIGHTSHIFT_REAL_NOTHING", sys.executable)
    assert real_cli("Nothing CLI", "NIGHTSHIFT_REAL_NOTHING", "no_such_installer.sh", missing) == sys.executable
    # The first variable set wins; one naming something that cannot run says so.
    plain = tmp_path / "plain.txt"
    plain.write_text("not a program")
    monkeypatch.setenv("NIGHTSHIFT_NOTHING_PATH", str(plain))
    with pytest.raises(pytest.skip.Exception, match=r"NIGHTSHIFT_NOTHING_PATH=.* is not an executable"):
        real_cli("Nothing CLI", ("NIGHTSHIFT_NOTHING_PATH", "NIGHTSHIFT_REAL_NOTHING"), "no_such_installer.sh", missing)
