"""Agent options in the window: remembered per-agent defaults and Codex's approval in the new-session dialog, a
version warning there, and a session's model / permission mode changed while it exists (`configure`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from desktop.core.status import Phase
from desktop.qt.dialogs import NewSessionDialog, SessionOptionsDialog
from tests.desktop.qt.helpers import until
from tests.runner.agents.helpers import FAKE_PATHS

AGENTS = [
    {"name": "command", "label": "Command", "available": True},
    {"name": "claude", "label": "Claude Code", "available": True, "version": "2.1.300",
     "models": ["sonnet", "opus"], "permission_modes": ["ask", "acceptEdits", "plan"]},
    {"name": "codex", "label": "Codex CLI", "available": True, "version": "9.0.0", "models": [],
     "permission_modes": ["read-only", "workspace-write", "danger-full-access"],
     "options": {"approval": ["never", "auto_review"]},
     "warning": "Codex CLI 9.0.0 is newer than the versions Nightshift was tested with (0.171.0)"},
]


def test_new_session_dialog_offers_approval_warns_and_starts_from_the_defaults(qtbot: Any) -> None:
    defaults = {"codex": {"permission_mode": "read-only", "approval": "auto_review", "model": "gpt-5"}}
    dialog = NewSessionDialog(AGENTS, "/tmp", defaults=defaults)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.selected_agent()["name"] == "claude"
    assert not dialog.approval.isVisible() and not dialog.warning.isVisible()
    dialog.agent.setCurrentIndex(2)
    assert dialog.agent.currentText().endswith("⚠")
    assert dialog.approval.isVisible() and dialog.warning.isVisible() and "9.0.0" in dialog.warning.text()
    assert dialog.request() == {"type": "create", "agent": "codex", "cwd": "/tmp", "model": "gpt-5",
                                "permission_mode": "read-only", "approval": "auto_review"}
    dialog.approval.setCurrentIndex(dialog.approval.findData(""))
    assert "approval" not in dialog.request()


def test_session_options_dialog_sends_only_what_changed(qtbot: Any) -> None:
    dialog = SessionOptionsDialog("s-1", AGENTS[1], {"model": "sonnet", "permission_mode": "ask"})
    qtbot.addWidget(dialog)
    assert dialog.request() is None
    dialog.permission.setCurrentIndex(dialog.permission.findData("plan"))
    assert dialog.request() == {"type": "configure", "session": "s-1", "permission_mode": "plan"}
    dialog.model_box.setCurrentIndex(0)  # "Default": the CLI's own model
    assert dialog.request() == {"type": "configure", "session": "s-1", "permission_mode": "plan", "model": None}
    dialog.model_box.setEditText("claude-opus-4-1")
    assert dialog.request()["model"] == "claude-opus-4-1"


@pytest.mark.parametrize("agent", ["gemini", "codex"])
def test_changing_a_running_sessions_model_and_mode(run: Any, make_app: Any, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch, agent: str) -> None:
    for var, path in FAKE_PATHS.items():
        monkeypatch.setenv(var, str(path))

    async def scenario() -> None:
        app = make_app(data_dir=str(tmp_path / "embedded"))
        await app.start()
        await until(lambda: app.core.status.phase is Phase.LIVE and app.core.agents, 60, "live")
        sid = await app.create_session({"agent": agent, "cwd": str(tmp_path), "model": "first-model"})
        assert sid is not None
        # Remembered for the next new session of this agent.
        assert app.settings.agent_defaults[agent] == {"model": "first-model"}
        await until(lambda: sid in app.core.sessions, 60, "the session")
        app.ask_session_options(sid)
        dialog = app.session_options_dialog
        mode = "yolo" if agent == "gemini" else "read-only"
        dialog.model_box.setEditText("second-model")
        dialog.permission.setCurrentIndex(dialog.permission.findData(mode))
        dialog.accept()
        await until(lambda: app.core.sessions[sid].data.get("options", {}).get("model") == "second-model",
                    60, "the runner to apply the change")
        assert app.core.sessions[sid].data["options"]["permission_mode"] == mode

    run(scenario())
