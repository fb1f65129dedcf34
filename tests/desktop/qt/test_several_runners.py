"""Several runners at once: two real headless runners in one window, their sessions in one list grouped by
runner; one of them frozen (half-open) while the other streams."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from desktop.core.status import Color, Phase
from desktop.core.transcript import RowKind
from tests.conftest import TOKEN, HeadlessRunner
from tests.desktop.qt.helpers import until
from tests.fakes.blackhole_proxy import BlackholeProxy

TICKER = [sys.executable, "-u", "-c",
          "import time\nfor i in range(100000):\n    print(f'tick {i}', flush=True)\n    time.sleep(0.05)"]
SLEEPER = [sys.executable, "-u", "-c", "import time; print('up', flush=True); time.sleep(600)"]


def outputs(handle: Any, sid: str) -> list[str]:
    return [r.text for r in handle.bridge.model(sid).transcript.rows if r.kind is RowKind.OUTPUT]


def shown_outputs(app: Any) -> list[str]:
    """The output rows of the transcript the window shows (whichever model it is)."""
    model = app.window.transcript.model()
    return [r.text for r in model.transcript.rows if r.kind is RowKind.OUTPUT] if model is not None else []


def click_session(app: Any, runner: str, sid: str) -> None:
    """A click on the session's row in the sidebar, as the user does it."""
    view, model = app.window.sessions_view, app.window.sessions_model
    index = model.index(model.row_of(sid, runner))
    view.scrollTo(index)
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())


def group_rows(app: Any) -> dict[str, list[str | None]]:
    """The sidebar as the user reads it: per runner (in order), its visible rows' session ids (None: header)."""
    view, model = app.window.sessions_view, app.window.sessions_model
    groups: dict[str, list[str | None]] = {}
    for i, row in enumerate(model.rows):
        if not view.isRowHidden(i):
            groups.setdefault(row.runner, []).append(row.info.id if row.info is not None else None)
    return groups


async def start_command(app: Any, title: str) -> None:
    """Fill the new-session dialog the app opened with a command session and accept it."""
    dialog = app.new_session_dialog
    dialog.agent.setCurrentIndex(dialog.agent.findData("command"))
    dialog.command.setText("echo hello")
    dialog.title.setText(title)
    dialog.accept()


def shows(app: Any, runner: str, title: str) -> bool:
    """The window shows the session titled so, of that runner (which has it)."""
    info = app.runners[runner].core.sessions.get(app.window.current or "")
    return app.runner_key == runner and info is not None and info.title == title


