"""A wss:// runner with a self-signed certificate: the app asks once, showing the fingerprint, then pins it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QMessageBox

from desktop.core.status import Phase
from desktop.core.trust import PINS_FILE
from desktop.settings import SettingsStore
from tests.conftest import TOKEN
from tests.desktop.qt.helpers import until


def test_a_self_signed_runner_is_trusted_once_after_the_user_compares_its_fingerprint(
        run: Any, make_app: Any, tmp_path: Path) -> None:
    log = tempfile.TemporaryFile("w+", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "runner", "--port", "0", "--data-dir", str(tmp_path / "data"),
                             "--tls-self-signed"], stdout=subprocess.PIPE, stderr=log, text=True,
                            env={**os.environ, "NIGHTSHIFT_TOKEN": TOKEN})
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        fingerprint = proc.stdout.readline().split()[-1]
        assert url.startswith("wss://"), url
        settings_path = tmp_path / "config" / "settings.json"

        async def scenario() -> None:
            app = make_app(url, TOKEN, settings=SettingsStore(settings_path))
            await app.start()
            await until(lambda: app.trust_box is not None, 60, "the trust question")
            box = app.trust_box
            assert fingerprint in box.text()
            trust = next(b for b in box.buttons() if box.buttonRole(b) is QMessageBox.ButtonRole.AcceptRole)
            trust.click()
            await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live once trusted")
            assert fingerprint in (settings_path.parent / PINS_FILE).read_text(encoding="utf-8")
            await app.shutdown()
            # Pinned: the next start connects without asking.
            again = make_app(url, TOKEN, settings=SettingsStore(settings_path))
            await again.start()
            await until(lambda: again.core.status.phase is Phase.LIVE, 60, "live without asking")
            assert again.trust_box is None

        run(scenario())
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        log.close()
