"""The composer follows the selected session: a finished command takes no more input."""

from __future__ import annotations

import sys
from typing import Any

from desktop.core.status import Phase
from tests.desktop.qt.helpers import until


def test_composer_is_disabled_once_a_command_has_ended(run: Any, make_app: Any, embedded: Any) -> None:
    async def scenario() -> None:
        app = make_app(embedded.url, embedded.token)
        await app.start()
        app.window.show()
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
        composer = app.window.composer
        code = "import sys\nprint('ready', flush=True)\nsys.stdin.readline()\n"
        sid = await app.create_session({"argv": [sys.executable, "-u", "-c", code], "title": "reader"})
        await until(lambda: app.core.sessions[sid].status == "running", 60, "running")
        await until(lambda: composer.edit.isEnabled(), 10, "the composer enabled")
        assert composer.send_button.isEnabled()
        assert "input" in composer.edit.placeholderText()
        app.core.send_text(sid, "bye\n")
        app.connection.flush()
        await until(lambda: app.core.sessions[sid].status == "exited", 60, "the command's end")
        await until(lambda: not composer.edit.isEnabled(), 10, "the composer disabled")
        assert not composer.send_button.isEnabled()
        assert "ended" in composer.edit.placeholderText()

    run(scenario())
