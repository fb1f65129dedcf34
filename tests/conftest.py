"""Fixtures shared by the whole suite: runners on loopback with a temporary data folder."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, NoReturn

import pytest

from runner.runner import Runner
from tests.fakes.view_client import ViewClient

TOKEN = "test-token-0123456789"

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
"""CI sets CI=true (.ci/run); there scripts/setup.sh has installed every tool and CLI the tests need."""


def missing(reason: str) -> NoReturn:
    """A CLI or system tool a test needs is not there: a failure in CI, where the set-up must install it; a skip
    with the reason on a developer's machine. (Skips for other platforms stay plain skips.)"""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: scripts/setup.sh test must install it)", pytrace=False)
    pytest.skip(reason)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What is imported by now (Qt, the app, the tests) lives as long as this process: move it out of the garbage
    collector's generations. Every test's teardown runs a full collection (to surface task exceptions nobody
    retrieved, below), which otherwise scans that whole heap again: tens of milliseconds per test."""
    import gc

    gc.collect()
    gc.freeze()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """`@pytest.mark.needs_tools("dpkg-deb", package="dpkg-dev")`: the commands must be on PATH (see missing())."""
    for mark in item.iter_markers("needs_tools"):
        absent = [tool for tool in mark.args if shutil.which(tool) is None]
        if absent:
            package = mark.kwargs.get("package")
            missing(f"needs {', '.join(absent)}" + (f" (Debian package {package})" if package else ""))


def _loop_classes() -> list[type]:
    """The event loop classes with an exception handler of their own: asyncio's, and qasync's (which overrides it
    without calling asyncio's)."""
    import asyncio.base_events

    classes: list[type] = [asyncio.base_events.BaseEventLoop]
    try:
        import qasync
    except ImportError:
        return classes
    classes += [c for c in qasync.QEventLoop.__mro__ if "call_exception_handler" in vars(c) and c not in classes]
    return classes


@pytest.fixture(autouse=True)
def fail_on_unretrieved_task_exceptions(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[int, str]]:
    """Any exception an event loop reports (a task that died with nobody awaiting it, garbage-collected or still
    referenced; a failing callback) fails the test that caused it: no task may die silently, in the product or in
    the tests. Covers every loop of the process (the embedded runner's thread, qasync's loop). A test that makes
    such an exception on purpose asks for this fixture and clears what it expected from the dict it yields."""
    import gc

    reported: dict[int, str] = {}  # by context: a handler that calls its base class reports once

    for cls in _loop_classes():
        def record(loop: asyncio.AbstractEventLoop, context: dict, _original=cls.call_exception_handler) -> None:
            reported.setdefault(id(context), f"{context.get('message')}: {context.get('exception')!r}")
            _original(loop, context)

        monkeypatch.setattr(cls, "call_exception_handler", record)
    yield reported
    gc.collect()  # unretrieved task exceptions are reported when the task is collected
    assert not reported, "exceptions left in asyncio tasks or callbacks:\n" + "\n".join(reported.values())


@pytest.fixture
def data_dir(tmp_path: Path) -> str:
    return str(tmp_path / "data")


@pytest.fixture
async def runner(data_dir: str) -> AsyncIterator[Runner]:
    """An in-process runner on the test's loop."""
    r = await Runner.start(data_dir, TOKEN, "127.0.0.1", 0)
    try:
        yield r
    finally:
        await r.shutdown()


@pytest.fixture
async def client(runner: Runner) -> AsyncIterator[ViewClient]:
    c = await ViewClient.open(runner.url, TOKEN)
    welcome = await c.request({"type": "hello", "protocol": 1})
    assert welcome["type"] == "welcome"
    try:
        yield c
    finally:
        await c.close()


class HeadlessRunner:
    """`nightshift-runner` as a real subprocess (for restarts and kill -9)."""

    def __init__(self, data_dir: str) -> None:
        self.data_dir = data_dir
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self._stderr: IO[str] | None = None

    def start(self) -> str:
        self.release()  # a runner killed by the test before this restart
        env = {**os.environ, "NIGHTSHIFT_TOKEN": TOKEN}
        # Its log goes to a file, not a pipe nobody reads (a full pipe would stop the runner).
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runner", "--port", "0", "--data-dir", self.data_dir],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("listening on ws://"), (line, self.stderr())
        self.url = line.split()[-1]
        return self.url

    def stderr(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()

    def stop(self, sig: int | None = None, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if sig is None:
            self.proc.terminate()
        else:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.release()
        return code

    def release(self) -> None:
        """Kill the process if it still runs, and close its pipe and log (unclosed files fail tests)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


@pytest.fixture
def headless(data_dir: str) -> Iterator[HeadlessRunner]:
    h = HeadlessRunner(data_dir)
    try:
        yield h
    finally:
        h.release()
