"""The main window: every runner's sessions on the left, grouped by runner; the selected session's transcript and
composer on the right.

The window listens to each runner's bridge (`attach_runner`) for its group in the sidebar, and shows the
selected session from the bridge of that session's runner (`bridge`, `current_runner`). It never talks to a
connection: actions go out as signals carrying the session id, and the app sends them to that session's runner.
"""

from __future__ import annotations

import base64
import contextlib
import os
from typing import Any

from PySide6.QtCore import QByteArray, QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.find import Match
from desktop.core.status import Color, ConnectionStatus, Phase
from desktop.core.view import SessionInfo
from desktop.qt import theme
from desktop.qt.bridge import ViewBridge
from desktop.qt.dialogs import TextViewer
from desktop.qt.find_bar import FindBar
from desktop.qt.sessions import ID_ROLE, RUNNER_ROLE, STATUS_LABEL, SessionListModel, SessionListView, agent_label
from desktop.qt.terminal_size import TerminalSizer
from desktop.qt.transcript_view import TranscriptView
from desktop.qt.widgets import Badge, Composer, ElidedLabel, StatusDot, StatusIndicator
from runner.vocabulary import LIVE_STATUSES


class MainWindow(QMainWindow):
    new_session_requested = Signal()
    send_requested = Signal(str, str)  # session, text
    interrupt_requested = Signal(str)
    stop_requested = Signal(str)
    delete_requested = Signal(str, bool)  # session, also discard its worktree
    changes_requested = Signal(str)
    question_requested = Signal(str, str, object)  # session, request_id, the AskUserQuestion input
    rename_requested = Signal(str, str)
    configure_requested = Signal(str)  # session: change its model / permission mode
    answer_requested = Signal(str, str, str, object)  # session, request_id, behavior, {message?, updated_permissions?}
    outbox_action = Signal(str, str)  # client_msg_id, retry|discard
    retry_requested = Signal()
    settings_requested = Signal()
    quit_requested = Signal()
    close_requested = Signal()
    session_selected = Signal(object)  # str | None (its runner is `current_runner`)
    runner_selected = Signal(str)  # the current group changed: the runner a new session goes to, and so on

    def __init__(self, bridge: ViewBridge | None, runner_label: str, runner_key: str = "") -> None:
        super().__init__()
        self.bridge: ViewBridge | None = None
        """The bridge of the current runner (the selected session's): its models, sessions and status."""
        self.bridges: dict[str, ViewBridge] = {}
        """Every connected runner's bridge, by runner key: each feeds its own group of the sidebar."""
        self._bridge_connections: dict[str, list[tuple[Any, Any]]] = {}
        self.current_runner: str = runner_key
        """The current group: the selected session's runner (or the selected header's)."""
        self._shown_pair: tuple[str, str | None] = (runner_key, None)
        self._updating_list = False
        self.setWindowTitle("Nightshift")
        self.setWindowIcon(theme.app_icon())
        self.resize(1180, 760)
        # On the application, so dialogs and message boxes share the look.
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.setStyleSheet(theme.stylesheet(theme.current()))
        self.current: str | None = None
        self.status = ConnectionStatus(runner=runner_label)
        self.overall = ConnectionStatus()

        # Sidebar ---------------------------------------------------------------------------------------
        sidebar = QWidget(self)
        sidebar.setObjectName("sidebar")
        side = QVBoxLayout(sidebar)
        side.setContentsMargins(0, 0, 0, 0)
        side.setSpacing(0)
        top = QHBoxLayout()
        top.setContentsMargins(16, 14, 10, 8)
        title = QLabel("Nightshift", sidebar)
        title.setObjectName("appTitle")
        self.new_button = QPushButton("+  New", sidebar)
        self.new_button.setObjectName("primary")
        self.new_button.setToolTip("New session (Ctrl+N)")
        self.new_button.clicked.connect(self.new_session_requested)
        settings = QToolButton(sidebar)
        settings.setObjectName("iconButton")
        settings.setText("⚙")
        settings.setToolTip("Runners and settings")
        settings.clicked.connect(self.settings_requested)
        # The worst of every runner's status (each runner's own dot is in its group's header).
        self.overall_dot = StatusDot(10, sidebar)
        self.overall_dot.set_color(theme.current().status_color(Color.GREY))
        top.addWidget(self.overall_dot)
        top.addSpacing(6)
        top.addWidget(title, 1)
        top.addWidget(settings)
        top.addWidget(self.new_button)
        side.addLayout(top)
        section = QLabel("SESSIONS", sidebar)
        section.setObjectName("sectionLabel")
        section.setContentsMargins(18, 6, 0, 4)
        side.addWidget(section)
        self.session_filter = QLineEdit(sidebar)
        self.session_filter.setObjectName("sessionFilter")
        self.session_filter.setPlaceholderText("Filter by title, folder or agent")
        self.session_filter.setToolTip("Filters the sessions of every runner")
        self.session_filter.setClearButtonEnabled(True)
        side.addWidget(self.session_filter)
        self.sessions_model = SessionListModel(self)
        self.sessions_view = SessionListView(sidebar)
        self.sessions_view.setModel(self.sessions_model)
        self.session_filter.textChanged.connect(self.sessions_view.set_filter)
        self.sessions_view.selectionModel().currentChanged.connect(self._current_changed)
        self.sessions_view.customContextMenuRequested.connect(self._session_menu)
        side.addWidget(self.sessions_view, 1)
        self.indicator = StatusIndicator(sidebar)
        self.indicator.retry_requested.connect(self.retry_requested)
        side.addWidget(self.indicator)

        # Session pane ----------------------------------------------------------------------------------
        self.stack = QStackedWidget(self)
        empty = QWidget(self)
        empty.setObjectName("emptyPage")
        el = QVBoxLayout(empty)
        el.addStretch(2)
        et = QLabel("No session selected", empty)
        et.setObjectName("emptyTitle")
        et.setAlignment(Qt.AlignmentFlag.AlignCenter)
        ex = QLabel("Agents keep running when this window is closed.\n"
                    "Start one, or pick a session on the left.", empty)
        ex.setObjectName("emptyText")
        ex.setAlignment(Qt.AlignmentFlag.AlignCenter)
        eb = QPushButton("+  New session", empty)
        eb.setObjectName("primary")
        eb.clicked.connect(self.new_session_requested)
        el.addWidget(et)
        el.addWidget(ex)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(eb)
        row.addStretch(1)
        el.addSpacing(8)
        el.addLayout(row)
        el.addStretch(3)
        self.stack.addWidget(empty)

        pane = QWidget(self)
        pane.setObjectName("content")
        pl = QVBoxLayout(pane)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.setSpacing(0)
        header = QFrame(pane)
        header.setObjectName("sessionHeader")
        hl = QHBoxLayout(header)
        hl.setContentsMargins(20, 12, 12, 12)
        titles = QVBoxLayout()
        titles.setSpacing(2)
        self.session_title = ElidedLabel(header)
        self.session_title.setObjectName("sessionTitle")
        self.session_title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.session_subtitle = ElidedLabel(header)
        self.session_subtitle.setObjectName("sessionSubtitle")
        self.session_subtitle.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        titles.addWidget(self.session_title)
        titles.addWidget(self.session_subtitle)
        self.session_totals = QLabel(header)  # cost, tokens and time so far (TranscriptView.totals_changed)
        self.session_totals.setObjectName("sessionSubtitle")
        self.session_totals.setToolTip("Cost, tokens and time of this session's turns so far")
        self.status_badge = Badge(header)
        self.status_badge.setObjectName("statusBadge")
        self.header_stop = QPushButton("■  Stop", header)
        self.header_stop.setObjectName("danger")
        self.header_stop.setToolTip("Interrupt the agent (Ctrl+.)")
        self.header_stop.clicked.connect(self._interrupt_current)
        more = QToolButton(header)
        more.setObjectName("iconButton")
        more.setText("⋯")
        more.setToolTip("More actions")
        more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.session_menu = QMenu(more)
        self.session_menu.addAction("Rename…", self.ask_rename)
        self.configure_action = self.session_menu.addAction("Model and permissions…", self._configure_current)
        self.session_menu.addAction("Stop process", self._stop_current)
        self.changes_action = self.session_menu.addAction("Changes…", self._changes_current)
        self.session_menu.addSeparator()
        self.session_menu.addAction("Delete…", self.ask_delete)
        more.setMenu(self.session_menu)
        hl.addLayout(titles, 1)
        hl.addWidget(self.session_totals, 0, Qt.AlignmentFlag.AlignVCenter)
        hl.addSpacing(8)
        hl.addWidget(self.status_badge, 0, Qt.AlignmentFlag.AlignVCenter)
        hl.addSpacing(8)
        hl.addWidget(self.header_stop)
        hl.addWidget(more)
        pl.addWidget(header)
        self.notice_label = QLabel(pane)
        self.notice_label.setObjectName("notice")
        self.notice_label.setWordWrap(True)
        self.notice_label.hide()
        self._notice_timer = QTimer(self)
        self._notice_timer.setSingleShot(True)
        self._notice_timer.timeout.connect(self.notice_label.hide)
        pl.addWidget(self.notice_label)
        self.find_bar = FindBar(pane)
        pl.addWidget(self.find_bar)
        self.transcript = TranscriptView(pane)
        self.transcript.permission_answered.connect(self.answer_requested)
        self.transcript.question_requested.connect(self.question_requested)
        self.transcript.outbox_action.connect(self.outbox_action)
        self.transcript.view_text.connect(self._view_text)
        self.transcript.totals_changed.connect(self.session_totals.setText)
        # The shown command session's terminal is as wide as the transcript (the app sends `resize`).
        self.terminal_sizer = TerminalSizer(
            self.transcript, lambda sid: self.bridge.session(sid) if self.bridge is not None else None)
        pl.addWidget(self.transcript, 1)
        self.find_bar.match_selected.connect(self._show_match)
        self.find_bar.match_cleared.connect(self.transcript.clear_match)
        self.banner = QLabel(pane)
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.hide()
        pl.addWidget(self.banner)
        self.composer = Composer(pane)
        self.composer.send_requested.connect(self._send_current)
        self.find_bar.closed.connect(self.composer.edit.setFocus)
        pl.addWidget(self.composer)
        self.stack.addWidget(pane)

        splitter = QSplitter(self)
        splitter.addWidget(sidebar)
        splitter.addWidget(self.stack)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([300, 880])
        splitter.setHandleWidth(1)
        splitter.setChildrenCollapsible(False)
        sidebar.setMinimumWidth(220)
        self.setCentralWidget(splitter)

        for text, keys, slot in (
            ("New session", QKeySequence.StandardKey.New, self.new_session_requested.emit),
            ("Quit", QKeySequence.StandardKey.Quit, self.quit_requested.emit),
            ("Interrupt", QKeySequence("Ctrl+."), self._interrupt_current),
            ("Interrupt the running turn", QKeySequence(Qt.Key.Key_Escape), self._interrupt_running),
            ("Close window", QKeySequence.StandardKey.Close, self.close),
            ("Find in session", QKeySequence.StandardKey.Find, lambda: self.find_bar.open_bar(self.current)),
            ("Next match", QKeySequence(Qt.Key.Key_F3), self._find_next),
            ("Previous match", QKeySequence("Shift+F3"), self._find_previous),
        ):
            action = QAction(text, self)
            action.setShortcut(keys)
            action.triggered.connect(slot)
            self.addAction(action)

        self.set_status(self.status)
        self._show_session(None)
        self.set_runners([(runner_key, runner_label)])
        if bridge is not None:
            self.attach_runner(runner_key, bridge)

    # ---------------------------------------------------------------- the runners

    def set_runners(self, runners: list[tuple[str, str]]) -> None:
        """The sidebar's groups, (key, label) in order. A runner's group is listed before it is connected (its dot
        grey), so a slow runner never holds the others back; its sessions come when it has listed them."""
        keep = self._selected_row()
        self._updating_list = True
        try:
            self.sessions_model.set_runners(runners)
        finally:
            self._updating_list = False
        keys = [key for key, _ in runners]
        if self.current_runner not in keys:
            self.select_session(None)
            self._set_current_runner(keys[0] if keys else "")
        else:
            self._restore_row(keep)

    def attach_runner(self, key: str, bridge: ViewBridge) -> None:
        """Listen to a runner's bridge for its group: its sessions, their changes and its status. The window only
        listens: messages reach the bridge through the runner's one connection and core."""
        self.detach_runner(key)
        slots: list[tuple[Any, Any]] = [
            (bridge.sessions_listed, lambda: self._sessions_listed(key)),
            (bridge.session_updated, lambda info, previous: self._session_updated(key, info, previous)),
            (bridge.session_removed, lambda sid: self._session_removed(key, sid)),
            (bridge.heads_changed, lambda sids: self.sessions_model.refresh(sids, key)),
            (bridge.status_changed, lambda status: self._runner_status(key, status)),
        ]
        for signal, slot in slots:
            signal.connect(slot)
        self.bridges[key] = bridge
        self._bridge_connections[key] = slots
        if key == self.current_runner:
            self.bridge = bridge
        self._sessions_listed(key)
        self._runner_status(key, bridge.status)

    def detach_runner(self, key: str) -> None:
        """Stop listening to a runner's bridge (it is closing). Its sessions stay listed until its group goes."""
        bridge = self.bridges.pop(key, None)
        for signal, slot in self._bridge_connections.pop(key, []):
            with contextlib.suppress(RuntimeError, TypeError):
                signal.disconnect(slot)
        if bridge is not None and bridge is self.bridge:
            if self.current is not None:
                self.select_session(None)  # its transcripts go with it
            self.bridge = None

    def select_runner(self, key: str) -> None:
        """Make a runner's group the current one (its header selected, no session shown)."""
        row = self.sessions_model.header_row(key)
        if row < 0:
            return
        self._set_current_runner(key)
        self.sessions_view.selectionModel().setCurrentIndex(
            self.sessions_model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._show_session(None)

    def _set_current_runner(self, key: str) -> None:
        if key == self.current_runner:
            return
        self.current_runner = key
        self.bridge = self.bridges.get(key)
        header = self.sessions_model.headers.get(key)
        self.set_status(self.bridge.status if self.bridge is not None
                        else header.status if header is not None else ConnectionStatus())
        self.runner_selected.emit(key)

    def _runner_status(self, key: str, status: ConnectionStatus) -> None:
        self.sessions_model.set_status(key, status)
        if key == self.current_runner:
            self.set_status(status)

    # ---------------------------------------------------------------- sessions

    def _selected_row(self) -> tuple[str, str | None] | None:
        """The selected row as (runner, session id or None for its header), or None when nothing is selected."""
        index = self.sessions_view.currentIndex()
        if not index.isValid() or not self.sessions_view.selectionModel().isSelected(index):
            return None
        return index.data(RUNNER_ROLE), index.data(ID_ROLE)

    def _restore_row(self, row: tuple[str, str | None] | None) -> None:
        """After the list changed: the same row selected again (Qt moves the current row off a removed row), or
        no session shown when the shown one is gone."""
        if row is None:
            return
        runner, sid = row
        at = self.sessions_model.row_of(sid, runner) if sid is not None else self.sessions_model.header_row(runner)
        if at < 0:
            self.select_session(None)
            return
        index = self.sessions_model.index(at)
        if index != self.sessions_view.currentIndex() or not self.sessions_view.selectionModel().isSelected(index):
            self._updating_list = True
            try:
                self.sessions_view.selectionModel().setCurrentIndex(
                    index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            finally:
                self._updating_list = False

    def _sessions_listed(self, key: str) -> None:
        bridge = self.bridges.get(key)
        if bridge is None:
            return
        keep = self._selected_row()
        self._updating_list = True
        try:
            self.sessions_model.set_sessions(bridge.sessions(), key)
        finally:
            self._updating_list = False
        self._restore_row(keep)
        if key == self.current_runner and self.current is not None and bridge.session(self.current) is None:
            self.select_session(None)

    def _session_updated(self, key: str, info: SessionInfo, previous: str | None) -> None:
        self.sessions_model.upsert(info, key)
        if key == self.current_runner and info.id == self.current:
            self._update_header(info)
            self.terminal_sizer.update()  # a command session that just started gets the view's size

    def _session_removed(self, key: str, session_id: str) -> None:
        keep = self._selected_row()
        self._updating_list = True
        try:
            self.sessions_model.remove(session_id, key)
        finally:
            self._updating_list = False
        self._restore_row(keep)

    def select_session(self, session_id: str | None, runner: str | None = None) -> None:
        """Select and show a session: of `runner`, or of the current runner when it lists it, else of the first
        runner that does. None (or a session not listed) shows none."""
        row = -1
        if session_id:
            row = self.sessions_model.row_of(session_id, runner or self.current_runner)
            if row < 0 and runner is None:
                row = self.sessions_model.row_of(session_id)
        if row < 0:
            # No current row either: a click on the row that was current must show it again.
            self._updating_list = True
            try:
                self.sessions_view.selectionModel().setCurrentIndex(
                    QModelIndex(), QItemSelectionModel.SelectionFlag.Clear)
            finally:
                self._updating_list = False
            self._show_session(None)
            return
        self._set_current_runner(self.sessions_model.rows[row].runner)
        self.sessions_view.selectionModel().setCurrentIndex(
            self.sessions_model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._show_session(session_id)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._updating_list:
            return
        if current.isValid():
            self._set_current_runner(current.data(RUNNER_ROLE))
        self._show_session(current.data(ID_ROLE) if current.isValid() else None)

    def _show_session(self, session_id: str | None) -> None:
        changed = (self.current_runner, session_id) != self._shown_pair or session_id != self.current
        self._shown_pair = (self.current_runner, session_id)
        self.current = session_id
        self.find_bar.set_session(session_id)
        if session_id is None or self.bridge is None:
            self.current = None
            self.stack.setCurrentIndex(0)
            self.transcript.setModel(None)
        else:
            if changed or self.transcript.model() is None:
                self.transcript.setModel(self.bridge.model(session_id))
            self.stack.setCurrentIndex(1)
            info = self.bridge.session(session_id)
            if info is not None:
                self._update_header(info)
            self.composer.edit.setFocus()
        if changed:
            self.session_selected.emit(self.current)
        self.terminal_sizer.show(self.current)

    def _update_header(self, info: SessionInfo) -> None:
        t = theme.current()
        self.session_title.set_full_text(info.title or info.id)
        parts = [agent_label(info.agent)]
        cwd = info.data.get("cwd")
        if cwd:
            parts.append(str(cwd).replace(os.path.expanduser("~"), "~", 1))
        argv = info.data.get("argv")
        if isinstance(argv, list) and argv:
            parts.append(" ".join(str(a) for a in argv))
        worktree = info.data.get("worktree")
        if isinstance(worktree, dict):
            changed = worktree.get("changed_files")
            parts.append(f"⎇ {worktree.get('branch')}" + (f" · {changed} file{'s' if changed != 1 else ''} changed"
                                                           if isinstance(changed, int) else ""))
        self.changes_action.setEnabled(isinstance(worktree, dict))
        code = info.data.get("exit_code")
        if info.status == "exited" and code is not None:
            parts.append(f"exit code {code}")
        self.session_subtitle.set_full_text("  ·  ".join(parts))
        bg, fg = t.badge_colors(info.status)
        self.status_badge.set_badge(STATUS_LABEL.get(info.status, info.status), bg, fg)
        running = info.status in LIVE_STATUSES
        self.header_stop.setVisible(running)
        if info.agent == "command":
            live = info.status == "running"
            self.composer.set_accepting(live, "Type a line for the program's input…  (Enter sends)" if live else
                                        "The program has ended; it takes no more input")
        else:
            self.composer.set_accepting(True, "Message the agent…  (Enter sends, Shift+Enter for a new line)")

    def _session_menu(self, pos: object) -> None:
        index = self.sessions_view.indexAt(pos)  # type: ignore[arg-type]
        if not index.isValid() or index.data(ID_ROLE) is None:
            return
        self.select_session(index.data(ID_ROLE), index.data(RUNNER_ROLE))
        self.session_menu.popup(self.sessions_view.viewport().mapToGlobal(pos))  # type: ignore[arg-type]

    def ask_rename(self) -> None:
        sid = self.current
        info = self.bridge.session(sid) if self.bridge is not None else None
        if sid is None or info is None:
            return
        dialog = QInputDialog(self)
        dialog.setWindowTitle("Rename session")
        dialog.setLabelText("Title")
        dialog.setTextValue(info.title)
        dialog.textValueSelected.connect(lambda title: self._rename(sid, title))
        dialog.open()

    def ask_delete(self) -> None:
        sid = self.current
        info = self.bridge.session(sid) if self.bridge is not None else None
        if sid is None or info is None:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Delete session",
                          f"Delete “{info.title or sid}” and its transcript?", parent=self)
        box.setInformativeText("A running agent is stopped first. This cannot be undone.")
        worktree = info.data.get("worktree")
        discard = None
        if isinstance(worktree, dict):
            # Kept unless the user says otherwise: uncommitted or unmerged work is never removed silently.
            discard = QCheckBox(f"Also discard its worktree and branch {worktree.get('branch')} "
                                "(uncommitted and unmerged changes are lost)", box)
            box.setCheckBox(discard)
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: button is delete and self.delete_requested.emit(
            sid, discard is not None and discard.isChecked()))
        box.open()
        self.delete_box = box

    def _rename(self, sid: str, title: str) -> None:
        if title.strip():
            self.rename_requested.emit(sid, title.strip())

    def _changes_current(self) -> None:
        if self.current:
            self.changes_requested.emit(self.current)

    def _interrupt_current(self) -> None:
        if self.current:
            self.interrupt_requested.emit(self.current)

    def _interrupt_running(self) -> None:
        """Esc, as in Claude Code: interrupts the shown session's turn, when one is running."""
        if self.header_stop.isVisibleTo(self):
            self._interrupt_current()

    def _configure_current(self) -> None:
        if self.current:
            self.configure_requested.emit(self.current)

    def _stop_current(self) -> None:
        if self.current:
            self.stop_requested.emit(self.current)

    def _send_current(self, text: str) -> None:
        if self.current:
            self.send_requested.emit(self.current, text)

    def _show_match(self, match: Match) -> None:
        find = self.find_bar.find
        self.transcript.show_match(match, find.query if find is not None else "")

    def _find_next(self) -> None:
        if self.find_bar.isVisible():
            self.find_bar.next()

    def _find_previous(self) -> None:
        if self.find_bar.isVisible():
            self.find_bar.previous()

    def _view_text(self, title: str, text: str, mono: bool) -> None:
        viewer = TextViewer(title, text, mono, self)
        viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        viewer.open()

    # ---------------------------------------------------------------- status

    def set_status(self, status: ConnectionStatus) -> None:
        self.status = status
        self.indicator.set_status(status)
        if status.color in (Color.YELLOW, Color.RED) and status.phase is not Phase.CATCHING_UP:
            if status.phase is Phase.TOKEN_REFUSED:
                text = "The runner refused the token. Fix it in Settings (⚙); messages you send wait here."
            else:
                text = ("Not connected to the runner. Agents keep running there; messages you send are "
                        "queued and delivered once the connection is back.")
            t = theme.current()
            bg, fg = (t.error_bg, t.error_fg) if status.color is Color.RED else (t.warn_bg, t.warn_fg)
            self.banner.setStyleSheet(f"background: {bg.name()}; color: {fg.name()};")
            self.banner.setText(text)
            self.banner.show()
        else:
            self.banner.hide()

    def theme_changed(self) -> None:
        """The theme changed (the application's palette and style sheet are already the new ones): what this
        window painted with the old colours is painted again."""
        self.set_status(self.status)
        self.set_overall_status(self.overall)
        if self.bridge is not None and self.current is not None and (info := self.bridge.session(self.current)):
            self._update_header(info)
        self.sessions_view.viewport().update()
        self.transcript.viewport().update()

    def set_overall_status(self, status: ConnectionStatus) -> None:
        self.overall = status
        self.overall_dot.set_color(theme.current().status_color(status.color))
        self.overall_dot.setToolTip(f"{status.label()}: {status.tooltip()}")

    def show_notice(self, level: str, message: str) -> None:
        """A message under the session header for a few seconds (errors in red)."""
        t = theme.current()
        bg, fg = (t.error_bg, t.error_fg) if level == "error" else (t.warn_bg, t.warn_fg)
        self.notice_label.setStyleSheet(f"background: {bg.name()}; color: {fg.name()}; padding: 7px 20px;")
        self.notice_label.setText(message)
        self.notice_label.show()
        self._notice_timer.start(8000)

    # ---------------------------------------------------------------- geometry

    def saved_geometry(self) -> str:
        """Size, position and maximized state, as text for the settings file."""
        return base64.b64encode(bytes(self.saveGeometry().data())).decode("ascii")

    def restore_saved_geometry(self, saved: str) -> bool:
        """Back where it was, on a screen that still exists (a monitor unplugged since) and no bigger than it.
        False when `saved` is not a geometry (the default size stays)."""
        try:
            state = QByteArray(base64.b64decode(saved.encode("ascii"), validate=True))
        except (ValueError, UnicodeError):
            return False
        # Qt puts a window saved on a screen that is gone (or bigger than this one) back on a screen.
        return not state.isEmpty() and self.restoreGeometry(state)

    def closeEvent(self, event: QCloseEvent) -> None:
        # The app decides: hide to the tray (agents keep running) or quit.
        event.ignore()
        self.close_requested.emit()
