"""An agent's questions (Claude Code's AskUserQuestion) as the user sees them: the prompt row lists them, Answer…
opens a dialog with single and multiple choices and "Other", and the answers reach the agent."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QRadioButton

from desktop.core.outbox import Outbox, OutboxItem
from desktop.core.questions import answers_from, parse_questions, question_summary
from desktop.core.transcript import RowKind
from desktop.qt.questions import QuestionDialog
from tests.desktop.qt.helpers import journal, until
from tests.desktop.qt.test_session_flow import click_permission, live_app, rows

INPUT = {"questions": [
    {"question": "Which database?", "header": "Database", "multiSelect": False,
     "options": [{"label": "SQLite", "description": "a file"}, {"label": "PostgreSQL", "description": "a server"}]},
    {"question": "Which features?", "header": "Features", "multiSelect": True,
     "options": [{"label": "Auth", "description": ""}, {"label": "Search", "description": ""}]},
]}


def test_questions_parse_summarize_and_join_answers() -> None:
    qs = parse_questions(INPUT)
    assert [(q.text, q.multi, [o.label for o in q.options]) for q in qs] == [
        ("Which database?", False, ["SQLite", "PostgreSQL"]), ("Which features?", True, ["Auth", "Search"])]
    assert question_summary(INPUT) == ("Which database?  [SQLite / PostgreSQL]\n"
                                       "Which features?  (several)  [Auth / Search]")
    assert parse_questions({"questions": [1, {"x": 2}]}) == [] and parse_questions(None) == []
    assert answers_from({"Which features?": ["Auth", "Search"]}, {"Which features?": " Export "}) == {
        "Which features?": "Auth, Search, Export"}


def test_the_dialog_needs_every_answer_and_returns_them(qtbot: Any) -> None:
    dialog = QuestionDialog(INPUT)
    qtbot.addWidget(dialog)
    send = dialog.buttons.buttons()[0]
    assert not send.isEnabled()
    radios = dialog.findChildren(QRadioButton)
    checks = dialog.findChildren(QCheckBox)
    assert [r.text() for r in radios] == ["SQLite", "PostgreSQL"] and [c.text() for c in checks] == ["Auth", "Search"]
    radios[1].setChecked(True)
    assert not send.isEnabled()  # the second question has no answer yet
    checks[0].setChecked(True)
    checks[1].setChecked(True)
    assert send.isEnabled()
    radios[0].setChecked(True)  # one choice only
    assert not radios[1].isChecked()
    dialog.others["Which database?"].setText("DuckDB")
    assert dialog.answers() == {"Which database?": "SQLite, DuckDB", "Which features?": "Auth, Search"}


def test_answers_survive_in_the_outbox_on_disk() -> None:
    item = Outbox().add_answer("s", "r1", "allow", answers={"Which database?": "SQLite"})
    again = OutboxItem.from_record(item.to_record())
    assert again is not None and again.answer == {"request_id": "r1", "behavior": "allow",
                                                  "answers": {"Which database?": "SQLite"}}
    assert OutboxItem.from_record({**item.to_record(), "answer": {"request_id": "r", "behavior": "allow",
                                                                  "answers": {"q": 1}}}) is None


def test_answer_an_agents_questions_end_to_end(run: Any, make_app: Any, embedded: Any, qtbot: Any) -> None:
    async def scenario() -> None:
        app = await live_app(make_app, embedded)
        sid = await app.create_session({"agent": "claude", "title": "asks", "cwd": embedded.data_dir})
        assert sid is not None
        app.send(sid, "set it up mode:ask")
        await until(lambda: any(r.data.get("behavior") is None for r in rows(app, sid, RowKind.PERMISSION)), 60,
                    "the question row")
        row = rows(app, sid, RowKind.PERMISSION)[-1]
        assert "Which database should we use?" in row.text and "[SQLite / PostgreSQL]" in row.text
        click_permission(app, sid, "allow")  # the primary button, labelled Answer…
        await until(lambda: getattr(app, "question_dialog", None) is not None, 30, "the dialog")
        dialog = app.question_dialog
        next(r for r in dialog.findChildren(QRadioButton) if r.text() == "PostgreSQL").setChecked(True)
        next(c for c in dialog.findChildren(QCheckBox) if c.text() == "Search").setChecked(True)
        dialog.others["Which features?"].setText("Export")
        dialog.accept()
        await until(lambda: app.core.sessions[sid].status == "idle"
                    and rows(app, sid, RowKind.PERMISSION)[-1].data.get("behavior") == "allow", 60, "answered")
        events = await journal(embedded.url, embedded.token, sid)
        (answer,) = [e for e in events if e["kind"] == "permission_answer"]
        assert answer["answers"] == {"Which database should we use?": "PostgreSQL",
                                     "Which features?": "Search, Export"}
        text = "".join(e["text"] for e in events if e["kind"] == "assistant")
        assert '"Which database should we use?"="PostgreSQL"' in text

    run(scenario())
