"""Dialogs: new session, settings (remote runners and tokens), text viewer. All are opened with open(),
never exec(), so they work inside the qasync loop."""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.ssh_tunnel import SshTarget
from desktop.core.worktree import repository_root
from desktop.qt import theme
from desktop.qt.folder_picker import FolderPicker, Request, failure_text
from desktop.qt.sessions import agent_label
from desktop.settings import EMBEDDED, RemoteRunner, SettingsStore, TokenStore
from runner.vocabulary import RequestError


def default_command() -> str:
    return "cmd /c dir" if sys.platform == "win32" else "bash -l"


class NewSessionDialog(QDialog):
    """Agent picker (available agents and the command agent), folder, command, model, permissions."""

    def __init__(self, agents: list[dict[str, Any]], cwd: str | None = None,
                 parent: QWidget | None = None, defaults: dict[str, dict[str, str]] | None = None,
                 local: bool = True, request: Request | None = None, recent: list[str] | None = None,
                 runner_name: str = "") -> None:
        super().__init__(parent)
        self.defaults = defaults or {}
        self.local = local
        """The runner runs on this machine, so the folder can be checked for a git repository here."""
        self.runner_request = request
        """The runner's `request`: Browse lists its folders, and Create checks the folder there first."""
        self.runner_name = runner_name
        self.picker: FolderPicker | None = None
        self._checking: asyncio.Task[None] | None = None
        self.setWindowTitle("New session")
        self.setMinimumWidth(520)
        self.agents = agents or [{"name": "command", "label": "Command", "available": True}]
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(10)
        self.agent = QComboBox(self)
        for info in self.agents:
            name = str(info.get("name"))
            label = str(info.get("label") or agent_label(name))
            if info.get("version"):
                label += f"  ({info['version']})"
            if not info.get("available", True):
                label += "  (not installed)"
            elif info.get("warning"):
                label += "  ⚠"
            self.agent.addItem(label, name)
            item = self.agent.model().item(self.agent.count() - 1)  # type: ignore[attr-defined]
            if not info.get("available", True):
                item.setEnabled(False)
                item.setToolTip(str(info.get("reason") or "not available on the runner's machine"))
        self.title = QLineEdit(self)
        self.title.setPlaceholderText("Optional")
        # The folders of recent sessions on this runner, most recent first; any other can be typed.
        self.folder_box = QComboBox(self)
        self.folder_box.setEditable(True)
        self.folder_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.folder_box.setCompleter(None)  # inline completion would silently extend a typed path
        self.folder_box.addItems(recent or [])
        self.folder_box.setToolTip("Recent folders on this runner are in the list")
        line = self.folder_box.lineEdit()
        assert line is not None
        self.folder: QLineEdit = line
        self.folder.setText(cwd or next(iter(recent or []), None) or (os.path.expanduser("~") if local else ""))
        self.folder.setPlaceholderText("The home folder on the runner")
        self.browse_button = QPushButton("Browse…", self)
        self.browse_button.clicked.connect(self._browse)
        if request is None:
            self.browse_button.setEnabled(False)
            self.browse_button.setToolTip("No runner to ask for its folders")
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_box, 1)
        folder_row.addWidget(self.browse_button)
        self.command = QLineEdit(default_command(), self)
        self.command.setPlaceholderText("The program and its arguments, e.g. make -j4")
        self.model_box = QComboBox(self)
        self.model_box.setEditable(True)
        self.permission = QComboBox(self)
        form.addRow("Agent", self.agent)
        form.addRow("Title", self.title)
        form.addRow("Folder", folder_row)
        self.command_label = QLabel("Command", self)
        form.addRow(self.command_label, self.command)
        self.model_label = QLabel("Model", self)
        form.addRow(self.model_label, self.model_box)
        self.permission_label = QLabel("Permissions", self)
        form.addRow(self.permission_label, self.permission)
        self.approval = QComboBox(self)
        self.approval_label = QLabel("Approval", self)
        form.addRow(self.approval_label, self.approval)
        self.warning = QLabel(self)
        self.warning.setObjectName("agentWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(f"color: {theme.current().error_fg.name()}")
        form.addRow("", self.warning)
        # Offered when the folder is in a git repository (on by default for agents, off for commands): parallel
        # agents on one repository then never edit the same files.
        self.worktree = QCheckBox("Work in its own git worktree and branch", self)
        self.worktree.setToolTip("The runner adds a worktree on a new branch from the current one; review and keep "
                                 "or discard the changes from the session menu (Changes…)")
        self.worktree_touched = False
        self.worktree.clicked.connect(self._worktree_clicked)
        form.addRow("", self.worktree)
        self.base = QLineEdit(self)
        self.base.setPlaceholderText("the branch checked out now")
        self.base_label = QLabel("Start from", self)
        form.addRow(self.base_label, self.base)
        self.worktree.toggled.connect(self._update_base)
        self.error = QLabel(self)
        self.error.setObjectName("formError")
        self.error.setStyleSheet(f"color: {theme.current().error_fg.name()}")
        self.error.hide()
        std = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(std.Ok | std.Cancel)
        create = buttons.button(QDialogButtonBox.StandardButton.Ok)
        create.setText("Create")
        create.setObjectName("primary")
        self.create_button = create
        self.finished.connect(lambda _r: self._checking is not None and self._checking.cancel())
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.agent.currentIndexChanged.connect(self._agent_changed)
        self.folder.textChanged.connect(self._update_worktree)
        first_available = next((i for i, a in enumerate(self.agents) if a.get("available", True)
                                and a.get("name") != "command"), 0)
        self.agent.setCurrentIndex(first_available)
        self._agent_changed()

    def selected_agent(self) -> dict[str, Any]:
        return self.agents[max(0, self.agent.currentIndex())]

    def _agent_changed(self, *_args: object) -> None:
        info = self.selected_agent()
        is_command = info.get("name") == "command"
        self.command.setVisible(is_command)
        self.command_label.setVisible(is_command)
        models = [str(m) for m in info.get("models") or []]
        self.model_box.clear()
        self.model_box.addItem("Default", "")
        for m in models:
            self.model_box.addItem(m, m)
        show_model = not is_command and bool(models)
        self.model_box.setVisible(show_model)
        self.model_label.setVisible(show_model)
        modes = [str(m) for m in info.get("permission_modes") or []]
        self.permission.clear()
        # Claude Code asks before acting by default; the other CLIs have defaults of their own.
        self.permission.addItem("Default (ask before acting)" if info.get("name") == "claude" else "Default", "")
        for m in modes:
            if m != "default":
                self.permission.addItem(m, m)
        show_perm = not is_command and bool(modes)
        self.permission.setVisible(show_perm)
        self.permission_label.setVisible(show_perm)
        approvals = [str(a) for a in (info.get("options") or {}).get("approval") or []]
        self.approval.clear()
        self.approval.addItem("Default", "")
        for a in approvals:
            self.approval.addItem(a, a)
        self.approval.setVisible(bool(approvals))
        self.approval_label.setVisible(bool(approvals))
        warning = str(info.get("warning") or "")
        self.warning.setText(warning)
        self.warning.setVisible(bool(warning))
        # What was used last time for this agent (desktop/settings.py agent_defaults).
        remembered = self.defaults.get(str(info.get("name")), {})
        if remembered.get("model"):
            at = self.model_box.findData(remembered["model"])
            if at < 0:
                self.model_box.addItem(remembered["model"], remembered["model"])
                at = self.model_box.count() - 1
            self.model_box.setCurrentIndex(at)
        for box, key in ((self.permission, "permission_mode"), (self.approval, "approval")):
            at = box.findData(remembered.get(key, ""))
            if at >= 0:
                box.setCurrentIndex(at)
        self._update_worktree()

    def _worktree_clicked(self) -> None:
        self.worktree_touched = True  # the user's choice wins over the per-agent default from now on

    def _update_worktree(self, *_args: object) -> None:
        # A remote runner's folders are not on this machine: offer the option and let the runner check.
        in_repo = not self.local or repository_root(self.folder.text().strip() or "~") is not None
        self.worktree.setVisible(in_repo)
        if not self.worktree_touched:
            self.worktree.setChecked(in_repo and self.selected_agent().get("name") != "command")
        self._update_base()

    def _update_base(self, *_args: object) -> None:
        shown = self.worktree.isVisibleTo(self) and self.worktree.isChecked()
        self.base.setVisible(shown)
        self.base_label.setVisible(shown)

    def _browse(self) -> None:
        """The runner's folders, from the one in the field (or its home folder)."""
        if self.runner_request is None:
            return
        picker = FolderPicker(self.runner_request, self.folder.text().strip(), self.runner_name, self)
        picker.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        picker.chosen.connect(self.folder.setText)
        picker.destroyed.connect(lambda *_: setattr(self, "picker", None))
        picker.open()
        self.picker = picker

    def request(self) -> dict[str, Any]:
        info = self.selected_agent()
        req: dict[str, Any] = {"type": "create", "agent": info.get("name")}
        if self.title.text().strip():
            req["title"] = self.title.text().strip()
        folder = self.folder.text().strip()
        if folder:
            # `~` is the runner's home, which only the runner knows: Create asks it first (`_check_folder`).
            req["cwd"] = os.path.expanduser(folder) if self.local else folder
        if info.get("name") == "command":
            req["argv"] = shlex.split(self.command.text(), posix=sys.platform != "win32")
        else:
            model = self.model_box.currentData() if self.model_box.currentText() == "Default" else \
                self.model_box.currentText().strip()
            if model:
                req["model"] = model
            mode = self.permission.currentData()
            if mode:
                req["permission_mode"] = mode
            approval = self.approval.currentData()
            if approval and self.approval.isVisibleTo(self):
                req["approval"] = approval
        if self.worktree.isVisibleTo(self) and self.worktree.isChecked():
            req["worktree"] = True
            if self.base.text().strip():
                req["base"] = self.base.text().strip()
        return req

    def _accept(self) -> None:
        try:
            req = self.request()
        except ValueError as exc:
            self._show_error(f"The command line cannot be parsed: {exc}")
            return
        if req.get("agent") == "command" and not req.get("argv"):
            self._show_error("Enter the command to run.")
            return
        if self.runner_request is None or not req.get("cwd"):
            self.accept()
        elif self._checking is None:
            self._checking = asyncio.ensure_future(self._check_folder(req["cwd"]))

    async def _check_folder(self, folder: str) -> None:
        """The folder as the runner sees it (`~` and a relative path resolved there), or why it cannot be used,
        shown here with everything the user entered still in place."""
        create = self.create_button
        create.setEnabled(False)
        self._show_error("Checking the folder on the runner…", muted=True)
        try:
            assert self.runner_request is not None
            reply = await self.runner_request({"type": "list_dir", "path": folder})
        except (RequestError, OSError, TimeoutError) as exc:  # NotConnected is an OSError
            self._checking = None
            create.setEnabled(True)
            self._show_error(f"The folder cannot be used: {failure_text(exc)}")
            return
        # (Cancelled when the dialog closes: the widgets may be gone then, so nothing above runs in a finally.)
        self._checking = None
        create.setEnabled(True)
        self.folder.setText(str(reply["path"]))
        self.error.hide()
        self.accept()

    def _show_error(self, text: str, muted: bool = False) -> None:
        palette = theme.current()
        self.error.setStyleSheet(f"color: {(palette.muted if muted else palette.error_fg).name()}")
        self.error.setText(text)
        self.error.show()


class SessionOptionsDialog(QDialog):
    """Model and permission mode of a session, changed while it exists (the runner's `configure`)."""

    def __init__(self, session_id: str, agent: dict[str, Any], options: dict[str, Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session_id = session_id
        self.setWindowTitle("Model and permissions")
        self.setMinimumWidth(420)
        self.original = {k: options.get(k) or "" for k in ("model", "permission_mode")}
        form = QFormLayout()
        self.model_box = QComboBox(self)
        self.model_box.setEditable(True)
        self.model_box.addItem("Default", "")
        for m in [str(m) for m in agent.get("models") or []]:
            self.model_box.addItem(m, m)
        if self.original["model"]:
            at = self.model_box.findData(self.original["model"])
            if at < 0:
                self.model_box.addItem(self.original["model"], self.original["model"])
                at = self.model_box.count() - 1
            self.model_box.setCurrentIndex(at)
        form.addRow("Model", self.model_box)
        self.permission = QComboBox(self)
        self.permission.addItem("Default", "")
        for m in [str(m) for m in agent.get("permission_modes") or []]:
            if m != "default":
                self.permission.addItem(m, m)
        at = self.permission.findData(self.original["permission_mode"])
        self.permission.setCurrentIndex(max(0, at))
        self.permission_label = QLabel("Permissions", self)
        form.addRow(self.permission_label, self.permission)
        show_perm = self.permission.count() > 1
        self.permission.setVisible(show_perm)
        self.permission_label.setVisible(show_perm)
        note = QLabel("Changes apply from the next message on.", self)
        note.setWordWrap(True)
        std = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(std.Ok | std.Cancel)
        buttons.button(std.Ok).setText("Apply")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def request(self) -> dict[str, Any] | None:
        """The `configure` request for what changed, or None if nothing did."""
        text = self.model_box.currentText().strip()
        model = self.model_box.currentData() if text == "Default" else text
        chosen = {"model": model or "", "permission_mode": self.permission.currentData() or ""}
        changed = {k: (v or None) for k, v in chosen.items() if v != self.original[k]}
        if not changed:
            return None
        return {"type": "configure", "session": self.session_id, **changed}


class TextViewer(QDialog):
    """A row's full text, selectable."""

    def __init__(self, title: str, text: str, mono: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(760, 520)
        self.edit = QPlainTextEdit(self)
        self.edit.setReadOnly(True)
        self.edit.setPlainText(text)
        self.edit.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                          | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        if mono:
            self.edit.setFont(theme.mono_font(0))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy all", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.edit.toPlainText()))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.edit)
        layout.addWidget(buttons)


class SettingsDialog(QDialog):
    """Remote runners (name, URL) with tokens in the keyring; connect to one of them or the embedded one."""

    connect_requested = Signal(str)  # EMBEDDED or a runner URL
    runners_changed = Signal()  # a runner was added, edited or removed (and saved)

    def __init__(self, settings: SettingsStore, tokens: TokenStore, current: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Runners")
        self.setMinimumSize(640, 380)
        self.settings = settings
        self.tokens = tokens
        self.list = QListWidget(self)
        self.list.setMinimumWidth(200)
        self.name = QLineEdit(self)
        self.url = QLineEdit(self)
        self.url.setPlaceholderText("ws://host:8765, wss://host:8765 or ssh://user@host")
        self.token = QLineEdit(self)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("Unchanged" if tokens.persistent else "Kept for this run only")
        self.keyring_note = QLabel(self)
        self.keyring_note.setWordWrap(True)
        if not tokens.persistent:
            self.keyring_note.setText(
                f"⚠  Tokens cannot be saved: {tokens.problem}. A token you enter is kept in memory for "
                "this run only and never written to disk.")
            self.keyring_note.setStyleSheet(f"color: {theme.current().warn_fg.name()}")
        else:
            self.keyring_note.setText("Tokens are stored in the system keyring.")
            self.keyring_note.setStyleSheet(f"color: {theme.current().muted.name()}")
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("URL", self.url)
        form.addRow("Token", self.token)
        self.save_button = QPushButton("Save", self)
        self.remove_button = QPushButton("Remove", self)
        self.connect_button = QPushButton("Connect", self)
        self.connect_button.setObjectName("primary")
        add = QPushButton("Add runner", self)
        add.clicked.connect(self._add)
        self.save_button.clicked.connect(self._save)
        self.remove_button.clicked.connect(self._remove)
        self.connect_button.clicked.connect(self._connect)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addWidget(self.keyring_note)
        right.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.remove_button)
        row.addStretch(1)
        row.addWidget(self.save_button)
        row.addWidget(self.connect_button)
        right.addLayout(row)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        left.addWidget(add)
        body = QHBoxLayout()
        body.addLayout(left)
        body.addLayout(right, 1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(close)
        self.list.currentItemChanged.connect(self._selected)
        self._reload(current)

    def _reload(self, select: str) -> None:
        self.list.clear()
        embedded = QListWidgetItem("Embedded runner (this computer)")
        embedded.setData(Qt.ItemDataRole.UserRole, EMBEDDED)
        self.list.addItem(embedded)
        for r in self.settings.runners:
            item = QListWidgetItem(r.name if r.name == r.url else f"{r.name}  ·  {r.url}")
            item.setData(Qt.ItemDataRole.UserRole, r.url)
            self.list.addItem(item)
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == select:
                self.list.setCurrentRow(i)
                break
        else:
            self.list.setCurrentRow(0)

    def _current_key(self) -> str:
        """EMBEDDED, a saved runner's URL, or "" while a new runner is being entered."""
        item = self.list.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""

    def _selected(self, *_args: object) -> None:
        key = self._current_key()
        if not key:
            return
        editable = key != EMBEDDED
        for w in (self.name, self.url, self.token, self.save_button, self.remove_button):
            w.setEnabled(editable)
        runner = self.settings.find(key) if editable else None
        self.name.setText(runner.name if runner else ("Embedded runner" if not editable else ""))
        self.url.setText(runner.url if runner else "")
        self.token.clear()

    def _add(self) -> None:
        self.list.setCurrentRow(-1)
        for w in (self.name, self.url, self.token, self.save_button):
            w.setEnabled(True)
        self.name.setText("")
        self.url.setText("ws://")
        self.token.clear()
        self.url.setFocus()

    def prefill_new(self, url: str) -> None:
        self._add()
        self.name.setText(url)
        self.url.setText(url)
        self.token.setFocus()

    def _save(self) -> str | None:
        url = self.url.text().strip()
        if not url.startswith(("ws://", "wss://", "ssh://")):
            self.keyring_note.setText("The URL must start with ws://, wss:// or ssh:// (ssh://[user@]host[:port])")
            return None
        if url.startswith("ssh://"):
            try:
                SshTarget.parse(url)
            except ValueError as exc:
                self.keyring_note.setText(f"Not an SSH address: {exc}")
                return None
        item = self.list.currentItem()
        old = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        old_url = old if isinstance(old, str) and old != EMBEDDED else None
        self.settings.upsert(RemoteRunner(self.name.text().strip() or url, url), old_url)
        if old_url and old_url != url:
            old_token = self.tokens.get(old_url)
            self.tokens.delete(old_url)
            if old_token and not self.token.text():
                self.tokens.set(url, old_token)
        if self.token.text():
            self.tokens.set(url, self.token.text())
        self.settings.save()
        self._reload(url)
        self.runners_changed.emit()
        return url

    def _remove(self) -> None:
        key = self._current_key()
        if key in (EMBEDDED, ""):
            return
        self.settings.remove(key)
        self.tokens.delete(key)
        self.settings.save()
        self._reload(EMBEDDED)
        self.runners_changed.emit()

    def _connect(self) -> None:
        key = self._current_key()
        if key != EMBEDDED:
            saved = self._save()  # a new runner, or edits not saved yet
            if saved is None:
                return
            key = saved
        self.connect_requested.emit(key)
        self.accept()
