"""One RunnerHandle per runner: the app keeps them, and each frees what nobody shows."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from desktop.core.status import Phase
from desktop.core.transcript import RowKind
from desktop.settings import EMBEDDED, RemoteRunner, SettingsStore
from tests.desktop.qt.helpers import until

SLEEPER = [sys.executable, "-u", "-c", "import time; print('up', flush=True); time.sleep(600)"]


def outputs(app: Any, sid: str) -> list[str]:
    return [r.text for r in app.bridge.model(sid).transcript.rows if r.kind is RowKind.OUTPUT]


def test_a_session_nobody_shows_is_detached_and_freed_then_shown_again_from_its_start(
        run: Any, make_app: Any, embedded: Any) -> None:
    async def scenario() -> None:
        app = make_app(embedded.url, embedded.token, release_after_s=0.3)
        await app.start()
        app.window.show()
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
        first = await app.create_session({"argv": ["/bin/echo", "first"], "title": "first"})
        await until(lambda: outputs(app, first) == ["first"], 60, "the first session shown")
        second = await app.create_session({"argv": SLEEPER, "title": "second"})
        assert app.window.current == second
        await until(lambda: not app.bridge.has_model(first), 30, "the unshown session's transcript freed")
        assert first not in app.core.cursors and app.bridge.has_model(second)
        await until(lambda: app.bridge.has_model(second) and outputs(app, second) == ["up"], 60, "kept")
        app.window.select_session(first)
        await until(lambda: outputs(app, first) == ["first"], 60, "shown again, from its start")
        assert app.bridge.model(first).transcript.out_of_order == 0

    run(scenario())


def test_the_embedded_runner_stays_while_a_remote_one_is_shown(run: Any, make_app: Any, embedded: Any,
                                                                tmp_path: Path) -> None:
    async def scenario() -> None:
        app = make_app(data_dir=str(tmp_path / "own"))
        await app.start()
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
        sid = await app.create_session({"argv": SLEEPER, "title": "local job"})
        own = app.shown
        app.tokens.set(embedded.url, embedded.token)
        app.switch_runner(embedded.url)
        await until(lambda: app.runner_key == embedded.url and app.core is not None
                    and app.core.status.phase is Phase.LIVE, 60, "the remote runner current")
        assert set(app.runners) == {EMBEDDED, embedded.url}
        assert app.runners[EMBEDDED] is own and own.core.sessions[sid].status == "running"
        # Our session stays listed, in the embedded runner's group; the remote runner has a group of its own.
        assert app.window.sessions_model.row_of(sid, EMBEDDED) >= 0
        assert app.window.sessions_model.runners() == [EMBEDDED, embedded.url]
        assert app.running_count() == 1
        # Hiding the window, a wake, a network change: every runner is concerned, not only the one shown.
        app.set_rendering(False)
        assert [h.core.rendering for h in app.runners.values()] == [False, False]
        app.set_rendering(True)
        assert await app.probe(10.0) is True
        app.switch_runner(EMBEDDED)
        await until(lambda: app.shown is own, 60, "the embedded runner shown again")
        # The remote runner's handle is gone as a unit: nothing of it is connected any more.
        await until(lambda: set(app.runners) == {EMBEDDED}, 30, "the remote runner's handle closed")
        await until(lambda: len(embedded._runner.server.views) == 0, 30, "the remote view closed")
        assert app.window.sessions_model.runners() == [EMBEDDED]
        assert app.window.sessions_model.row_of(sid, EMBEDDED) >= 0

    run(scenario())


def test_the_runner_shown_last_time_is_shown_on_start(run: Any, make_app: Any, embedded: Any,
                                                      tmp_path: Path) -> None:
    async def scenario() -> None:
        settings = SettingsStore(tmp_path / "settings.json")
        settings.runners.append(RemoteRunner("workstation", embedded.url))
        settings.last_runner = embedded.url
        settings.save()
        app = make_app(settings=SettingsStore(tmp_path / "settings.json"), data_dir=str(tmp_path / "mine"))
        app.tokens.set(embedded.url, embedded.token)
        await app.start()
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
        assert app.runner_key == embedded.url
        assert app.core.status.runner == "workstation"
        # Every configured runner is connected, the embedded one too (it starts meanwhile).
        await until(lambda: set(app.runners) == {EMBEDDED, embedded.url}
                    and app.runners[EMBEDDED].core.status.phase is Phase.LIVE, 60, "both runners live")
        assert app.runner_key == embedded.url
        # A runner removed from the settings meanwhile is not looked for: the embedded runner is shown.
        settings.remove(embedded.url)
        settings.last_runner = embedded.url
        settings.save()
        again = make_app(settings=SettingsStore(tmp_path / "settings.json"),
                         data_dir=str(tmp_path / "own"))
        assert again.runner_key == EMBEDDED

    run(scenario())
