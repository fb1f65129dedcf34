"""Take the README screenshots from the real app: run under Xvfb,

    xvfb-run -s "-screen 0 1280x800x24" python docs/screenshots/make_screenshots.py [--dark]

It starts the app with an embedded runner in a temporary folder and the fake Claude Code CLI from
tests/fakes, drives a command session and an agent session with tool calls and a permission prompt, then
stops the runner to show the reconnecting and offline states. Each state is saved as
docs/screenshots/<name>.png.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_API", "pyside6")
os.environ["NIGHTSHIFT_CLAUDE_PATH"] = str(ROOT / "tests" / "fakes" / "fake_claude.py")

import qasync  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from desktop.app import NightshiftApp  # noqa: E402
from desktop.core.status import Phase  # noqa: E402
from desktop.core.transcript import RowKind  # noqa: E402
from desktop.qt import theme  # noqa: E402
from desktop.settings import EMBEDDED, RemoteRunner, SettingsStore, TokenStore  # noqa: E402


async def wait(pred: Any, timeout: float = 30.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


async def settle(seconds: float = 0.4) -> None:
    await asyncio.sleep(seconds)
    QApplication.processEvents()


def shot(app: NightshiftApp, name: str, suffix: str) -> None:
    path = OUT / f"{name}{suffix}.png"
    app.window.grab().save(str(path))
    print("saved", path)


MARKDOWN_ANSWER = """I renamed `parse_args` to `parse_options` and the tests pass.

## What changed

- **parser.py**: the function and its flag handling (leading dashes are stripped)
- **test_parser.py**: a new test for `--verbose`

| File | Lines |
|------|-------|
| parser.py | +2 -2 |
| test_parser.py | +4 |

```python
def parse_options(argv):
    return {arg.lstrip("-"): True for arg in argv}
```

