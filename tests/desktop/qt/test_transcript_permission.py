"""Issue 12 item 7: a permission prompt offers "Allow for this session" (Claude Code's own suggestions go back as
updated_permissions, so it stops asking) and "Deny with a message" (the agent reads the message); Esc interrupts
the running turn. Against the real runner with the fake Claude Code CLI."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from desktop.core.transcript import RowKind
from tests.desktop.qt.helpers import journal, until
from tests.desktop.qt.test_session_flow import click_permission, live_app, rows


def open_prompt(app: Any, sid: str) -> Any:
    return next(r for r in reversed(rows(app, sid, RowKind.PERMISSION)) if r.data.get("behavior") is None)


def test_permission_allow_for_this_session_and_deny_with_a_message(run: Any, make_app: Any, embedded: Any,
                                                                    qtbot: Any) -> None:
    async def scenario() -> None:
        app = await live_app(make_app, embedded)
        sid = await app.create_session({"agent": "claude", "title": "agent", "cwd": embedded.data_dir})
        assert sid is not None
        view = app.window.transcript

        # Deny with a message: the message reaches the agent (its tool result) and shows on the prompt.
        app.send(sid, "please do it mode:permission")
        await until(lambda: any(r.data.get("behavior") is None for r in rows(app, sid, RowKind.PERMISSION)),
                    60, "the prompt row")
        prompt = open_prompt(app, sid)
        model = app.bridge.model(sid)
        labels = view.delegate.layout(prompt, view.viewport().width(), model).extra["labels"]
        assert list(labels.values()) == ["Allow", "Allow for this session", "Deny", "Deny with a message…"]
        click_permission(app, sid, "deny_message")
        dialog = view.deny_dialog
        assert dialog is not None and dialog.isVisible()
        dialog.setTextValue("Use a temporary folder instead")
        dialog.accept()
        await until(lambda: prompt.data.get("behavior") == "deny", 60, "the deny in the transcript")
        assert prompt.data.get("message") == "Use a temporary folder instead"
        await until(lambda: any(r.data.get("output") == "Use a temporary folder instead" and r.data.get("is_error")
                                for r in rows(app, sid, RowKind.TOOL)), 60, "the agent got the message")
        await until(lambda: app.core.sessions[sid].status == "idle", 60, "turn end")

        # Allow for this session: the CLI's suggestions go back; the same command is not asked again.
        app.send(sid, "please do it mode:permission")
        await until(lambda: any(r.data.get("behavior") is None for r in rows(app, sid, RowKind.PERMISSION)),
                    60, "the second prompt")
        second = open_prompt(app, sid)
        suggestions = second.data.get("suggestions")
        assert suggestions and suggestions[0]["type"] == "addRules"
        click_permission(app, sid, "allow_session")
        await until(lambda: second.data.get("behavior") == "allow", 60, "the allow in the transcript")
        assert second.data.get("updated_permissions") == suggestions
        await until(lambda: app.core.sessions[sid].status == "idle", 60, "turn end")
        prompts = len(rows(app, sid, RowKind.PERMISSION))
        app.send(sid, "please do it mode:permission")
        await until(lambda: sum(1 for r in rows(app, sid, RowKind.TOOL) if r.data.get("output") is not None) >= 3,
                    60, "the third tool call ran")
        await until(lambda: app.core.sessions[sid].status == "idle", 60, "turn end")
        assert len(rows(app, sid, RowKind.PERMISSION)) == prompts, "asked again after allow for this session"
        events = await journal(embedded.url, embedded.token, sid)
        answers = [(e["behavior"], e.get("message"), bool(e.get("updated_permissions")))
                   for e in events if e["kind"] == "permission_answer"]
        assert answers == [("deny", "Use a temporary folder instead", False), ("allow", None, True)]

    run(scenario())


def test_permission_esc_interrupts_the_running_turn(run: Any, make_app: Any, embedded: Any, qtbot: Any) -> None:
    async def scenario() -> None:
        app = await live_app(make_app, embedded)
        sid = await app.create_session({"agent": "claude", "title": "agent", "cwd": embedded.data_dir})
        assert sid is not None
        # Idle: Esc does nothing (no interrupt request the runner would refuse).
        app.window.composer.edit.setFocus()
        QTest.keyClick(app.window.composer.edit, Qt.Key.Key_Escape)
        app.send(sid, "please do it mode:permission")
        await until(lambda: app.core.sessions[sid].status == "needs_approval"
                    and any(r.data.get("behavior") is None for r in rows(app, sid, RowKind.PERMISSION)),
                    60, "a turn waiting")
        prompt = open_prompt(app, sid)
        app.window.activateWindow()
        app.window.composer.edit.setFocus()
        QTest.keyClick(app.window.composer.edit, Qt.Key.Key_Escape)
        await until(lambda: any(r.kind is RowKind.TURN_END and r.data.get("status") == "interrupted"
                                for r in app.bridge.model(sid).transcript.rows), 60, "the interrupted turn")
        await until(lambda: prompt.data.get("behavior") == "cancelled", 60, "the prompt withdrawn")
        events = await journal(embedded.url, embedded.token, sid)
        assert [e["status"] for e in events if e["kind"] == "turn_end"] == ["interrupted"]

    run(scenario())


def test_permission_answer_for_the_session_survives_a_restart_of_the_outbox() -> None:
    """An answer given offline waits in the outbox on disk: its updated_permissions must load back."""
    from desktop.core.outbox import OutboxItem

    rules = [{"type": "addRules", "rules": [{"toolName": "Bash", "ruleContent": "make"}], "behavior": "allow",
              "destination": "localSettings"}]
    item = OutboxItem("a-1", "s1", "", answer={"request_id": "r1", "behavior": "allow",
                                                "updated_permissions": rules})
    loaded = OutboxItem.from_record(item.to_record())
    assert loaded is not None and loaded.answer == {"request_id": "r1", "behavior": "allow",
                                                    "updated_permissions": rules}
