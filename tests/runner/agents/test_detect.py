"""Detection of installed agent CLIs: env overrides, PATH, install folders, `--version` with a timeout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.agents import AGENT_TYPES, detect_agents
from runner.agents.codex import CodexAgent
from runner.agents.gemini import GeminiAgent
from runner.agents.locate import probe_version
from tests.fakes.view_client import ViewClient
from tests.runner.agents.helpers import ArgvLog


def script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


async def test_detect_agents_reports_every_type_with_versions(fake_clis: ArgvLog) -> None:
    infos = {i.name: i for i in await detect_agents()}
    assert set(infos) == set(AGENT_TYPES) == {"command", "claude", "codex", "gemini", "opencode"}
    assert infos["claude"].available and infos["claude"].version == "2.1.0"
    assert infos["codex"].version == "0.50.0" and infos["gemini"].version == "0.9.0"
    assert infos["opencode"].version == "0.15.3"
    assert infos["claude"].path and infos["claude"].path.endswith("fake_claude.py")
    assert "ask" in infos["claude"].permission_modes and "sonnet" in infos["claude"].models
    assert infos["claude"].to_json()["available"] is True


def test_override_to_a_missing_file_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIGHTSHIFT_CODEX_PATH", "/nonexistent/codex")
    info = CodexAgent.detect()
    assert not info.available and "NIGHTSHIFT_CODEX_PATH" in (info.reason or "")


def test_found_on_path_and_in_install_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("NIGHTSHIFT_CODEX_PATH", "NIGHTSHIFT_GEMINI_PATH"):
        monkeypatch.delenv(var, raising=False)
    bindir = tmp_path / "bin"
    script(bindir / "codex", 'echo "codex-cli 1.2.3"')
    home = tmp_path / "home"
    script(home / ".local" / "bin" / "gemini", 'echo "0.7.1"')
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("HOME", str(home))
    codex = CodexAgent.detect()
    assert codex.available and codex.path == str(bindir / "codex") and codex.version == "1.2.3"
    gemini = GeminiAgent.detect()
    assert gemini.available and gemini.path == str(home / ".local" / "bin" / "gemini")
    assert gemini.version == "0.7.1"


def test_version_probe_has_a_timeout(tmp_path: Path) -> None:
    slow = script(tmp_path / "slow-cli", "sleep 30")
    version, error = probe_version(str(slow), timeout=0.5)
    assert version is None and "did not answer" in (error or "")
    broken = script(tmp_path / "broken-cli", "echo oops >&2; exit 3")
    version, error = probe_version(str(broken), timeout=5)
    assert version is None and "exit code 3" in (error or "")


async def test_agents_over_the_protocol(fake_clis: ArgvLog, client: ViewClient) -> None:
    reply = await client.request({"type": "agents"})
    agents = {a["name"]: a for a in reply["agents"]}
    assert agents["claude"]["available"] and agents["claude"]["version"] == "2.1.0"
    assert agents["codex"]["available"] and agents["command"]["available"]


def test_a_version_the_adapter_was_not_tested_with_is_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    oldest, newest = GeminiAgent.tested_versions or ("", "")
    major, minor, *_ = newest.split(".")
    cases = {
        newest: None,
        oldest: None,
        f"{major}.{int(minor) + 1}.0": "newer than the versions Nightshift was tested with",
        "0.1.0": "older than the versions Nightshift was tested with",
    }
    for version, expected in cases.items():
        cli = script(tmp_path / f"gemini-{version}", f'echo "{version}"')
        monkeypatch.setenv("NIGHTSHIFT_GEMINI_PATH", str(cli))
        info = GeminiAgent.detect()
        assert info.available and info.version == version
        if expected is None:
            assert info.warning is None, version
        else:
            assert info.warning and expected in info.warning and version in info.warning
            assert info.to_json()["warning"] == info.warning


def test_cli_agents_prints_the_warning(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cli = script(tmp_path / "gemini", 'echo "99.0.0"')
    env = {**os.environ, "NIGHTSHIFT_GEMINI_PATH": str(cli)}
    done = subprocess.run(
        [sys.executable, "-m", "runner", "--agents"], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("gemini ") and "99.0.0" in line)
    assert "warning:" in lines[at + 1] and "newer than the versions Nightshift was tested with" in lines[at + 1]


async def test_warning_over_the_protocol(
    client: ViewClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NIGHTSHIFT_GEMINI_PATH", str(script(tmp_path / "gemini", 'echo "99.0.0"')))
    agents = {a["name"]: a for a in (await client.request({"type": "agents"}))["agents"]}
    assert "newer" in agents["gemini"]["warning"] and agents["command"]["warning"] is None


def test_npm_installed_cli_version_comes_from_its_package_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The layout npm makes: node_modules/.bin/gemini -> ../@google/gemini-cli/bundle/gemini.js
    package = tmp_path / "node_modules" / "@google" / "gemini-cli"
    (package / "package.json").parent.mkdir(parents=True)
    (package / "package.json").write_text('{"name": "@google/gemini-cli", "version": "0.61.0"}')
    # Never run: a CLI that takes seconds to print its version (Gemini CLI on a loaded machine) is not waited for.
    script(package / "bundle" / "gemini.js", "sleep 60")
    (tmp_path / "node_modules" / ".bin").mkdir()
    (tmp_path / "node_modules" / ".bin" / "gemini").symlink_to("../@google/gemini-cli/bundle/gemini.js")
    monkeypatch.setenv("NIGHTSHIFT_GEMINI_PATH", str(tmp_path / "node_modules" / ".bin" / "gemini"))
    info = GeminiAgent.detect()
    assert info.available and info.version == "0.61.0" and info.warning is None
    # Another package's package.json is not taken for the CLI's.
    (package / "package.json").write_text('{"name": "something-else", "version": "9.9.9"}')
    script(package / "bundle" / "gemini.js", 'echo "0.61.1"')
    assert GeminiAgent.detect().version == "0.61.1"
