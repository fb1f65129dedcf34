"""The dialog in which the user answers an agent's questions (AskUserQuestion): one group per question, radio
buttons for a single choice, check boxes for several, and "Other" for an answer in the user's own words."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.questions import Question, answers_from, parse_questions
from desktop.qt import theme


class QuestionDialog(QDialog):
    def __init__(self, tool_input: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("The agent asks")
        self.setMinimumWidth(520)
        self.questions = parse_questions(tool_input)
        self.choices: dict[str, list[QAbstractButton]] = {}
        self.others: dict[str, QLineEdit] = {}
        layout = QVBoxLayout(self)
        for q in self.questions:
            layout.addWidget(self._group(q))
        std = QDialogButtonBox.StandardButton
        self.buttons = QDialogButtonBox(std.Ok | std.Cancel, self)
        send = self.buttons.button(std.Ok)
        send.setText("Send answers")
        send.setObjectName("primary")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._update()

    def _group(self, q: Question) -> QGroupBox:
        box = QGroupBox(q.header or "Question", self)
        col = QVBoxLayout(box)
        text = QLabel(q.text + ("  (choose any)" if q.multi else ""), box)
        text.setWordWrap(True)
        col.addWidget(text)
        group = QButtonGroup(box)
        group.setExclusive(not q.multi)
        buttons: list[QAbstractButton] = []
        for option in q.options:
            button: QAbstractButton = QCheckBox(option.label, box) if q.multi else QRadioButton(option.label, box)
            button.setToolTip(option.description)
            group.addButton(button)
            col.addWidget(button)
            if option.description:
                hint = QLabel(option.description, box)
                hint.setStyleSheet(f"color: {theme.current().muted.name()}; margin-left: 24px")
                col.addWidget(hint)
            button.toggled.connect(self._update)
            buttons.append(button)
        other = QLineEdit(box)
        other.setPlaceholderText("Other: your own answer")
        other.textChanged.connect(self._update)
        col.addWidget(other)
        self.choices[q.text] = buttons
        self.others[q.text] = other
        return box

    def answers(self) -> dict[str, str]:
        chosen = {text: [b.text() for b in buttons if b.isChecked()] for text, buttons in self.choices.items()}
        return answers_from(chosen, {text: edit.text() for text, edit in self.others.items()})

    def _update(self, *_args: object) -> None:
        # Every question needs an answer before they go back: the agent cannot ask again.
        ready = bool(self.questions) and all(q.text in self.answers() for q in self.questions)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ready)
