"""NightshiftApp: wires the runners, the window, the tray, notifications and settings together.

The runners are a `RunnerSet` (desktop/qt/runner_set.py): one `RunnerHandle` each (view core + connection +
bridge + the embedded runner when there is one), every configured runner connected at once and kept connected
(the embedded one and the saved remote ones, or the runners given with `--runner`). The window lists every
runner's sessions, grouped by runner; the *current runner* is the selected session's (or the selected group's),
and window actions go to the runner of the session they name. What is worth a notification is decided by
`NotificationPolicy` (desktop/core, no Qt); the tray is `Tray`. Remembered across restarts (settings.json): the
runners, the last session selected per runner, the window's geometry and the theme.

The lifecycle helper (desktop/lifecycle) drives it through `set_rendering`, `reconnect_now`, `probe`,
`retry_now` and `network_back`.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop.connection import NotConnected, RunnerConnection, RunnerRequestError
from desktop.core.backoff import Backoff
from desktop.core.notifications import FileNotifiedStore, Notification, NotificationPolicy
from desktop.core.recent import RECENT_FILE, RecentFolders
from desktop.core.status import ConnectionStatus
from desktop.core.tasks import BackgroundTasks
from desktop.core.trust import PINS_FILE, PinStore, TrustOnFirstUse
from desktop.core.view import RELEASE_AFTER_S, SessionInfo, ViewCore
from desktop.qt.bridge import ViewBridge
from desktop.qt.changes import ChangesDialog
from desktop.qt.desktop_notifier import Notifier, make_notifier
from desktop.qt.dialogs import NewSessionDialog, SessionOptionsDialog, SettingsDialog
from desktop.qt.first_paint import first_paint
from desktop.qt.main_window import MainWindow
from desktop.qt.prompts import quit_question, runner_question, trust_question
from desktop.qt.questions import QuestionDialog
from desktop.qt.remembered import Remembered
from desktop.qt.rows.image import attach_images
from desktop.qt.runner_handle import RunnerHandle
from desktop.qt.runner_set import RunnerSet
from desktop.qt.tray import Tray
from desktop.settings import EMBEDDED, SettingsStore, TokenStore
from desktop.unhandled import install_loop_handler
from runner.environment import data_dir_from_env, token_from_env
from runner.vocabulary import LIVE_STATUSES

log = logging.getLogger(__name__)


class NightshiftApp(QObject):
    notified = Signal(str, str)  # title, body (also shown by `notifier`: the tray, the desktop's service or the log)
    noticed = Signal(str, str)  # level, message: shown under the session header
    status_changed = Signal(object)  # ConnectionStatus of the current runner

    def __init__(self, qapp: QApplication, *, runner_url: str | None = None, runner_urls: list[str] | None = None,
                 token: str | None = None,
                 data_dir: str | None = None, settings: SettingsStore | None = None,
                 tokens: TokenStore | None = None, use_tray: bool = True,
                 backoff: Backoff | None = None, connection_options: dict[str, Any] | None = None,
                 lifecycle: bool | dict[str, Any] = True, outbox_dir: Path | None = None,
                 notifications: NotificationPolicy | None = None, notifier: Notifier | None = None,
                 release_after_s: float = RELEASE_AFTER_S, tunnel_options: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.qapp = qapp
        self.settings = settings or SettingsStore()
        self.tokens = tokens or TokenStore()
        self.data_dir = data_dir or data_dir_from_env()
        self.explicit_token = token
        # --runner (repeatable): exactly those runners. Otherwise the embedded runner and every saved one, the
        # current one being the one that was current when the app last quit.
        self.given_runners = list(dict.fromkeys([*(runner_urls or []), *([runner_url] if runner_url else [])]))
        last = self.settings.last_runner
        self.first_runner = (self.given_runners[0] if self.given_runners
                             else last if last == EMBEDDED or self.settings.find(last) else EMBEDDED)
        self.transient: str | None = None
        """A runner shown though not configured (chosen in the settings while started with --runner): connected
        until another is chosen."""
        # Unsent messages live next to the settings (a test's settings in a temporary folder take them along).
        self.outbox_dir = outbox_dir or self.settings.path.parent / "outbox"
        self.rendering = True
        self.use_lifecycle = bool(lifecycle)
        self.lifecycle_options: dict[str, Any] = lifecycle if isinstance(lifecycle, dict) else {}
        self.lifecycle: Any = None
        # What was seen and told, per runner and session, next to the settings: a change that happened while
        # the app was closed is told once on the next start, and never again.
        self.notifications = notifications or NotificationPolicy(
            FileNotifiedStore(self.settings.path.parent / "notified.json"))
        self.quit_box: QMessageBox | None = None
        self.trust_box: QMessageBox | None = None
        self.trust = TrustOnFirstUse(PinStore(self.settings.path.parent / PINS_FILE), self.ask_trust)
        self.runner_set = RunnerSet(label=self._label, token_for=self._token_for, data_dir=self.data_dir,
                                    outbox_dir=self.outbox_dir, trust=self.trust, notice=self._notice,
                                    backoff=backoff, connection_options=connection_options,
                                    tunnel_options=tunnel_options, release_after_s=release_after_s, parent=self)
        self.runner_set.opened.connect(self._runner_opened)
        self.runner_set.closing.connect(lambda handle: self.window.detach_runner(handle.key))
        self.recent_folders = RecentFolders(self.settings.path.parent / RECENT_FILE)
        """The folders of new sessions per runner, offered by the new-session dialog."""
        self._selected_core: ViewCore | None = None
        """The core told which session the window shows (`select`), so it can be told when it shows none."""
        self.closed = False
        self._shutdown: asyncio.Future[None] | None = None
        self._done: asyncio.Future[int] | None = None
        self._tasks = BackgroundTasks("a background task", lambda text: self._notice("error", text))
        self.remembered = Remembered(self.settings, qapp, self.first_runner)  # the theme, before the window
        self.window = MainWindow(None, self._label(self.first_runner), self.first_runner)
        self.remembered.attach(self.window)
        self._wire_window()
        self.tray: Tray | None = None
        if use_tray and Tray.available():
            self.install_tray()
        self.set_notifier(notifier or make_notifier(self.tray, parent=self))
        self.changes_dialogs: dict[str, ChangesDialog] = {}

    # ------------------------------------------------------------------ the current runner

    @property
    def runners(self) -> dict[str, RunnerHandle]:
        """Every runner this app is connected to, by key (EMBEDDED or URL)."""
        return self.runner_set.handles

    @property
    def shown(self) -> RunnerHandle | None:
        """The current runner: the selected session's (or the selected group's)."""
        return self.runner_set.get(self.window.current_runner)

    @property
    def runner_key(self) -> str:
        return self.window.current_runner or self.first_runner

    @property
    def core(self) -> ViewCore | None:
        return self.shown.core if self.shown is not None else None

    @property
    def connection(self) -> RunnerConnection | None:
        return self.shown.connection if self.shown is not None else None

    @property
    def bridge(self) -> ViewBridge | None:
        return self.shown.bridge if self.shown is not None else None

    @property
    def embedded(self) -> Any:
        handle = self.runners.get(EMBEDDED)
        return handle.embedded if handle is not None else None

    def handle_for(self, session_id: str | None) -> RunnerHandle | None:
        """The runner a window action about `session_id` goes to (RunnerSet.handle_for)."""
        return self.runner_set.handle_for(session_id, self.window.current_runner)

    # ------------------------------------------------------------------ start and stop

    async def start(self) -> None:
        """Connect every runner at once (starting the embedded one); returns once the first one is open."""
        loop = asyncio.get_running_loop()
        install_loop_handler(loop)
        self._done = loop.create_future()
        self.sync_runners()
        await self.runner_set.ensure(self.first_runner)
        if self.use_lifecycle and self.lifecycle is None:
            self._install_lifecycle()

    def _install_lifecycle(self) -> None:
        """Window hidden/shown, sleep/wake and network changes drive set_rendering/probe/retry (issue 5).
        Optional: if it cannot be set up here, the app works without it. `lifecycle={...}` passes options
        to install_lifecycle (tests inject a manual clock or a private bus)."""
        try:
            from desktop.lifecycle import install_lifecycle

            self.lifecycle = install_lifecycle(self.window, self, parent=self, **self.lifecycle_options)
        except Exception:
            log.exception("lifecycle watcher unavailable; reconnects rely on keepalives and backoff only")

    async def run(self) -> int:
        # The window first, then the runners: it is painted while the embedded runner starts and the
        # connections open (its dots say "connecting" until they are live).
        self.window.show()
        await first_paint(self.window)
        await self.start()
        assert self._done is not None
        return await self._done

    async def wait_done(self) -> int:
        """Until the app has shut down (the exit code)."""
        assert self._done is not None
        return await self._done

    def configured_runners(self) -> list[str]:
        """The keys of the runners this app keeps connected, in sidebar order."""
        if self.given_runners:
            return list(self.given_runners)
        return [EMBEDDED, *(r.url for r in self.settings.runners)]

    def sync_runners(self) -> None:
        """Connect every configured runner not connected yet (all at once), disconnect those removed from the
        settings, and list them, each as a group of the sidebar."""
        keys = self.configured_runners()
        if self.transient in keys:
            self.transient = None
        if self.transient is not None:
            keys.append(self.transient)
        self.runner_set.sync(keys)
        self.window.set_runners([(key, self._label(key)) for key in keys])
        self._overall_changed()

    def _runner_opened(self, handle: RunnerHandle) -> None:
        """A runner's handle is open: its group listens to its bridge, and so does the app (notifications, tray)."""
        bridge = handle.bridge
        self.window.attach_runner(handle.key, bridge)  # first: the app's slots below see the group up to date
        bridge.status_changed.connect(lambda status: self._status_changed(handle, status))
        bridge.session_updated.connect(lambda info, previous: self._session_updated(handle, info, previous))
        bridge.sessions_listed.connect(lambda: self._sessions_listed(handle))
        bridge.session_removed.connect(lambda sid: self._session_removed(handle, sid))
        bridge.notice.connect(self._notice)
        self._overall_changed()

    def _token_for(self, url: str) -> str | None:
        return self.explicit_token or token_from_env() or self.tokens.get(url)

    def _label(self, key: str) -> str:
        if key == EMBEDDED:
            return "embedded runner"
        runner = self.settings.find(key)
        return runner.name if runner is not None else key

    async def shutdown(self) -> None:
        """Close every connection and stop the embedded runner (its agents stop cleanly). Idempotent."""
        self.closed = True
        if self._shutdown is None:
            self._shutdown = asyncio.ensure_future(self._shutdown_once())
        await asyncio.shield(self._shutdown)

    async def _shutdown_once(self) -> None:
        if self.lifecycle is not None:
            from desktop.lifecycle import shutdown_lifecycle

            lifecycle, self.lifecycle = self.lifecycle, None
            try:
                shutdown_lifecycle(lifecycle)
            except Exception:
                log.exception("stopping the lifecycle watcher failed")
        self.remembered.close()
        await self.runner_set.close_all()
        await self.notifier.close()
        if self.tray is not None:
            self.tray.hide()
        self.window.hide()
        if self._done is not None and not self._done.done():
            self._done.set_result(0)

    # ------------------------------------------------------------------ API for the lifecycle watcher
    # Each applies to every runner at once: a wake or a network change concerns all of them.

    @property
    def connected(self) -> bool:
        return self.runner_set.connected

    def set_rendering(self, enabled: bool) -> None:
        """Off (window hidden/minimized): no live events reach the GUI; statuses and unread counts stay
        current. On: every open session catches up from the last seq it rendered, in one batch."""
        self.rendering = enabled
        self.runner_set.set_rendering(enabled)

    def reconnect_now(self, reason: str) -> None:
        self.runner_set.reconnect_now(reason)

    async def probe(self, timeout: float = 2.0) -> bool:
        """Probe every connection in parallel (one unreachable runner never delays the others); True if all
        answered."""
        return await self.runner_set.probe(timeout)

    def retry_now(self) -> None:
        self.runner_set.retry_now()

    def network_back(self) -> None:
        self.runner_set.network_back()

    # ------------------------------------------------------------------ actions

    def _wire_window(self) -> None:
        w = self.window
        w.new_session_requested.connect(self.ask_new_session)
        w.send_requested.connect(self.send)
        w.interrupt_requested.connect(lambda sid: self._request({"type": "interrupt", "session": sid}))
        w.stop_requested.connect(lambda sid: self._request({"type": "stop", "session": sid}))
        w.delete_requested.connect(lambda sid, discard: self._request(
            {"type": "delete", "session": sid, **({"discard_worktree": True} if discard else {})}))
        w.runner_selected.connect(lambda _key: self.status_changed.emit(w.status))
        w.changes_requested.connect(self.show_changes)
        w.question_requested.connect(self.ask_questions)
        w.rename_requested.connect(lambda sid, title: self._request({"type": "rename", "session": sid,
                                                                     "title": title}))
        w.answer_requested.connect(lambda sid, rid, behavior, extra: self.answer(sid, rid, behavior, **extra))
        w.configure_requested.connect(self.ask_session_options)
        w.outbox_action.connect(self._outbox_action)
        w.retry_requested.connect(self.retry_now)
        w.settings_requested.connect(self.open_settings)
        w.quit_requested.connect(self.request_quit)
        w.close_requested.connect(self._close_window)
        w.session_selected.connect(self._session_selected)
        w.terminal_sizer.resize_requested.connect(
            lambda sid, cols, rows: self._tasks.spawn(self.resize_terminal(sid, cols, rows)))
        w.find_bar.request = self.request  # Ctrl+F searches the current runner's journal
        attach_images(w.transcript, lambda: self.connection)  # thumbnails fetched from the current runner

    def _session_selected(self, sid: str | None) -> None:
        """The window shows `sid` of the current runner (None: no session). Its core follows it; the core that
        showed the previous one is told it shows none (released after a while). Remembered per runner."""
        handle = self.shown
        core = handle.core if handle is not None else None
        if self._selected_core is not None and self._selected_core is not core:
            self._selected_core.select(None)
        self._selected_core = core
        if handle is None:
            return
        if sid is not None:
            handle.connection.open_session(sid)
        handle.core.select(sid)
        self.window.sessions_model.refresh()
        if not self.closed:
            self.remembered.session_selected(handle.key, sid)

    def send(self, session_id: str, text: str) -> None:
        handle = self.handle_for(session_id)
        if handle is None:
            return
        info = handle.core.sessions.get(session_id)
        if info is not None and info.agent == "command" and not text.endswith("\n"):
            text += "\n"  # a line for the program's stdin
        handle.connection.send_text(session_id, text)

    def answer(self, session_id: str, request_id: str, behavior: str, answers: dict[str, str] | None = None,
               message: str | None = None, updated_permissions: list[dict[str, Any]] | None = None) -> None:
        """Kept in the outbox until the runner settles it: an answer given offline goes out on reconnect."""
        handle = self.handle_for(session_id)
        if handle is not None:
            handle.connection.answer(session_id, request_id, behavior, message, answers=answers,
                                     updated_permissions=updated_permissions)

    def ask_questions(self, session_id: str, request_id: str, tool_input: object) -> QuestionDialog:
        """The agent asked the user questions (AskUserQuestion): the choices in a dialog; the answers go back."""
        dialog = QuestionDialog(tool_input, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.answer(session_id, request_id, "allow", answers=dialog.answers()))
        dialog.open()
        self.question_dialog = dialog
        return dialog

    def _outbox_action(self, client_msg_id: str, action: str) -> None:
        if self.core is None or self.connection is None:
            return
        if action == "retry":
            self.connection.retry_outbox(client_msg_id)
        else:
            self.core.discard_outbox(client_msg_id)

    def _request(self, message: dict[str, Any]) -> None:
        self._tasks.spawn(self.request(message))

    async def request(self, message: dict[str, Any], runner: str | None = None) -> dict[str, Any] | None:
        """Send a request to `runner`, else to the runner of the session it names, else to the current runner;
        a failure is shown to the user (and returned as None)."""
        session = message.get("session")
        handle = (self.runners.get(runner) if runner is not None
                  else self.handle_for(session if isinstance(session, str) else None))
        if handle is None:
            return None
        try:
            return await handle.connection.request(message)
        except RunnerRequestError as exc:
            self._notice("error", exc.message)
        except NotConnected:
            self._notice("error", "Not connected to the runner: try again once the dot is green.")
        except TimeoutError:
            self._notice("error", f"The runner did not answer the {message.get('type')} request in time.")
        return None

    async def resize_terminal(self, session_id: str, cols: int, rows: int) -> None:
        """Best effort, never shown to the user: a runner without terminals refuses (bad_request, or
        unknown_type from an older runner), and a program may end before the size reaches it."""
        handle = self.handle_for(session_id)
        if handle is None:
            return
        try:
            await handle.connection.request({"type": "resize", "session": session_id, "cols": cols, "rows": rows})
        except RunnerRequestError as exc:
            log.debug("resize of %s to %dx%d not applied: %s (%s)", session_id, cols, rows, exc.message, exc.code)
        except (NotConnected, TimeoutError) as exc:
            log.debug("resize of %s to %dx%d not applied: %r", session_id, cols, rows, exc)

    async def create_session(self, request: dict[str, Any], runner: str | None = None) -> str | None:
        """Create a session on `runner` (default: the current runner) and show it."""
        key = runner or self.runner_key
        reply = await self.request({**request, "type": "create"}, runner=key)
        if reply is None:
            return None
        self.settings.remember_agent_defaults(request)  # the next new session of this agent starts from these
        # The folder asked for, not a worktree the runner made from it (the reply's cwd then).
        session = reply.get("session") or {}
        self.recent_folders.add(key, request.get("cwd") or ("" if request.get("worktree")
                                                            else str(session.get("cwd") or "")))
        self.remembered.save()
        sid = reply.get("session", {}).get("id")
        if isinstance(sid, str):
            self.window.select_session(sid, key)
        return sid if isinstance(sid, str) else None

    def show_changes(self, session_id: str) -> ChangesDialog:
        """The changes panel of a session's worktree (one per session; refreshed when its turn ends)."""
        dialog = self.changes_dialogs.get(session_id)
        if dialog is None:
            handle = self.handle_for(session_id)
            info = handle.core.sessions.get(session_id) if handle is not None else None
            title = info.title if info is not None else ""
            dialog = ChangesDialog(session_id, title, self.request, self.window)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.destroyed.connect(lambda *_: self.changes_dialogs.pop(session_id, None))
            self.changes_dialogs[session_id] = dialog
        dialog.show()
        self._tasks.spawn(dialog.refresh())
        return dialog

    def ask_new_session(self) -> None:
        """A new session on the current runner: the selected session's or group's. With several runners and
        nothing selected, which one is asked first."""
        keys = [k for k in self.window.sessions_model.runners() if k in self.runners]
        if len(keys) > 1 and self.window.sessions_view.selectionModel().selectedIndexes() == []:
            self._ask_runner_then_new_session(keys)
            return
        self._new_session_on(self.runner_key)

    def _ask_runner_then_new_session(self, keys: list[str]) -> None:
        labels = {self._label(k): k for k in reversed(keys)}  # the first runner of a label, if two share one
        dialog = runner_question(self.window, [self._label(k) for k in keys], self._label(self.runner_key))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.textValueSelected.connect(lambda label: self._new_session_on(labels.get(label, self.runner_key)))
        dialog.open()
        self.runner_choice_dialog = dialog

    def _new_session_on(self, key: str) -> None:
        handle = self.runners.get(key)
        core = handle.core if handle is not None else None
        agents = core.agents if core is not None else []
        cwd = None
        if core is not None and key == self.runner_key and self.window.current in core.sessions:
            cwd = core.sessions[self.window.current].data.get("cwd")
        dialog = NewSessionDialog(agents, cwd, self.window, defaults=self.settings.agent_defaults,
                                  local=key == EMBEDDED,
                                  request=handle.connection.request if handle is not None else None,
                                  recent=self.recent_folders.folders(key), runner_name=self._label(key))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._tasks.spawn(self.create_session(dialog.request(), runner=key)))
        dialog.open()
        self.new_session_dialog = dialog

    def ask_session_options(self, session_id: str) -> None:
        """Change a session's model / permission mode (the runner's `configure`)."""
        handle = self.handle_for(session_id)
        if handle is None or session_id not in handle.core.sessions:
            return
        data = handle.core.sessions[session_id].data
        agent = next((a for a in handle.core.agents if a.get("name") == data.get("agent")), {})
        dialog = SessionOptionsDialog(session_id, agent, data.get("options") or {}, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: (req := dialog.request()) and self._request(req))
        dialog.open()
        self.session_options_dialog = dialog

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self.tokens, self.runner_key, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.connect_requested.connect(self.switch_runner)
        dialog.runners_changed.connect(self.sync_runners)
        if self.runner_key != EMBEDDED and self.settings.find(self.runner_key) is None:
            # Started with --runner: offer to save this runner (and its token) right away.
            dialog.prefill_new(self.runner_key)
        self.remembered.add_theme_choice(dialog)
        dialog.finished.connect(lambda _r: self._token_maybe_changed())
        dialog.open()
        self.settings_dialog = dialog

    def _token_maybe_changed(self) -> None:
        if not self.explicit_token:
            self.runner_set.tokens_changed()

    def switch_runner(self, key: str) -> None:
        """Make `key` the current runner (chosen in the settings): its group is selected, with the session last
        selected there. A runner not configured is connected (as a group of its own) until another is chosen."""
        self.explicit_token = None
        self.transient = key if key not in self.configured_runners() else None
        self.sync_runners()
        self.window.select_runner(key)
        self.remembered.runner_chosen(key)
        self._restore_session(key)

    def _restore_session(self, key: str) -> None:
        handle = self.runners.get(key)
        sid = self.remembered.to_select(key, handle.core.sessions) if handle is not None else None
        if sid is not None:
            self.window.select_session(sid, key)

    # ------------------------------------------------------------------ window, tray, quit

    def _close_window(self) -> None:
        if self.tray is not None and self.tray.visible:
            self.window.hide()
        else:
            self.request_quit()

    def running_count(self) -> int:
        """Agents running on every runner this app is connected to."""
        return self.runner_set.running_count()

    def quit_now(self) -> None:
        """Quit without asking (a signal from the system): the embedded runner stops its agents cleanly."""
        if not self.closed:
            self._tasks.spawn(self.shutdown())

    def request_quit(self) -> None:
        if self.closed:
            return
        # Agents of a remote runner keep running after we quit; ours stop with the embedded runner.
        embedded = self.runners.get(EMBEDDED)
        running = embedded.running_count() if embedded is not None else 0
        unsent = sum(h.core.outbox.undelivered() for h in self.runners.values())
        if running == 0 and unsent == 0:
            self._tasks.spawn(self.shutdown())
            return
        box, stop = quit_question(self.window, running, unsent)
        box.buttonClicked.connect(lambda button: button is stop and self._tasks.spawn(self.shutdown()))
        self.quit_box = box
        self.window.showNormal()
        self.window.raise_()
        box.open()

    def install_tray(self) -> Tray:
        """The tray icon (built where the platform has a tray; tests build it anyway)."""
        tray = Tray(self)
        tray.show_requested.connect(self.show_window)
        tray.toggle_requested.connect(self._toggle_window)
        tray.retry_requested.connect(self.retry_now)
        tray.quit_requested.connect(self.request_quit)
        self.tray = tray
        self._update_tray()
        return tray

    def _toggle_window(self) -> None:
        if self.window.isVisible() and not self.window.isMinimized():
            self.window.hide()
        else:
            self.show_window()

    def show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def _status_changed(self, handle: RunnerHandle, status: ConnectionStatus) -> None:
        if handle is self.shown:
            self.status_changed.emit(status)
        self._overall_changed()

    def _overall_changed(self) -> None:
        """The window's overall dot (the worst of all runners; each runner's own is in its group) and the tray."""
        self.window.set_overall_status(self.overall_status())
        self._update_tray()

    def overall_status(self) -> ConnectionStatus:
        return self.runner_set.overall_status()

    def _update_tray(self) -> None:
        if self.tray is None:
            return
        self.tray.update(self.overall_status(), self.running_count())

    def _session_updated(self, handle: RunnerHandle, info: SessionInfo, previous: str | None) -> None:
        self._update_tray()
        dialog = self.changes_dialogs.get(info.id) if handle is self.shown else None
        if dialog is not None and previous in LIVE_STATUSES and info.status != previous:
            self._tasks.spawn(dialog.refresh())  # a turn ended: show what it changed
        watching = handle is self.shown and self._window_active()
        notification = self.notifications.consider(self._journal_key(handle), info, previous,
                                                   user_watching=watching)
        if notification is not None:
            self.notify(notification)

    def _sessions_listed(self, handle: RunnerHandle) -> None:
        """The whole list, after each connect: what changed while the app was away is told now, once."""
        self._update_tray()
        self._restore_session(handle.key)
        watching = handle is self.shown and self._window_active()
        for notification in self.notifications.listed(self._journal_key(handle), handle.core.sessions.values(),
                                                      user_watching=watching):
            self.notify(notification)

    @staticmethod
    def _journal_key(handle: RunnerHandle) -> str:
        """Seqs are per journal: what was notified is remembered per runner id (the same journal behind
        another URL is the same history; another journal behind the same URL is not)."""
        return handle.core.runner_id or handle.key

    def _session_removed(self, handle: RunnerHandle, session_id: str) -> None:
        self.notifications.session_removed(self._journal_key(handle), session_id)
        self._update_tray()

    def _window_active(self) -> bool:
        w = self.window
        return w.isVisible() and not w.isMinimized() and w.isActiveWindow()

    def notify(self, notification: Notification) -> None:
        self.notified.emit(notification.title, notification.body)
        self.notifier.show(notification.title, notification.body, notification.runner, notification.session_id)

    def set_notifier(self, notifier: Notifier) -> None:
        """Where notifications go (desktop/qt/desktop_notifier.py); a click on one opens its session."""
        self.notifier = notifier
        notifier.clicked.connect(lambda runner, sid: self.open_session(runner, sid))

    def open_session(self, runner: str, session_id: str) -> None:
        """A click on a notification: the window shown and raised, with the session selected in its runner's
        group. `runner` is the notification's runner: its journal id (or its key)."""
        self.show_window()
        handle = next((h for h in self.runners.values() if runner in (self._journal_key(h), h.key)), None)
        if handle is None:
            return  # removed from the settings since
        if session_id in handle.core.sessions:
            self.window.select_session(session_id, handle.key)
        else:
            self.window.select_runner(handle.key)

    async def ask_trust(self, runner: str, fingerprint: str) -> bool:
        """First connection to a wss:// runner whose certificate no authority vouches for: trusted (pinned) or
        not (nothing is sent)."""
        box, trust = trust_question(self.window, self._label(runner), fingerprint)
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        box.buttonClicked.connect(lambda button: answer.done() or answer.set_result(button is trust))
        box.finished.connect(lambda _r: answer.done() or answer.set_result(False))
        self.trust_box = box
        box.open()
        try:
            return await answer
        finally:
            self.trust_box = None
            box.deleteLater()

    def _notice(self, level: str, message: str) -> None:
        log.warning("%s: %s", level, message)
        self.noticed.emit(level, message)
        self.window.show_notice(level, message)


def keep_alive_timer(parent: QObject) -> QTimer:
    """A no-op timer that lets Python see Ctrl+C while Qt's event loop runs."""
    timer = QTimer(parent)
    timer.timeout.connect(lambda: None)
    timer.start(250)
    return timer
