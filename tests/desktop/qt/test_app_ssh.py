"""An ssh:// runner saved in the settings: the app reaches it through the system ssh (a real sshd on loopback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from desktop.core.status import Phase
from desktop.settings import EMBEDDED, RemoteRunner, SettingsStore
from tests.desktop.core.test_ssh_tunnel import remote_data, sshd  # noqa: F401 (fixtures)
from tests.desktop.qt.helpers import until
from tests.fakes.sshd import Sshd, runner_command


def test_a_saved_ssh_runner_is_connected_through_a_tunnel_next_to_the_embedded_one(
        run: Any, make_app: Any, sshd: Sshd, remote_data: Path, tmp_path: Path) -> None:  # noqa: F811
    settings = SettingsStore(tmp_path / "config" / "settings.json")
    settings.runners.append(RemoteRunner("over ssh", sshd.url))
    settings.last_runner = sshd.url
    settings.save()

    async def scenario() -> None:
        app = make_app(settings=SettingsStore(settings.path), data_dir=str(tmp_path / "mine"),
                       tunnel_options={"runner_command": runner_command(remote_data),
                                       "ssh_options": sshd.options()})
        await app.start()
        assert app.runner_key == sshd.url
        handle = app.runners[sshd.url]
        await until(lambda: handle.core.status.phase is Phase.LIVE, 90, "live through the SSH tunnel")
        assert handle.tunnel is not None and handle.tunnel.alive
        await until(lambda: EMBEDDED in app.runners
                    and app.runners[EMBEDDED].core.status.phase is Phase.LIVE, 60, "the embedded one too")
        sid = await app.create_session({"argv": ["/bin/echo", "over ssh"], "title": "remote job"})
        assert sid is not None
        await until(lambda: app.core.sessions[sid].status == "exited", 60, "the remote session ran")
        tunnel = handle.tunnel
        await app.shutdown()
        assert not tunnel.alive  # the forwarding ssh stopped with the handle (the runner keeps running)

    run(scenario())