See the [argparse docs](https://docs.python.org/3/library/argparse.html) for a fuller parser.
"""


async def markdown_and_diff_scene(app: NightshiftApp, suffix: str) -> None:
    """Markdown, a diff and a plan. The fake CLI has no file-editing tool, so these events (the shapes Claude Code
    2.x sends, see /work/shared/reference) go straight to the view of a session the runner does not have."""
    from desktop.core.view import SessionInfo

    sid = "s-markdown-demo"
    info = SessionInfo(id=sid, title="Rename parse_args", agent="claude", status="idle",
                       data={"cwd": os.path.expanduser("~/project")})
    app.window.sessions_model.upsert(info)
    old = "def parse_args(argv):\n    opts = {}\n    for arg in argv:\n        opts[arg] = True\n    return opts\n"
    new = old.replace("parse_args", "parse_options").replace("opts[arg]", 'opts[arg.lstrip("-")]')
    todos = [("Rename parse_args", "completed"), ("Strip leading dashes", "completed"),
             ("Add a test for --verbose", "in_progress")]
    events: list[dict[str, Any]] = [
        {"kind": "user", "text": "Rename parse_args to parse_options and add a test for --verbose."},
        {"kind": "tool_call", "tool_id": "todo1", "name": "TodoWrite", "input": {"todos": [
            {"content": c, "status": st, "activeForm": c} for c, st in todos]}},
        {"kind": "tool_result", "tool_id": "todo1", "output": "Todos have been modified successfully."},
        {"kind": "tool_call", "tool_id": "e1", "name": "Edit", "input": {
            "file_path": "/home/me/project/parser.py", "old_string": old, "new_string": new}},
        {"kind": "tool_result", "tool_id": "e1", "output": "The file /home/me/project/parser.py has been updated."},
        {"kind": "tool_call", "tool_id": "w1", "name": "Write", "input": {
            "file_path": "/home/me/project/test_parser.py",
            "content": "from parser import parse_options\n\n\ndef test_flags():\n"
                       "    assert parse_options([\"--verbose\"]) == {\"verbose\": True}\n"}},
        {"kind": "tool_result", "tool_id": "w1", "output": "File created successfully at: test_parser.py"},
        {"kind": "assistant", "message_id": "m1", "text": MARKDOWN_ANSWER},
        {"kind": "turn_end", "status": "success", "cost_usd": 0.0731, "duration_ms": 9720,
         "usage": {"input_tokens": 15600, "output_tokens": 546}},
    ]
    app.bridge.events(sid, [{"seq": n, "ts": time.time(), **e} for n, e in enumerate(events, 1)])
    app.window.select_session(sid)
    app.window._update_header(info)  # the runner does not know this session: the header from its info here
    await settle(0.8)
    app.window.transcript.scrollToBottom()
    await settle(0.4)
    shot(app, "markdown-and-diff", suffix)


async def selection_scene(app: NightshiftApp, suffix: str) -> None:
    """Text selected across rows in place (issue 12 item 9): from the Markdown answer's list into its code block,
    dragged with the mouse as a user would."""
    from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
    from PySide6.QtGui import QMouseEvent

    from desktop.qt.rows.text_runs import rects_in_runs

    view = app.window.transcript
    model = view.transcript_model()
    answer = next(r for r in reversed(list(model.transcript.rows)) if r.kind is RowKind.ASSISTANT)
    index = model.index(model.model_row(answer))
    rect = view.visualRect(index)
    renderer, state = view.delegate.renderer(answer), view.delegate.state(answer)
    runs = renderer.text_runs(answer, renderer.layout(answer, rect.width(), state), state) or []
    text = view.delegate.row_text(answer)

    def at(offset: int) -> QPoint:
        r = rects_in_runs(runs, offset, offset + 1)[0]
        return rect.topLeft() + QPoint(int(r.left()) + 1, int(r.center().y()))

    vp = view.viewport()
    start, end = at(text.index("the function")), at(text.index("True for"))
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    for kind, point, buttons in ((QEvent.Type.MouseButtonPress, start, left), (QEvent.Type.MouseMove, end, left),
                                 (QEvent.Type.MouseButtonRelease, end, none)):
        button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else Qt.MouseButton.LeftButton
        QApplication.sendEvent(vp, QMouseEvent(kind, QPointF(point), QPointF(vp.mapToGlobal(point)), button,
                                               buttons, Qt.KeyboardModifier.NoModifier))
    await settle(0.4)
    shot(app, "selection", suffix)
    view.clear_selection()


async def find_scene(app: NightshiftApp, suffix: str) -> None:
    """Ctrl+F in the shown session: the find bar, its count and the highlighted match."""
    w = app.window
    w.find_bar.open_bar(w.current)
    w.find_bar.edit.setText("module")
    w.find_bar.search_now()
    await wait(lambda: w.find_bar.count.text().startswith("1 of"), what="find count")
    w.find_bar.next()
    await settle(0.6)
    shot(app, "find", suffix)
    w.find_bar.close_bar()


BUILD_SCRIPT = """\
import sys, time
B, DIM, G, R, Y, C, X = "\\033[1m", "\\033[2m", "\\033[32m", "\\033[31m", "\\033[33m", "\\033[36m", "\\033[0m"
print(f"{B}Building nightshift 0.1.0{X} {DIM}(8 modules){X}")
for i in range(0, 101, 4):
    bar = "#" * (i // 5)
    sys.stdout.write(f"\\r{C}[{bar:<20}]{X} {i:3d}% compiling module_{1 + i * 7 // 100}.c")
    sys.stdout.flush()
    time.sleep(0.02)
print()
print(f"{Y}warning:{X} unused variable {B}tmp{X} in module_5.c")
print(f"{B}Running tests{X}")
for name, ok in [("test_parse_flags", True), ("test_parse_empty", True), ("test_merge_options", False),
                 ("test_help_text", True)]:
    print(f"  {G + 'PASS' if ok else R + 'FAIL'}{X} {name}")
print(f"{R}1 failed{X}, {G}3 passed{X} in 0.42 s")
sys.exit(1)
"""
async def several_runners_scene(app: NightshiftApp, suffix: str) -> None:
    """Three runners in one sidebar: this computer's, a workstation (another real runner) and a cloud box that
    does not answer, each a group with its own dot; a session of the workstation shown."""
    from runner.embedded import EmbeddedRunner

    loop = asyncio.get_running_loop()
    other = EmbeddedRunner(data_dir=tempfile.mkdtemp(prefix="nightshift-shots-workstation-"))
    models = Path(other.data_dir) / "models"
    models.mkdir()
    await loop.run_in_executor(None, other.start)
    saved = list(app.settings.runners)
    app.tokens.set(other.url, other.token)
    app.settings.runners += [RemoteRunner("workstation", other.url), RemoteRunner("cloud box", "ws://127.0.0.1:9")]
    app.sync_runners()
    await wait(lambda: other.url in app.runners and app.runners[other.url].core.status.phase is Phase.LIVE,
               what="the workstation live")
    ticker = "import time\nfor i in range(100000):\n    print(f'epoch {i}: loss {1/(i+1):.4f}', flush=True)\n" \
             "    time.sleep(0.2)"
    await app.create_session({"argv": [sys.executable, "-u", "-c", "print('tokenizer trained')"],
                              "title": "train the tokenizer", "cwd": str(models)}, runner=other.url)
    training = await app.create_session({"argv": [sys.executable, "-u", "-c", ticker], "title": "nightly training",
                                         "cwd": str(models)}, runner=other.url)
    assert training is not None
    await wait(lambda: len(app.runners[other.url].bridge.model(training).transcript.rows) > 12, what="epochs")
    app.window.select_session(training, other.url)
    await settle(0.8)
    shot(app, "several-runners", suffix)
    app.settings.runners = saved
    app.sync_runners()
    await wait(lambda: other.url not in app.runners, what="the workstation closed")
    await loop.run_in_executor(None, other.stop)
async def folder_picker_scene(app: NightshiftApp, suffix: str, work: Path) -> None:
    """New session, Browse…: the runner's folders (list_dir), here the embedded runner's; then the dialog with
    the runner's recent folders."""
    for name in ("src", "tests", "docs", "scripts", ".venv"):
        (work / name).mkdir(exist_ok=True)
    for name in ("README.md", "pyproject.toml", "Makefile"):
        (work / name).write_text("x")
    app.ask_new_session()
    dialog = app.new_session_dialog
    dialog.folder.setText(str(work))
    dialog.browse_button.click()
    picker = dialog.picker
    await wait(lambda: "src" in picker.entry_names(), what="folder picker listing")
    picker.list.setCurrentRow(picker.entry_names().index("src"))
    await settle(0.4)
    picker.grab().save(str(OUT / f"folder-picker{suffix}.png"))
    print("saved", OUT / f"folder-picker{suffix}.png")
    picker.choose_button.click()
    await settle(0.3)
    dialog.folder_box.showPopup()  # the recent folders of this runner
    await settle(0.4)
    # The popup is a window of its own: take the screen around the dialog and it.
    area = dialog.frameGeometry().united(dialog.folder_box.view().window().frameGeometry())
    screen = QApplication.primaryScreen()
    screen.grabWindow(0, area.x(), area.y(), area.width(), area.height()).save(
        str(OUT / f"new-session{suffix}.png"))
    print("saved", OUT / f"new-session{suffix}.png")
    dialog.folder_box.hidePopup()
    dialog.reject()
    await settle(0.2)
async def image_scene(app: NightshiftApp, work: Path, suffix: str) -> None:
    """An agent reads a screenshot: its thumbnail under the Read call (the image is one of these screenshots)."""
    picture = work / "build-output.png"
    picture.write_bytes((OUT / f"terminal-session{suffix}.png").read_bytes())
    os.environ["FAKE_CLI_IMAGE"] = str(picture)  # what the fake's Read returns; read by the fake at its start
    sid = await app.create_session({"agent": "claude", "title": "Check the build output", "cwd": str(work)})
    assert sid is not None
    app.send(sid, "Look at the screenshot of the build and tell me what failed. mode:image")
    await wait(lambda: app.core.sessions[sid].status == "idle"
               and any(r.kind is RowKind.IMAGE for r in app.bridge.model(sid).transcript.rows), what="image turn")
    renderer = app.window.transcript.delegate.renderers[RowKind.IMAGE]
    await wait(lambda: renderer.thumbnails._images, what="thumbnail")  # type: ignore[attr-defined]
    await settle(0.6)
    app.window.transcript.scrollToBottom()
    await settle(0.4)
    shot(app, "image", suffix)
    del os.environ["FAKE_CLI_IMAGE"]


async def main(dark: bool) -> None:
    suffix = "-dark" if dark else ""
    data = tempfile.mkdtemp(prefix="nightshift-shots-")
    work = Path(data) / "project"
    work.mkdir()
    app = NightshiftApp(QApplication.instance(), data_dir=data,  # type: ignore[arg-type]
                        settings=SettingsStore(Path(data) / "settings.json"), tokens=TokenStore(),
                        use_tray=False)
    await app.start()
    w = app.window
    w.resize(1280, 800)
    w.show()
    await wait(lambda: app.core.status.phase is Phase.LIVE, what="live")

    # A terminal session: colours (SGR) and a progress line redrawn in place with carriage returns.
    (work / "build.py").write_text(BUILD_SCRIPT)
    build = await app.create_session({"argv": ["python3", "build.py"], "title": "make test",
                                      "cwd": str(work)})
    await app.create_session({"argv": ["/bin/sh", "-c", "echo Serving on http://127.0.0.1:8000; sleep 600"],
                              "title": "dev server", "cwd": str(work)})
    sid = await app.create_session({"agent": "claude", "title": "Refactor the argument parser",
                                    "cwd": str(work)})
    assert sid is not None
    app.send(sid, "Rename parse_args to parse_options across the project and run the tests. mode:tool mode:subagent")
    await wait(lambda: app.core.sessions[sid].status == "idle"
               and len(app.bridge.model(sid).transcript.rows) > 3, what="first turn")
    app.send(sid, "Now update the changelog. mode:permission")
    await wait(lambda: app.core.sessions[sid].status == "needs_approval", what="permission prompt")
    await settle(0.6)
    # Expand the first tool call so its input and output show.
    model = app.bridge.model(sid)
    for i in range(model.rowCount()):
        row = model.row_at(i)
        if row is not None and row.kind is RowKind.TOOL:
            model.toggle_expanded(i)
            break
    await settle(0.6)
    w.transcript.scrollToBottom()
    await settle(0.4)
    shot(app, "tools-and-permission", suffix)

    # Allow it through the same path a click takes, then show the live state.
    req = next(r for r in model.transcript.rows if r.kind is RowKind.PERMISSION)
    app.answer(sid, str(req.data["request_id"]), "allow")
    await wait(lambda: app.core.sessions[sid].status == "idle", what="turn after allow")
    await settle(0.8)
    w.transcript.scrollToBottom()
    await settle(0.3)
    shot(app, "live", suffix)
    await markdown_and_diff_scene(app, suffix)
    await selection_scene(app, suffix)
    w.select_session(build)
    await settle(0.6)
    shot(app, "terminal-session", suffix)
    await find_scene(app, suffix)
    await folder_picker_scene(app, suffix, work)
    await image_scene(app, work, suffix)
    # A session in its own git worktree: the changes panel with a diff.
    git = ["git", "-c", "user.name=Nightshift", "-c", "user.email=shots@localhost"]
    parser_py = ("def parse_args(argv):\n    opts = {}\n    for arg in argv:\n        opts[arg] = True\n"
                 "    return opts\n")
    (work / "parser.py").write_text(parser_py)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "start"]):
        subprocess.run([*git, *args], cwd=work, check=True)
    edit = ("src = open('parser.py').read(); open('parser.py','w').write(src.replace('parse_args', 'parse_options')"
            ".replace('opts[arg] = True', 'opts[arg.lstrip(\"-\")] = True'));"
            "open('test_parser.py','w').write('from parser import parse_options\\n\\n\\n"
            "def test_flags():\\n    assert parse_options([\"--verbose\"]) == {\"verbose\": True}\\n')")
    wt = await app.create_session({"argv": [sys.executable, "-c", edit], "title": "rename parse_args",
                                   "cwd": str(work), "worktree": True})
    assert wt is not None
    await wait(lambda: (app.core.sessions[wt].data.get("worktree") or {}).get("changed_files") == 2,
               what="worktree changes")
    panel = app.show_changes(wt)
    panel.resize(1000, 560)
    await wait(lambda: panel.files.count() == 2, what="changes panel")
    panel.files.setCurrentRow(0)
    await settle(0.6)
    panel.grab().save(str(OUT / f"worktree-changes{suffix}.png"))
    print("saved", OUT / f"worktree-changes{suffix}.png")
    panel.close()
    w.select_session(sid)
    await settle(0.4)

    await several_runners_scene(app, suffix)
    w.select_session(sid, EMBEDDED)
    await settle(0.4)

    # Runner gone: reconnecting (yellow), a message typed meanwhile waits in the outbox, then offline (red).
    embedded = app.runners[EMBEDDED]
    await asyncio.get_running_loop().run_in_executor(None, embedded.embedded.stop)
    await wait(lambda: app.core.status.phase is Phase.RECONNECTING and app.core.status.attempt >= 2
               and app.core.status.next_retry_at is not None, what="reconnecting")
    w.composer.edit.setPlainText("Also add a test for the --verbose flag")
    w.composer._submit()
    await settle(0.5)
    shot(app, "reconnecting", suffix)
    await wait(lambda: app.core.status.phase is Phase.UNREACHABLE, timeout=60, what="offline")
    await settle(0.5)
    w.indicator.label.setFocus()
    shot(app, "offline", suffix)
    embedded.embedded = None  # stopped above already
    await app.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--dark", action="store_true")
    args = parser.parse_args()
    qapp = QApplication([sys.argv[0]])
    theme.apply(qapp, dark=args.dark)
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(main(args.dark))
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: nothing is left to clean up and PySide may crash in it
