"""Finding an agent CLI (an env override, PATH, the usual per-user install places), the version it is, and the
environment it runs in."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping

from runner.agents.winshim import launch_argv

VERSION_RE = re.compile(r"\d+\.\d+(?:\.\d+)?(?:[-+][0-9A-Za-z.-]+)?")
# Gemini CLI takes about 4 s to print its version on an idle 2-core machine (node loads its whole bundle).
VERSION_TIMEOUT_SECONDS = 30.0


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for an agent CLI: ours, minus what makes it think it runs inside Claude Code."""
    env = dict(os.environ)
    env.pop("CLAUDECODE", None)
    env.pop("CLAUDE_CODE_ENTRYPOINT", None)
    if extra:
        env.update(extra)
    return env


def install_dirs() -> list[str]:
    """Where CLIs installed by npm, bun, pipx, Homebrew or their own installers usually live."""
    home = os.path.expanduser("~")
    dirs = [
        os.path.join(home, ".local", "bin"),
        os.path.join(home, ".npm-global", "bin"),
        os.path.join(home, ".bun", "bin"),
        os.path.join(home, ".volta", "bin"),
        os.path.join(home, ".yarn", "bin"),
        os.path.join(home, ".claude", "local"),
        os.path.join(home, ".opencode", "bin"),
        os.path.join(home, ".cargo", "bin"),
        "/usr/local/bin",
        "/opt/homebrew/bin",
        "/usr/bin",
    ]
    npm_prefix = os.environ.get("NPM_CONFIG_PREFIX")
    if npm_prefix:
        dirs.insert(0, os.path.join(npm_prefix, "bin"))
    return dirs


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def locate(executable: str, env_var: str) -> tuple[str | None, str | None]:
    """(path, reason): the CLI's path, or None and why not. `env_var` overrides the search when set."""
    override = os.environ.get(env_var)
    if override:
        if _is_executable(override):
            return override, None
        return None, f"{env_var}={override} is not an executable file"
    found = shutil.which(executable)
    if found:
        return found, None
    for d in install_dirs():
        for name in (executable, executable + ".cmd", executable + ".exe"):
            candidate = os.path.join(d, name)
            if _is_executable(candidate):
                return candidate, None
    return None, f"{executable} not found on PATH or in the usual install folders"


_version_cache: dict[tuple[str, int], tuple[str | None, str | None]] = {}


def probe_version(path: str, timeout: float = VERSION_TIMEOUT_SECONDS) -> tuple[str | None, str | None]:
    """(version, error) from `path --version`. Blocking: call it from a thread (see detect_agents)."""
    try:
        key = (path, os.stat(path).st_mtime_ns)
    except OSError as exc:
        return None, f"cannot stat {path}: {exc.strerror}"
    if key in _version_cache:
        return _version_cache[key]
    try:
        done = subprocess.run(
            launch_argv([path, "--version"]),
            capture_output=True,
            timeout=timeout,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"{path} --version did not answer within {timeout:g} s"
    except OSError as exc:
        return None, f"cannot run {path}: {exc.strerror or exc}"
    text = (done.stdout or done.stderr).decode("utf-8", errors="replace").strip()
    match = VERSION_RE.search(text)
    if done.returncode != 0 and not match:
        result: tuple[str | None, str | None] = (
            None,
            f"{path} --version failed with exit code {done.returncode}",
        )
    else:
        result = (match.group(0) if match else (text.splitlines()[0][:80] if text else None), None)
    _version_cache[key] = result
    return result


def npm_package_version(path: str, package: str) -> str | None:
    """The version of an npm-installed CLI from its package.json, without running it: `path` (the launcher in
    node_modules/.bin, or a global bin folder) resolves into the package, whose package.json is at most three
    folders up. Running `--version` takes Gemini CLI from 4 s (idle) to over 30 s (a loaded machine)."""
    try:
        folder = os.path.dirname(os.path.realpath(path))
    except OSError:
        return None
    for _ in range(3):
        candidate = os.path.join(folder, "package.json")
        if os.path.isfile(candidate):
            try:
                with open(candidate, encoding="utf-8") as f:
                    data = json.load(f)
            except (OSError, ValueError):
                return None
            if isinstance(data, dict) and data.get("name") == package and isinstance(data.get("version"), str):
                return data["version"]
            return None
        folder = os.path.dirname(folder)
    return None


def _version_key(version: str) -> tuple[int, ...] | None:
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version)
    return tuple(int(g or 0) for g in match.groups()) if match else None


def untested_version_warning(label: str, version: str | None, tested: tuple[str, str] | None) -> str | None:
    """A warning when `version` is outside the `tested` (oldest, newest) range; None inside it or if unknown."""
    if version is None or tested is None:
        return None
    key, oldest, newest = _version_key(version), _version_key(tested[0]), _version_key(tested[1])
    if key is None or oldest is None or newest is None:
        return None
    span = tested[0] if tested[0] == tested[1] else f"{tested[0]} to {tested[1]}"
    if key > newest:
        return (
            f"{label} {version} is newer than the versions Nightshift was tested with ({span}); "
            "if something looks wrong, tell us which version."
        )
    if key < oldest:
        return (
            f"{label} {version} is older than the versions Nightshift was tested with ({span}); "
            "updating it is recommended."
        )
    return None
