"""Several runners at once: two real headless runners in one window, one of them frozen (half-open)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

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
            # Both connected at once, without showing the second one first.
            await until(lambda: set(app.runners) == {frozen_url, second_url}
                        and all(h.core.status.phase is Phase.LIVE for h in app.runners.values()), 60,
                        "both runners live")
            assert app.runner_key == frozen_url and app.window.runner_list.isVisible()
            waiting = await app.create_session({"argv": SLEEPER, "title": "on the first"})
            app.switch_runner(second_url)
            await until(lambda: app.runner_key == second_url, 30, "the second runner shown")
            ticking = await app.create_session({"argv": TICKER, "title": "on the second"})
            assert waiting and ticking
            # Each runner's sessions in its own group, with its own dot and count.
            runners = app.runners
            await until(lambda: list(runners[frozen_url].core.sessions) == [waiting]
                        and list(runners[second_url].core.sessions) == [ticking], 30, "each runner's session")
            rows = {app.window.runner_list.item(i).text() for i in range(app.window.runner_list.count())}
            assert rows == {f"{frozen_url}  ·  1 session", f"{second_url}  ·  1 session"}
            shown = runners[second_url]
            await until(lambda: len(outputs(shown, ticking)) >= 5, 60, "ticks shown")

            # The first runner's link goes half-open (and new connections to it vanish too).
            proxy.freeze()
            proxy.set_down(True)
            at_freeze = len(outputs(shown, ticking))
            await until(lambda: len(outputs(shown, ticking)) >= at_freeze + 40, 60,
                        "the second runner's transcript live while the first is frozen")
            # The frozen runner is found out by its own keepalive; the overall dot turns with it.
            await until(lambda: runners[frozen_url].core.status.phase is not Phase.LIVE, 90,
                        "the frozen runner no longer live")
            assert shown.core.status.phase is Phase.LIVE
            assert app.overall_status().color in (Color.YELLOW, Color.RED)
            assert app.window.runner_list.statuses[second_url].phase is Phase.LIVE
            before = len(outputs(shown, ticking))
            await until(lambda: len(outputs(shown, ticking)) >= before + 20, 60, "still streaming")

        run(scenario())
    finally:
        if proxy is not None:
            proxy.stop()
        first.release()
        second.release()