def test_every_runners_sessions_are_listed_grouped_and_any_of_them_is_shown_live(
        run: Any, make_app: Any, tmp_path: Path) -> None:
    first, second = HeadlessRunner(str(tmp_path / "one")), HeadlessRunner(str(tmp_path / "two"))
    try:
        first_url, second_url = first.start(), second.start()

        async def scenario() -> None:
            app = make_app(runner_urls=[first_url, second_url], token=TOKEN)
            await app.start()
            app.window.show()
            await until(lambda: set(app.runners) == {first_url, second_url}
                        and all(h.core.status.phase is Phase.LIVE for h in app.runners.values()), 60,
                        "both runners live")
            waiting = await app.create_session({"argv": SLEEPER, "title": "sleeper on the first"},
                                               runner=first_url)
            ticking = await app.create_session({"argv": TICKER, "title": "ticker on the second"},
                                               runner=second_url)
            assert waiting and ticking
            # One list: each runner's header (its dot) followed by its own sessions, in the runners' order.
            await until(lambda: group_rows(app) == {first_url: [None, waiting], second_url: [None, ticking]}, 30,
                        "both groups listed")
            headers = app.window.sessions_model.headers
            await until(lambda: all(headers[k].status.color is Color.GREEN for k in (first_url, second_url)), 30,
                        "each group's own green dot")
            assert headers[first_url].sessions == 1 and headers[second_url].sessions == 1

            # The first runner's session, then the second's: a click each, no switching of runners.
            click_session(app, first_url, waiting)
            await until(lambda: shown_outputs(app) == ["up"], 60, "the first runner's transcript")
            assert app.runner_key == first_url and app.window.current == waiting
            click_session(app, second_url, ticking)
            assert app.runner_key == second_url and app.window.current == ticking
            assert app.window.transcript.model() is app.runners[second_url].bridge.model(ticking)
            await until(lambda: len(shown_outputs(app)) >= 5, 60, "ticks shown")
            seen = len(shown_outputs(app))
            await until(lambda: len(shown_outputs(app)) >= seen + 10, 60, "the second runner's transcript live")
            # The other runner reconnects and lists its sessions again: the selection and the transcript shown stay.
            model = app.window.transcript.model()
            reconnected = app.runners[first_url].connection
            listed: list[bool] = []
            app.runners[first_url].bridge.sessions_listed.connect(lambda: listed.append(True))
            reconnected.reconnect_now("test: the first runner reconnects")
            await until(lambda: bool(listed) and app.runners[first_url].core.status.phase is Phase.LIVE, 60,
                        "the first runner listed its sessions again")
            assert app.window.current == ticking and app.runner_key == second_url
            assert app.window.transcript.model() is model and app.window.sessions_view.currentIndex().row() == \
                app.window.sessions_model.row_of(ticking, second_url)
            seen = len(shown_outputs(app))
            await until(lambda: len(shown_outputs(app)) >= seen + 5, 60, "still live")
            # The window's actions go to the runner of the session they name, whichever is current.
            app.window.rename_requested.emit(waiting, "renamed on the first")
            await until(lambda: app.runners[first_url].core.sessions[waiting].title == "renamed on the first", 30,
                        "renamed on its own runner")
            assert app.runner_key == second_url

            # The filter works across groups: a group without a match is hidden whole.
            app.window.session_filter.setText("ticker")
            assert group_rows(app) == {second_url: [None, ticking]}
            app.window.session_filter.setText("on the")
            assert group_rows(app) == {first_url: [None, waiting], second_url: [None, ticking]}
            app.window.session_filter.clear()

            # A new session with two runners and nothing selected: the app asks which runner first (here not
            # the current one).
            assert app.runner_key == second_url
            app.window.select_session(None)
            assert app.window.current is None
            click_session(app, second_url, ticking)  # the row that was current: shown again by a click
            assert app.window.current == ticking
            app.window.select_session(None)
            app.ask_new_session()
            app.runner_choice_dialog.setTextValue(first_url)  # a --runner runner is labelled by its URL
            app.runner_choice_dialog.accept()
            await start_command(app, "asked for")
            await until(lambda: shows(app, first_url, "asked for"), 30, "created on the runner chosen, and shown")
            # A group's header selected: no question, the session goes to that runner.
            app.window.select_runner(second_url)
            assert app.runner_key == second_url and app.window.current is None
            app.ask_new_session()
            await start_command(app, "from the header")
            await until(lambda: shows(app, second_url, "from the header"), 30, "created on the header's runner")

        run(scenario())
    finally:
        first.release()
        second.release()


