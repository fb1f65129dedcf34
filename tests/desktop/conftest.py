"""Qt fixtures for the desktop tests: offscreen, an in-memory keyring, a qasync loop, runners, the app."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
# Apps under test never reach the developer's own notification service (tests start a session bus of their own).
os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
FAKE_CLAUDE = REPO / "tests" / "fakes" / "fake_claude.py"


class MemoryKeyring:
    """An in-memory keyring backend (the real one must never be touched by tests)."""

    def __init__(self) -> None:
        import keyring.backend

        class _Backend(keyring.backend.KeyringBackend):
            priority = 1  # type: ignore[assignment]

            def __init__(self) -> None:
                super().__init__()
                self.store: dict[tuple[str, str], str] = {}

            def get_password(self, service: str, username: str) -> str | None:
                return self.store.get((service, username))

            def set_password(self, service: str, username: str, password: str) -> None:
                self.store[(service, username)] = password

            def delete_password(self, service: str, username: str) -> None:
                import keyring.errors

                if (service, username) not in self.store:
                    raise keyring.errors.PasswordDeleteError(username)
                del self.store[(service, username)]

        self.backend = _Backend()


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[Any]:
    import keyring

    previous = keyring.get_keyring()
    mem = MemoryKeyring().backend
    keyring.set_keyring(mem)
    try:
        yield mem
    finally:
        keyring.set_keyring(previous)


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


UNHANDLED_LOGGERS = ("asyncio", "qasync", "desktop.unhandled")
"""Where unhandled exceptions end up: the default handlers of asyncio's and qasync's loops, and the app's own
(desktop/unhandled.py)."""


@pytest.fixture(autouse=True)
def fail_on_unhandled_exceptions() -> Iterator[list[logging.LogRecord]]:
    """Any task exception nobody retrieved, failing loop callback or exception from a Qt slot fails the test
    (issue 9: no task dies silently). Garbage is collected first: an unretrieved task exception is only
    reported when its task is freed."""
    handler = _ErrorRecords()
    loggers = [logging.getLogger(name) for name in UNHANDLED_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.records
        gc.collect()
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    if handler.records:
        lines = [f"{r.name}: {r.getMessage()}" + (f" ({r.exc_info[1]!r})" if r.exc_info else "")
                 for r in handler.records]
        pytest.fail("unhandled exceptions during the test:\n" + "\n".join(lines), pytrace=False)


@pytest.fixture
def qasync_loop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """The app's loop: qasync over the test's QApplication (Qt signals and asyncio in one thread)."""
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()
        delete_owned_qobjects(loop)


def delete_owned_qobjects(owner: object) -> None:
    """Destroy, here in the GUI thread, the QObjects that `owner` holds and Python owns.

    A closed qasync loop keeps a timer object whose Qt timers for still-pending callbacks (keepalives,
    timeouts) stay registered, in reference cycles with the loop. Left to the cyclic GC, it is destroyed in
    whichever thread next crosses a GC threshold (the embedded runner's, a journal thread): Qt then cannot
    unregister its timers ("QObject::~QObject: Timers cannot be stopped from another thread") and later
    delivers a timer event to the freed object, which crashes the GUI thread.
    """
    import shiboken6
    from PySide6.QtCore import QObject

    for value in list(vars(owner).values()):
        if isinstance(value, QObject) and shiboken6.isValid(value) and shiboken6.ownedByPython(value):
            shiboken6.delete(value)


@pytest.fixture
def run(qasync_loop: asyncio.AbstractEventLoop) -> Callable[..., Any]:
    def _run(coro: Coroutine[Any, Any, T], timeout: float = 180.0) -> T:
        return qasync_loop.run_until_complete(asyncio.wait_for(coro, timeout))

    return _run


@pytest.fixture
def claude_fake(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Agent sessions of type `claude` run the fake CLI (the embedded runner reads this at spawn time)."""
    monkeypatch.setenv("NIGHTSHIFT_CLAUDE_PATH", str(FAKE_CLAUDE))
    return FAKE_CLAUDE


@pytest.fixture
def embedded(tmp_path: Path, claude_fake: Path) -> Iterator[Any]:
    """A real runner on its own thread and loop, as the app hosts it."""
    from runner.embedded import EmbeddedRunner

    r = EmbeddedRunner(data_dir=str(tmp_path / "runner-data"))
    r.start()
    try:
        yield r
    finally:
        if r.running:
            r.stop()


@pytest.fixture
def make_app(qapp: Any, tmp_path: Path, qasync_loop: asyncio.AbstractEventLoop,
             request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Build NightshiftApp instances (remote mode against a given URL, or embedded with a data dir);
    every app is shut down at the end."""
    if "embedded" in request.fixturenames:
        # Set the runner up first so it is torn down last: apps disconnect while their loop still runs,
        # instead of the runner waiting out the closing handshake of a view whose loop is stopped.
        request.getfixturevalue("embedded")
    from desktop.app import NightshiftApp
    from desktop.core.backoff import Backoff
    from desktop.settings import SettingsStore, TokenStore

    apps: list[Any] = []

    def _make(url: str | None = None, token: str | None = None, *, data_dir: str | None = None,
              fast_backoff: bool = True, lifecycle: bool = False, settings: SettingsStore | None = None,
              keep_geometry: bool = False, **kwargs: Any) -> Any:
        backoff = Backoff(base=0.05, cap=0.4) if fast_backoff else None
        app = NightshiftApp(qapp, runner_url=url, token=token, data_dir=data_dir,
                            settings=settings or SettingsStore(tmp_path / f"settings-{len(apps)}.json"),
                            tokens=TokenStore(),
                            use_tray=False, backoff=backoff, lifecycle=lifecycle, **kwargs)
        if not keep_geometry:  # else: as remembered in the settings
            app.window.resize(1000, 700)
        apps.append(app)
        return app

    yield _make
    for app in apps:
        qasync_loop.run_until_complete(asyncio.wait_for(app.shutdown(), 60))
        app.window.deleteLater()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """After each desktop test (and its fixtures) is done, collect its garbage here, in the GUI thread.

    The cyclic GC runs in whichever thread crosses a threshold: during the next test that is often a runner
    or journal thread. Qt objects a test left in reference cycles (qasync's socket notifiers, a lifecycle
    watcher with a lambda connected) must not be destroyed there.
    """
    try:
        return (yield)
    finally:
        if Path(__file__).parent in Path(str(item.path)).parents:
            gc.collect()


OFFSCREEN_LIMITS = r"This plugin does not support (propagateSizeHints|raise|requestActivate)\(\)"


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """The offscreen platform warns that it cannot do window-manager things (size hints, raise); that
    says nothing about our code, so it must not fail GUI tests (every other Qt warning still does)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            existing = item.get_closest_marker("qt_log_ignore")
            patterns = (*existing.args, OFFSCREEN_LIMITS) if existing else (OFFSCREEN_LIMITS,)
            item.add_marker(pytest.mark.qt_log_ignore(*patterns), append=False)
