"""The app's questions to the user, built here and asked by the app: quitting with work left, trusting a
runner's certificate, which runner a new session goes to. Each returns the open-able widget and what the app
needs to read the answer; the app decides what an answer does."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractButton, QInputDialog, QMessageBox, QWidget


def quit_question(parent: QWidget, running: int, unsent: int) -> tuple[QMessageBox, QAbstractButton]:
    """Quit although agents run here or messages wait: the box and its "quit" button."""
    lines, details = [], []
    if running:
        lines.append(f"{running} agent{'s are' if running != 1 else ' is'} still running.")
        details.append("Quitting stops them (their transcripts are kept).")
    if unsent:
        lines.append(f"{unsent} message{'s have' if unsent != 1 else ' has'} not been delivered yet.")
        details.append("They are kept and sent the next time Nightshift connects to this runner.")
    box = QMessageBox(QMessageBox.Icon.Question, "Quit Nightshift", " ".join(lines), parent=parent)
    box.setInformativeText(" ".join(details))
    label = "Stop agents and quit" if running else "Quit anyway"
    stop = box.addButton(label, QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    return box, stop


def trust_question(parent: QWidget, runner_label: str, fingerprint: str) -> tuple[QMessageBox, QAbstractButton]:
    """First connection to a wss:// runner whose certificate no authority vouches for: the box and its "trust"
    button. The user compares the fingerprint with the one `nightshift-runner` printed."""
    box = QMessageBox(QMessageBox.Icon.Question, "Trust this runner?",
                      f"First connection to {runner_label}. Its certificate's SHA-256 fingerprint is:"
                      f"\n\n{fingerprint}", parent=parent)
    box.setInformativeText("Trust it only if it is the fingerprint nightshift-runner printed on that machine "
                           "(nightshift-runner --fingerprint). If it ever changes, Nightshift will refuse "
                           "the connection and not send the token.")
    trust = box.addButton("Trust", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    return box, trust


def runner_question(parent: QWidget, labels: list[str], current: str | None) -> QInputDialog:
    """Which runner a new session goes to (several runners, nothing selected): `textValueSelected` gives the
    label chosen."""
    dialog = QInputDialog(parent)
    dialog.setWindowTitle("New session")
    dialog.setLabelText("Start the session on which runner?")
    dialog.setComboBoxItems(labels)
    dialog.setComboBoxEditable(False)
    if current in labels:
        dialog.setTextValue(current)
    return dialog