def test_a_frozen_runner_never_stalls_the_other(run: Any, make_app: Any, tmp_path: Path) -> None:
    first, second = HeadlessRunner(str(tmp_path / "one")), HeadlessRunner(str(tmp_path / "two"))
    proxy: BlackholeProxy | None = None
    try:
        first_url, second_url = first.start(), second.start()
        proxy = BlackholeProxy("127.0.0.1", urlparse(first_url).port or 0).start()
        frozen_url = proxy.url

        async def scenario() -> None:
            assert proxy is not None
            app = make_app(runner_urls=[frozen_url, second_url], token=TOKEN)
            await app.start()
            app.window.show()
            # Both connected at once, without choosing the second one first.
            await until(lambda: set(app.runners) == {frozen_url, second_url}
                        and all(h.core.status.phase is Phase.LIVE for h in app.runners.values()), 60,
                        "both runners live")
            assert app.runner_key == frozen_url
            waiting = await app.create_session({"argv": SLEEPER, "title": "on the first"})
            ticking = await app.create_session({"argv": TICKER, "title": "on the second"}, runner=second_url)
            assert waiting and ticking
            runners = app.runners
            await until(lambda: group_rows(app) == {frozen_url: [None, waiting], second_url: [None, ticking]}, 30,
                        "each runner's session in its group")
            click_session(app, second_url, ticking)
            await until(lambda: len(shown_outputs(app)) >= 5, 60, "ticks shown")

            # The first runner's link goes half-open (and new connections to it vanish too).
            proxy.freeze()
            proxy.set_down(True)
            at_freeze = len(shown_outputs(app))
            await until(lambda: len(shown_outputs(app)) >= at_freeze + 40, 60,
                        "the second runner's transcript live while the first is frozen")
            # The frozen runner is found out by its own keepalive: its group's dot and the overall dot turn.
            headers = app.window.sessions_model.headers
            await until(lambda: headers[frozen_url].status.color in (Color.YELLOW, Color.RED), 90,
                        "the frozen runner's own dot no longer green")
            assert runners[frozen_url].core.status.phase is not Phase.LIVE
            assert headers[second_url].status.phase is Phase.LIVE and app.window.status.phase is Phase.LIVE
            assert app.overall_status().color in (Color.YELLOW, Color.RED)
            # Its session stays listed, from what the desktop knows, and can be looked at.
            assert group_rows(app) == {frozen_url: [None, waiting], second_url: [None, ticking]}
            click_session(app, frozen_url, waiting)
            await until(lambda: shown_outputs(app) == ["up"], 30, "the frozen runner's session as known")
            assert app.window.status.color in (Color.YELLOW, Color.RED)  # the banner is about its runner
            click_session(app, second_url, ticking)
            before = len(shown_outputs(app))
            await until(lambda: len(shown_outputs(app)) >= before + 20, 60, "still streaming")
            assert app.window.status.phase is Phase.LIVE

        run(scenario())
    finally:
        if proxy is not None:
            proxy.stop()
        first.release()
        second.release()


def test_a_runner_black_holed_from_the_start_holds_nothing_up(run: Any, make_app: Any, tmp_path: Path) -> None:
    live = HeadlessRunner(str(tmp_path / "live"))
    proxy: BlackholeProxy | None = None
    try:
        live_url = live.start()
        proxy = BlackholeProxy("127.0.0.1", urlparse(live_url).port or 0).start()
        proxy.set_down(True)  # accepts, then never answers: the handshake hangs
        hole_url = proxy.url

        async def scenario() -> None:
            # The black hole is the first runner (the current one): the app starts, and the other's group fills
            # and streams, while the black hole's handshake is still waiting.
            app = make_app(runner_urls=[hole_url, live_url], token=TOKEN)
            starting = asyncio.ensure_future(app.start())
            app.window.show()
            await until(lambda: live_url in app.runners
                        and app.runners[live_url].core.status.phase is Phase.LIVE, 20, "the other runner live")
            await asyncio.wait_for(starting, 20)
            assert app.runners[hole_url].core.status.phase is not Phase.LIVE
            ticking = await app.create_session({"argv": TICKER, "title": "ticker"}, runner=live_url)
            assert ticking
            await until(lambda: group_rows(app) == {hole_url: [None], live_url: [None, ticking]}, 30,
                        "the other runner's group listed")
            click_session(app, live_url, ticking)
            await until(lambda: len(shown_outputs(app)) >= 10, 60, "its transcript live")
            assert app.runners[hole_url].core.status.phase is not Phase.LIVE

        run(scenario())
    finally:
        if proxy is not None:
            proxy.stop()
        live.release()
