"""`nightshift`: the desktop app. `nightshift --smoke-test` checks a build end to end and exits.
`nightshift export SESSION [-o FILE]` writes a session's transcript as Markdown, from the journal, without the GUI."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
import time
from typing import Any

SMOKE_MARK = "nightshift smoke test ok"


def build_parser() -> argparse.ArgumentParser:
    from desktop import __version__

    p = argparse.ArgumentParser(prog="nightshift", description="Nightshift: coding agents that keep running.")
    p.add_argument("--runner", metavar="URL", action="append",
                   help="connect to this runner (ws://HOST:PORT, or `embedded`) instead of the embedded one and "
                        "the saved ones; repeat it for several")
    p.add_argument("--data-dir", metavar="DIR", help="data folder of the embedded runner "
                                                     "(default $NIGHTSHIFT_DATA_DIR or the user data folder)")
    p.add_argument("--smoke-test", action="store_true",
                   help="build the window with an embedded runner, run one command session, "
                        "exit 0 if it worked")
    p.add_argument("--minimized", action="store_true", help="start hidden in the tray")
    p.add_argument("--log-level", default="WARNING")
    p.add_argument("--version", action="version", version=f"nightshift {__version__}")
    return p


def export_main(argv: list[str]) -> int:
    """`nightshift export`: reads the embedded runner's journal file directly; no GUI, no running runner needed."""
    p = argparse.ArgumentParser(prog="nightshift export",
                                description="Write a session's transcript as Markdown (from the journal).")
    p.add_argument("session", help="the session's id, the start of its id, or its title")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: standard output)")
    p.add_argument("--data-dir", metavar="DIR", help="the runner's data folder "
                                                     "(default $NIGHTSHIFT_DATA_DIR or the user data folder)")
    args = p.parse_args(argv)
    from runner.environment import default_data_dir
    from runner.export import ExportError, export_session

    try:
        markdown = export_session(args.data_dir or default_data_dir(), args.session)
    except ExportError as exc:
        print(f"nightshift export: {exc}", file=sys.stderr)
        return 1
    if args.output is None:
        sys.stdout.write(markdown)
        return 0
    try:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(markdown)
    except OSError as exc:
        print(f"nightshift export: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _smoke_argv() -> list[str]:
    # sys.executable is the app itself in a frozen build: use a program every system has.
    if sys.platform == "win32":
        return ["cmd", "/c", "echo", SMOKE_MARK]
    echo = "/bin/echo" if os.path.exists("/bin/echo") else (shutil.which("echo") or "echo")
    return [echo, SMOKE_MARK]


async def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def smoke_test(app: Any, timeout: float = 60.0) -> int:
    """Build the window, run one command session to completion, check its output reached the model."""
    from desktop.core.status import Phase
    from desktop.core.transcript import RowKind

    errors: list[str] = []
    app.noticed.connect(lambda level, message: level == "error" and errors.append(message))
    try:
        await app.start()
        app.window.show()
        await _wait(lambda: app.core.status.phase is Phase.LIVE, timeout, "the connection to the runner")
        request = {"argv": _smoke_argv(), "title": "smoke test", "cwd": tempfile.gettempdir()}
        sid = await app.create_session(request)
        if sid is None:
            raise RuntimeError(f"could not create a session: {errors}")

        def done() -> bool:
            info = app.core.sessions.get(sid)
            if info is None or info.status != "exited":
                return False
            rows = app.bridge.model(sid).transcript.rows
            return any(r.kind is RowKind.OUTPUT and SMOKE_MARK in r.text for r in rows) and any(
                r.kind is RowKind.STATUS and r.data.get("status") == "exited" for r in rows)

        await _wait(done, timeout, "the command's output in the transcript")
        code = app.core.sessions[sid].data.get("exit_code")
        if code != 0:
            raise RuntimeError(f"the command exited with code {code}")
        rows = len(app.bridge.model(sid).transcript.rows)
        print(f"nightshift smoke test passed: command session {sid} ran, {rows} rows in the transcript")
        return 0
    except Exception as exc:
        print(f"nightshift smoke test FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        await app.shutdown()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["export"]:
        return export_main(argv[1:])
    args = build_parser().parse_args(argv)
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=args.log_level.upper(), format=fmt)
    from desktop.unhandled import install_process_hooks

    install_process_hooks()
    no_display = not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")
    if args.smoke_test and sys.platform.startswith("linux") and no_display:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    # qasync would otherwise pick whichever Qt binding it finds first.
    os.environ.setdefault("QT_API", "pyside6")
    import qasync
    from PySide6.QtWidgets import QApplication

    from desktop.app import NightshiftApp, keep_alive_timer
    from desktop.qt import theme
    from desktop.qt.gui_gc import GuiThreadCollector
    from desktop.settings import EMBEDDED, TokenStore
    from desktop.unhandled import install_loop_handler
    from runner.environment import data_dir_from_env

    install_qt_message_handler()
    qapp = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(qapp, QApplication)
    qapp.setApplicationName("Nightshift")
    qapp.setOrganizationName("Nightshift")
    qapp.setDesktopFileName("nightshift")
    qapp.setQuitOnLastWindowClosed(False)
    theme.apply(qapp)
    qapp.setWindowIcon(theme.app_icon())
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    install_loop_handler(loop)
    # The runner's threads must never free Qt objects: cyclic garbage is collected in this thread only.
    collector = GuiThreadCollector(qapp)
    collector.start()

    smoke_dir = None
    data_dir = args.data_dir or data_dir_from_env()
    if args.smoke_test and data_dir is None:
        # Never touch the user's own sessions from a smoke test.
        smoke_dir = tempfile.TemporaryDirectory(prefix="nightshift-smoke-")
        data_dir = smoke_dir.name
    # A smoke test always checks the embedded runner only; otherwise the --runner ones, else every saved one.
    app = NightshiftApp(qapp, runner_urls=[EMBEDDED] if args.smoke_test else args.runner, data_dir=data_dir,
                        tokens=TokenStore(), use_tray=not args.smoke_test)
    keep_alive_timer(app)
    _quit_on_signals(app, loop)
    try:
        with loop:
            if args.smoke_test:
                return loop.run_until_complete(smoke_test(app))
            if args.minimized and app.tray is not None:
                app.window.hide()
                return loop.run_until_complete(_run_hidden(app))
            return loop.run_until_complete(app.run())
    finally:
        collector.stop()
        if smoke_dir is not None:
            smoke_dir.cleanup()


def _quit_on_signals(app: Any, loop: asyncio.AbstractEventLoop) -> None:
    """SIGTERM/SIGINT (logout, Ctrl+C in a terminal): shut down cleanly without asking."""
    import signal

    def handle(_signum: int, _frame: object) -> None:
        loop.call_soon_threadsafe(app.quit_now)

    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(signum, handle)
        except (ValueError, OSError):  # not the main thread, or not supported on this platform
            pass


def install_qt_message_handler() -> None:
    """Route Qt's messages into logging; drop the offscreen platform's notices about window-manager
    features it does not have (they would make a headless smoke test look broken)."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    qt_log = logging.getLogger("qt")
    levels = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
        QtMsgType.QtCriticalMsg: logging.ERROR,
        QtMsgType.QtFatalMsg: logging.CRITICAL,
    }

    def handler(kind: QtMsgType, _context: Any, message: str) -> None:
        if message.startswith("This plugin does not support "):
            return
        qt_log.log(levels.get(kind, logging.WARNING), "%s", message)

    qInstallMessageHandler(handler)


async def _run_hidden(app: Any) -> int:
    await app.start()
    app.set_rendering(False)
    return await app.wait_done()


if __name__ == "__main__":
    sys.exit(main())
