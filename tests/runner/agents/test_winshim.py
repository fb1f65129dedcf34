"""Reading npm's Windows `.cmd` launchers so agent CLIs start without cmd.exe (runner/agents/winshim.py). The shims
below are what npm's cmd-shim writes (current and older forms, a node script and a native executable); the
function is pure, so this runs on every platform."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from runner.agents.winshim import launch_argv, parse_cmd_shim

SHIM = "C:\\Users\\me\\AppData\\Roaming\\npm\\gemini.cmd"
DIR = "C:\\Users\\me\\AppData\\Roaming\\npm"

CURRENT_NODE_SCRIPT = r"""@ECHO off
GOTO start
:find_dp0
SET dp0=%~dp0
EXIT /b
:start
SETLOCAL
CALL :find_dp0

IF EXIST "%dp0%\node.exe" (
  SET "_prog=%dp0%\node.exe"
) ELSE (
  SET "_prog=node"
  SET PATHEXT=%PATHEXT:;.JS;=;%
)

"""
# npm writes the last line as one line.
CURRENT_NODE_SCRIPT += (
    r'endLocal & goto #_undefined_# 2>NUL || title %COMSPEC% & "%_prog%"  '
    r'"%dp0%\node_modules\@google\gemini-cli\bundle\gemini.js" %*'
    "\n"
)

NATIVE_EXE = r"""@ECHO off
GOTO start
:find_dp0
SET dp0=%~dp0
EXIT /b
:start
SETLOCAL
CALL :find_dp0
"%dp0%\node_modules\opencode-ai\bin\opencode.exe"   %*
"""

OLD_FORM = r"""@IF EXIST "%~dp0\node.exe" (
  "%~dp0\node.exe"  "%~dp0\node_modules\@anthropic-ai\claude-code\cli.js" %*
) ELSE (
  @SETLOCAL
  @SET PATHEXT=%PATHEXT:;.JS;=;%
  node  "%~dp0\node_modules\@anthropic-ai\claude-code\cli.js" %*
)
"""


def only(*present: str) -> Callable[[str], bool]:
    return lambda path: path in present


def test_current_form_without_node_beside_it_runs_node_from_path() -> None:
    argv = parse_cmd_shim(CURRENT_NODE_SCRIPT, SHIM, exists=only(f"{DIR}\\node_modules\\@google\\gemini-cli"))
    assert argv == ["node", f"{DIR}\\node_modules\\@google\\gemini-cli\\bundle\\gemini.js"]


def test_current_form_prefers_the_node_exe_beside_it() -> None:
    argv = parse_cmd_shim(CURRENT_NODE_SCRIPT, SHIM, exists=only(f"{DIR}\\node.exe"))
    assert argv == [f"{DIR}\\node.exe", f"{DIR}\\node_modules\\@google\\gemini-cli\\bundle\\gemini.js"]


def test_native_executable() -> None:
    exe = f"{DIR}\\node_modules\\opencode-ai\\bin\\opencode.exe"
    assert parse_cmd_shim(NATIVE_EXE, f"{DIR}\\opencode.cmd", exists=only(exe)) == [exe]


def test_old_form_both_branches() -> None:
    script = f"{DIR}\\node_modules\\@anthropic-ai\\claude-code\\cli.js"
    assert parse_cmd_shim(OLD_FORM, f"{DIR}\\claude.cmd", exists=only()) == ["node", script]
    assert parse_cmd_shim(OLD_FORM, f"{DIR}\\claude.cmd", exists=only(f"{DIR}\\node.exe")) == [
        f"{DIR}\\node.exe",
        script,
    ]


def test_not_a_launcher() -> None:
    assert parse_cmd_shim("@echo hello\r\n", SHIM) is None
    assert parse_cmd_shim("", SHIM) is None


def test_crlf_line_ends_and_parent_folders() -> None:
    text = '@ECHO off\r\n"%~dp0\\..\\lib\\tool.exe" %*\r\n'
    assert parse_cmd_shim(text, SHIM, exists=only("C:\\Users\\me\\AppData\\Roaming\\lib\\tool.exe")) == [
        "C:\\Users\\me\\AppData\\Roaming\\lib\\tool.exe"
    ]


def test_launch_argv_leaves_other_platforms_and_programs_alone() -> None:
    assert launch_argv(["/usr/bin/gemini", "--output-format", "stream-json"]) == [
        "/usr/bin/gemini",
        "--output-format",
        "stream-json",
    ]


def test_launch_argv_keeps_a_launcher_it_does_not_understand(tmp_path: Path) -> None:
    shim = tmp_path / "tool.cmd"
    shim.write_text("@ECHO off\r\necho not a launcher\r\n")
    assert launch_argv([str(shim), "x"], windows=True) == [str(shim), "x"]
    assert launch_argv([str(tmp_path / "missing.cmd"), "x"], windows=True) == [str(tmp_path / "missing.cmd"), "x"]
