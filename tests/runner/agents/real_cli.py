"""Finding (installing if need be) a real agent CLI for the offline end-to-end tests.

The CLIs come from the npm registry through tests/fakes/install_*.sh into <repo>/.cache. When one cannot be
installed the tests skip with the reason on a developer's machine, but fail under CI=true: CI must never pass
by silently testing nothing.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def real_cli(label: str, override_var: str, installer: str, default_bin: Path) -> str:
    """The CLI's path: `override_var` if set, else `default_bin`, installed by tests/fakes/`installer` first."""
    override = os.environ.get(override_var)
    if override:
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
    print(reason)
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the real CLI tests must run)")
    pytest.skip(reason)
