"""Fixtures for the agent tests: fake CLIs wired in through the NIGHTSHIFT_*_PATH overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runner.agents.helpers import FAKE_PATHS, ArgvLog


@pytest.fixture
def fake_clis(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ArgvLog:
    for var, path in FAKE_PATHS.items():
        monkeypatch.setenv(var, str(path))
    log = tmp_path / "argv.log"
    monkeypatch.setenv("FAKE_CLI_LOG", str(log))
    monkeypatch.delenv("FAKE_CLI_MODES", raising=False)
    return ArgvLog(log)


@pytest.fixture
def workdir(tmp_path: Path) -> str:
    d = tmp_path / "work"
    d.mkdir()
    return str(d)
