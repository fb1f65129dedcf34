"""Starting npm-installed CLIs on Windows without a shell.

npm installs a CLI on Windows as a `.cmd` launcher (written by npm's cmd-shim) that runs `node <script> %*` or the
package's own `.exe`. Starting a `.cmd` means going through cmd.exe, which re-parses every argument (quotes, `&`,
`%VAR%`, `^`): an argument can then never be passed safely. So the agents read the launcher instead and start
what it would start, directly. `parse_cmd_shim` is pure (the launcher's text in, an argv prefix out) so it is tested
on every platform.
"""

from __future__ import annotations

import ntpath
import os
import re
import shutil
from collections.abc import Callable

_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_IF_EXIST_SET = re.compile(r'IF\s+EXIST\s+"([^"]+)"\s*\(\s*SET\s+"_prog=([^"]+)"', re.IGNORECASE)
_ELSE_SET = re.compile(r'ELSE\s*\(\s*SET\s+"_prog=([^"]+)"', re.IGNORECASE)


def _expand(token: str, shim_dir: str) -> str:
    base = shim_dir.rstrip("\\/") + "\\"
    for var in ("%~dp0", "%dp0%"):
        token = re.sub(re.escape(var) + r"\\?", lambda _m: base, token, flags=re.IGNORECASE)
    return ntpath.normpath(token) if "\\" in token or "/" in token else token


def parse_cmd_shim(text: str, shim_path: str, exists: Callable[[str], bool] = os.path.exists) -> list[str] | None:
    """The argv prefix (program, then e.g. the script) that the npm launcher at `shim_path` runs; the caller appends
    its own arguments where the launcher has `%*`. None if the text is not a launcher this understands.

    Handles cmd-shim's current form (`SET "_prog=..."` then `"%_prog%" "script" %*`) and its older form (`IF EXIST
    node.exe ( "node.exe" "script" %* ) ELSE ( node "script" %* )`), and launchers of native executables."""
    shim_dir = ntpath.dirname(shim_path)
    flat = " ".join(text.split())
    prog: str | None = None
    if m := _IF_EXIST_SET.search(flat):
        local = _expand(m.group(1), shim_dir)
        if exists(local):
            prog = _expand(m.group(2), shim_dir)
        elif e := _ELSE_SET.search(flat):
            prog = _expand(e.group(1), shim_dir)
    for line in text.splitlines():
        if "%*" not in line:
            continue
        command = line.split("%*", 1)[0]
        command = command.rsplit("&", 1)[-1].strip().lstrip("@")
        words = [q if q is not None and q != "" else b for q, b in _TOKEN.findall(command)]
        words = [w for w in words if w]
        if not words:
            continue
        if words[0].lower() == "%_prog%":
            if prog is None:
                continue
            words[0] = prog
        argv = [_expand(w, shim_dir) for w in words]
        program = argv[0]
        # A path that is not there (the old form's node.exe beside the launcher) means: try the next line.
        if ("\\" in program or "/" in program) and not exists(program):
            continue
        return argv
    return None


def launch_argv(argv: list[str], windows: bool = os.name == "nt") -> list[str]:
    """On Windows, `argv` with an npm `.cmd`/`.bat` launcher replaced by what it runs; elsewhere `argv` unchanged.
    A launcher that cannot be read or understood is left as it is (it then runs through cmd.exe as before)."""
    if not windows or not argv or not argv[0].lower().endswith((".cmd", ".bat")):
        return argv
    try:
        with open(argv[0], encoding="utf-8", errors="replace") as f:
            text = f.read(64 * 1024)
    except OSError:
        return argv
    prefix = parse_cmd_shim(text, os.path.abspath(argv[0]) if windows and os.name == "nt" else argv[0])
    if prefix is None:
        return argv
    if not ("\\" in prefix[0] or "/" in prefix[0]):
        prefix[0] = shutil.which(prefix[0]) or prefix[0]  # "node": the one on PATH, as the launcher would use
    return [*prefix, *argv[1:]]
