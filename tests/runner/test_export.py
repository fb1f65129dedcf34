"""Export (issue 12 item 5): a real runner journals real sessions (the fake Claude CLI and a command over the wire,
the real Claude Code CLI editing files), then `nightshift export` turns the journal file into Markdown, in a process
of its own, without a GUI or a running runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runner.export import edit_diff, fence, plain_terminal_line
from runner.runner import Runner
from tests.conftest import TOKEN
from tests.fakes.view_client import ViewClient
from tests.runner.agents.helpers import FAKE_PATHS

# The real CLI and its scripted API, from the Claude Code tests (skipped with the reason where the CLI is missing).
from tests.runner.agents.test_claude_real import api, claude_bin  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable


def export(data_dir: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NIGHTSHIFT_DATA_DIR"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [PY, "-m", "desktop", "export", *args, "--data-dir", data_dir],
        capture_output=True, text=True, timeout=120, cwd=str(REPO), env=env, check=False,
    )


async def run_session(data_dir: str, create: dict[str, Any], sends: list[str]) -> str:
    """A session on a real runner, each text sent after the previous turn ended; the runner is shut down after."""
    runner = await Runner.start(data_dir, TOKEN, "127.0.0.1", 0)
    try:
        client = await ViewClient.open(runner.url, TOKEN)
        sid = (await client.request({"type": "create", **create}))["session"]["id"]
        await client.request({"type": "attach", "session": sid})
        for n, text in enumerate(sends, 1):
            await client.request({"type": "send", "session": sid, "text": text})
            await client.wait_for(
                lambda n=n: sum(e["kind"] == "turn_end" for e in client.events[sid]) >= n, timeout=120)
        if not sends:
            await client.wait_status(sid, "exited", timeout=60)
        else:
            await client.request({"type": "stop", "session": sid})
        await client.close()
        return sid
    finally:
        await runner.shutdown()


async def test_export_of_a_fake_claude_session_over_the_wire(
    data_dir: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIGHTSHIFT_CLAUDE_PATH", str(FAKE_PATHS["NIGHTSHIFT_CLAUDE_PATH"]))
    monkeypatch.delenv("FAKE_CLI_MODES", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    sid = await run_session(data_dir, {"agent": "claude", "cwd": str(work), "title": "fake export"},
                            ["first question mode:multi", "run it mode:tool"])
    out = tmp_path / "out.md"
    done = export(data_dir, sid[:6], "-o", str(out))
    assert done.returncode == 0, done.stderr
    md = out.read_text(encoding="utf-8")
    assert md.startswith("# fake export\n")
    assert f"Session `{sid}`" in md and "agent claude" in md
    # The user's texts, in order, each under a User heading, with the agent's answers after them.
    assert md.index("## User\n\nfirst question mode:multi") < md.index("## User\n\nrun it mode:tool")
    assert md.count("## Assistant") == 2
    assert "*Thinking:*" in md
    # The tool call with its input and its result.
    assert "**Tool call: Bash**" in md and '"command": "echo fake-tool"' in md
    assert "**Result of Bash**" in md and "fake-tool" in md.split("**Result of Bash**")[1]
    assert md.count("*Turn ended: status success") == 2


async def test_export_of_a_command_session_shows_the_terminal_text(data_dir: str, tmp_path: Path) -> None:
    code = "import sys\nsys.stdout.write('\\x1b[1;32mgreen\\x1b[0m text\\n10%\\r55%\\r100%\\nnot ``` a fence\\n')\n"
    await run_session(data_dir, {"argv": [PY, "-c", code], "title": "cmd"}, [])
    done = export(data_dir, "cmd")  # by title, to standard output
    assert done.returncode == 0, done.stderr
    md = done.stdout
    assert "## Output\n\n````text\ngreen text\n100%\nnot ``` a fence\n````" in md
    assert "\x1b" not in md and "*Exited with exit code 0*" in md


async def test_export_errors_are_said_in_words(data_dir: str, tmp_path: Path) -> None:
    missing = export(str(tmp_path / "nothing"), "abc")
    assert missing.returncode == 1 and "no journal in" in missing.stderr
    await run_session(data_dir, {"argv": [PY, "-c", "print(1)"], "title": "twin"}, [])
    await run_session(data_dir, {"argv": [PY, "-c", "print(2)"], "title": "twin"}, [])
    twins = export(data_dir, "twin")
    assert twins.returncode == 1 and "matches 2 sessions" in twins.stderr
    unknown = export(data_dir, "zzz-no-such")
    assert unknown.returncode == 1 and "no session 'zzz-no-such'" in unknown.stderr
    unwritable = export(data_dir, "zzz", "-o", str(tmp_path / "no" / "dir" / "x.md"))
    assert unwritable.returncode == 1


def test_edit_diffs_of_each_agents_edit_tools() -> None:
    claude = edit_diff("Edit", {"file_path": "src/a.py", "old_string": "x = 1\ny = 2", "new_string": "x = 1\ny = 3"})
    assert claude is not None
    assert claude.splitlines()[:2] == ["--- a/src/a.py", "+++ b/src/a.py"]
    assert "-y = 2" in claude.splitlines() and "+y = 3" in claude.splitlines() and " x = 1" in claude.splitlines()
    new_file = edit_diff("Write", {"file_path": "n.txt", "content": "one\ntwo\n"})
    assert new_file is not None and new_file.splitlines()[0] == "--- /dev/null"
    assert new_file.splitlines()[-2:] == ["+one", "+two"]
    multi = edit_diff("MultiEdit", {"file_path": "m", "edits": [{"old_string": "a", "new_string": "b"},
                                                               {"old_string": "c", "new_string": "d"}]})
    assert multi is not None and "\n-a\n+b\n" in multi and multi.endswith("\n-c\n+d")
    notebook = edit_diff("NotebookEdit", {"notebook_path": "n.ipynb", "new_source": "print(1)"})
    assert notebook is not None and "+print(1)" in notebook.splitlines()
    gemini = edit_diff("replace", {"file_path": "g", "old_string": "old", "new_string": "new"})
    assert gemini is not None and "-old" in gemini.splitlines() and "+new" in gemini.splitlines()
    assert edit_diff("write_file", {"file_path": "g", "content": "z"}) is not None
    opencode = edit_diff("edit", {"filePath": "o", "oldString": "p", "newString": "q"})
    assert opencode is not None and "--- a/o" in opencode and "+q" in opencode.splitlines()
    assert edit_diff("Bash", {"command": "ls"}) is None
    assert edit_diff("Edit", "not an object") is None


def test_fences_and_terminal_text() -> None:
    assert fence("a ```` b", "text") == "`````text\na ```` b\n`````"
    assert plain_terminal_line("\x1b[31mred\x1b[0m\x1b]0;title\x07!") == "red!"
    assert plain_terminal_line("abcdef\rXY") == "XYcdef"
    assert plain_terminal_line("bell\x07 and tab\t") == "bell and tab\t"


@pytest.mark.slow
async def test_export_of_real_claude_code_edits_shows_diffs(
    api: Any, data_dir: str, tmp_path: Path  # noqa: F811
) -> None:
    from tests.fakes.anthropic_server import Reply

    work = tmp_path / "repo"
    work.mkdir()
    target = work / "notes.txt"
    api.queue(
        Reply.tool_use("Write", {"file_path": str(target), "content": "alpha\nbeta\n"}),
        Reply.tool_use("Read", {"file_path": str(target)}),
        Reply.tool_use("Edit", {"file_path": str(target), "old_string": "beta", "new_string": "gamma"}),
        Reply.text("Changed beta to gamma."),
    )
    sid = await run_session(
        data_dir, {"agent": "claude", "cwd": str(work), "permission_mode": "acceptEdits", "title": "edits"},
        ["write then edit notes.txt"],
    )
    assert target.read_text() == "alpha\ngamma\n"  # the CLI really did the edits
    done = export(data_dir, sid)
    assert done.returncode == 0, done.stderr
    md = done.stdout
    write_diff = f"```diff\n--- /dev/null\n+++ b/{target}\n@@ -0,0 +1,2 @@\n+alpha\n+beta\n```"
    edit_diff_block = f"```diff\n--- a/{target}\n+++ b/{target}\n@@ -1 +1 @@\n-beta\n+gamma\n```"
    assert write_diff in md and edit_diff_block in md
    assert "**Tool call: Write**" in md and "**Tool call: Edit**" in md and "Changed beta to gamma." in md

