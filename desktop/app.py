"""NightshiftApp: wires the runners, the window, the tray, notifications and settings together.

Each runner it is connected to is a `RunnerHandle` (view core + connection + bridge + the embedded runner when
there is one), created and disposed as a unit. Every configured runner is connected at once and stays connected
(the embedded one and the saved remote ones, or the runners given with `--runner`); the sidebar lists them with
a dot each, and the window shows one runner's sessions at a time. What is worth a notification is
decided by `NotificationPolicy` (desktop/core, no Qt); the tray is `Tray`.

The lifecycle helper (desktop/lifecycle) drives it through `set_rendering`, `reconnect_now`, `probe`,
`retry_now` and `network_back`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop.connection import NotConnected, RunnerConnection, RunnerRequestError
from desktop.core.backoff import Backoff
from desktop.core.notifications import FileNotifiedStore, NotificationPolicy
from desktop.core.outbox import Outbox
from desktop.core.ssh_tunnel import SshTunnel
from desktop.core.status import ConnectionStatus, worst
from desktop.core.trust import PINS_FILE, PinStore, TrustOnFirstUse
from desktop.core.view import RELEASE_AFTER_S, SessionInfo, ViewCore
from desktop.outbox_store import FileOutboxStore
from desktop.qt.bridge import ViewBridge
from desktop.qt.changes import ChangesDialog
from desktop.qt.dialogs import NewSessionDialog, SessionOptionsDialog, SettingsDialog
from desktop.qt.main_window import MainWindow
from desktop.qt.questions import QuestionDialog
from desktop.qt.rows.image import attach_images
from desktop.qt.runner_handle import RunnerHandle
from desktop.qt.tray import Tray
from desktop.settings import EMBEDDED, SettingsStore, TokenStore
from desktop.unhandled import install_loop_handler
from runner.environment import data_dir_from_env, token_from_env
from runner.vocabulary import LIVE_STATUSES

log = logging.getLogger(__name__)


class NightshiftApp(QObject):
    notified = Signal(str, str)  # title, body (also shown by the tray where there is one)
    noticed = Signal(str, str)  # level, message: shown under the session header
    status_changed = Signal(object)  # ConnectionStatus of the runner shown

    def __init__(self, qapp: QApplication, *, runner_url: str | None = None, runner_urls: list[str] | None = None,
                 token: str | None = None,
                 data_dir: str | None = None, settings: SettingsStore | None = None,
                 tokens: TokenStore | None = None, use_tray: bool = True,
                 backoff: Backoff | None = None, connection_options: dict[str, Any] | None = None,
                 lifecycle: bool | dict[str, Any] = True, outbox_dir: Path | None = None,
                 notifications: NotificationPolicy | None = None,
                 release_after_s: float = RELEASE_AFTER_S, tunnel_options: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.qapp = qapp
        self.settings = settings or SettingsStore()
        self.tokens = tokens or TokenStore()
        self.data_dir = data_dir or data_dir_from_env()
        self.explicit_token = token
        # --runner (repeatable): exactly those runners. Otherwise the embedded runner and every saved one, showing
        # first the one shown when the app last quit.
        self.given_runners = list(dict.fromkeys([*(runner_urls or []), *([runner_url] if runner_url else [])]))
        last = self.settings.last_runner
        self.first_runner = (self.given_runners[0] if self.given_runners
                             else last if last == EMBEDDED or self.settings.find(last) else EMBEDDED)
        self._opening: dict[str, asyncio.Future[RunnerHandle | None]] = {}
        # Unsent messages live next to the settings (a test's settings in a temporary folder take them along).
        self.outbox_dir = outbox_dir or self.settings.path.parent / "outbox"
        self.runners: dict[str, RunnerHandle] = {}
        """Every runner this app is connected to, by key (EMBEDDED or URL)."""
        self.shown: RunnerHandle | None = None
        self._switches = 0
        self._switch_lock = asyncio.Lock()
        self.rendering = True
        self.backoff = backoff
        self.connection_options = connection_options or {}
        self.tunnel_options = tunnel_options or {}
        """Extra SshTunnel arguments for ssh:// runners (a test's sshd: its ssh options, the runner command)."""
        self.release_after_s = release_after_s
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
        self.closed = False
        self._shutdown: asyncio.Future[None] | None = None
        self._done: asyncio.Future[int] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.window = MainWindow(None, self._label(self.first_runner))
        self._wire_window()
        self.tray: Tray | None = None
        if use_tray and Tray.available():
            self.install_tray()
        self.changes_dialogs: dict[str, ChangesDialog] = {}

    # ------------------------------------------------------------------ the runner shown

    @property
    def runner_key(self) -> str:
        return self.shown.key if self.shown is not None else self.first_runner

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

    # ------------------------------------------------------------------ start and stop

    async def start(self) -> None:
        """Start the embedded runner (unless remote) and the connection."""
        loop = asyncio.get_running_loop()
        install_loop_handler(loop)
        self._done = loop.create_future()
        self._sync_runners()
        await self._connect_to(self.first_runner)
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
        await self.start()
        self.window.show()
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

    def _sync_runners(self) -> None:
        """Connect every configured runner not connected yet (all at once: a remote one connects while the
        embedded one starts), disconnect those removed from the settings, and list them in the sidebar."""
        keys = self.configured_runners()
        for key in keys:
            if key not in self.runners and key not in self._opening:
                self._spawn(self._ensure_handle(key))
        for key, handle in list(self.runners.items()):
            if key not in keys and key != EMBEDDED:
                if handle is self.shown:
                    self._show(None)
                    self._spawn(self._connect_to(keys[0]))
                self._spawn(self._close_handle(handle))
        for key, handle in self.runners.items():
            handle.label = self._label(key)
        self.window.runner_list.set_runners([(k, self._label(k)) for k in keys])
        for handle in self.runners.values():
            self._runner_status_shown(handle)

    async def _ensure_handle(self, key: str) -> RunnerHandle | None:
        """The runner's handle, opened (and the embedded runner started) once, however many ask at once."""
        handle = self.runners.get(key)
        if handle is not None or self.closed:
            return handle
        opening = self._opening.get(key)
        if opening is None:
            opening = self._opening[key] = asyncio.ensure_future(self._open(key))
            opening.add_done_callback(lambda _f: self._opening.pop(key, None))
        return await asyncio.shield(opening)

    async def _open(self, key: str) -> RunnerHandle | None:
        if key != EMBEDDED:
            return self._open_handle(key, key, self._token_for(key), None)
        embedded = await self._start_embedded_runner()
        if self.closed:
            await asyncio.get_running_loop().run_in_executor(None, embedded.stop)
            return None
        return self._open_handle(key, embedded.url, embedded.token, embedded)

    async def _connect_to(self, key: str) -> None:
        """Show runner `key`, connecting to it unless already connected. Switches are serialized, and one
        superseded by a later switch while it waited does nothing. Configured runners switched away from stay
        connected (their statuses, notifications and agents carry on) until removed from the settings or the
        app quits; a runner that is not configured (not saved) is disconnected when switched away from."""
        self._switches += 1
        switch = self._switches
        async with self._switch_lock:
            if switch != self._switches or self.closed:
                return
            handle = await self._ensure_handle(key)
            if switch != self._switches or self.closed or handle is None:
                # Superseded meanwhile: a runner opened only to be shown is not kept.
                if handle is not None and handle is not self.shown and key not in self.configured_runners():
                    await self._close_handle(handle)
                return
            previous = self.shown
            self._show(handle)
            if previous is not None and previous is not handle and previous.key not in self.configured_runners():
                await self._close_handle(previous)

    async def _close_handle(self, handle: RunnerHandle) -> None:
        await handle.close()
        # Listed until closed: `embedded` stays set until its runner has stopped.
        if self.runners.get(handle.key) is handle:
            del self.runners[handle.key]

    def _token_for(self, url: str) -> str | None:
        return self.explicit_token or token_from_env() or self.tokens.get(url)

    def outbox_key(self, key: str) -> str:
        """Which runner an outbox file belongs to: a remote runner's URL, or the embedded runner's folder."""
        if key != EMBEDDED:
            return key
        from runner.environment import default_data_dir

        return "embedded:" + os.path.realpath(self.data_dir or default_data_dir())

    def _open_handle(self, key: str, url: str, token: str | None, embedded: Any) -> RunnerHandle:
        outbox = Outbox(FileOutboxStore(self.outbox_dir, self.outbox_key(key)),
                        on_store_error=lambda problem: self._notice("warning", problem.capitalize()))
        options = dict(self.connection_options)
        tunnel = None
        if url.startswith("ssh://"):
            # The system ssh carries it (the user's keys and ~/.ssh/config); a certificate behind it is pinned too.
            tunnel = SshTunnel(url, trust=self.trust, on_dead=lambda why: log.warning("ssh to %s: %s", url, why),
                               **self.tunnel_options)
        elif url.startswith("wss://"):
            options.setdefault("opener", self.trust.connect)  # trust on first use for a self-signed runner
        handle = RunnerHandle(key, self._label(key), url, token, outbox=outbox, parent=self, embedded=embedded,
                              rendering=self.rendering, backoff=self.backoff or Backoff(),
                              connection_options=options, release_after_s=self.release_after_s, tunnel=tunnel)
        bridge = handle.bridge
        bridge.status_changed.connect(lambda status: self._status_changed(handle, status))
        bridge.session_updated.connect(lambda info, previous: self._session_updated(handle, info, previous))
        bridge.sessions_listed.connect(lambda: self._sessions_listed(handle))
        bridge.session_removed.connect(lambda sid: self._session_removed(handle, sid))
        bridge.notice.connect(self._notice)
        bridge.sessions_listed.connect(lambda: self._runner_status_shown(handle))
        bridge.session_updated.connect(lambda *_: self._runner_status_shown(handle))
        bridge.session_removed.connect(lambda *_: self._runner_status_shown(handle))
        self.runners[key] = handle
        handle.start()
        self._runner_status_shown(handle)
        return handle

    def _show(self, handle: RunnerHandle | None) -> None:
        if self.shown is not None and self.shown is not handle:
            self.shown.core.select(None)  # its session is not shown any more (released after a while)
        self.shown = handle
        if handle is None:
            self.window.show_runner(None, "")
            return
        self.window.show_runner(handle.bridge, handle.label)
        self.window.runner_list.set_shown(handle.key)
        self._status_changed(handle, handle.core.status)

    async def _start_embedded_runner(self) -> Any:
        from runner.embedded import EmbeddedRunner

        runner = EmbeddedRunner(data_dir=self.data_dir)
        # start() blocks until the runner listens; keep the GUI painting meanwhile.
        await asyncio.get_running_loop().run_in_executor(None, runner.start)
        return runner

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
        self._switches += 1  # a switch still waiting must not open a connection after this
        # A runner still starting stops as soon as it has started (`closed` is set).
        await asyncio.gather(*(asyncio.shield(f) for f in list(self._opening.values())), return_exceptions=True)
        async with self._switch_lock:
            self._show(None)
            await asyncio.gather(*(self._close_handle(h) for h in list(self.runners.values())))
        if self.tray is not None:
            self.tray.hide()
        self.window.hide()
        if self._done is not None and not self._done.done():
            self._done.set_result(0)

    # ------------------------------------------------------------------ API for the lifecycle watcher
    # Each applies to every runner at once: a wake or a network change concerns all of them.

    @property
    def connected(self) -> bool:
        return any(h.connection.connected for h in self.runners.values())

    def set_rendering(self, enabled: bool) -> None:
        """Off (window hidden/minimized): no live events reach the GUI; statuses and unread counts stay
        current. On: every open session catches up from the last seq it rendered, in one batch."""
        self.rendering = enabled
        for handle in self.runners.values():
            handle.set_rendering(enabled)

    def reconnect_now(self, reason: str = "reconnect requested") -> None:
        for handle in self.runners.values():
            handle.connection.reconnect_now(reason)

    async def probe(self, timeout: float = 2.0) -> bool:
        """Probe every connection in parallel (one unreachable runner never delays the others); True if all
        answered."""
        handles = list(self.runners.values())
        if not handles:
            return False
        answers = await asyncio.gather(*(h.connection.probe(timeout) for h in handles))
        return all(answers)

    def retry_now(self) -> None:
        for handle in self.runners.values():
            handle.connection.retry_now()

    def network_back(self) -> None:
        for handle in self.runners.values():
            handle.connection.network_back()

    # ------------------------------------------------------------------ actions

    def _wire_window(self) -> None:
        w = self.window
        w.new_session_requested.connect(self.ask_new_session)
        w.send_requested.connect(self.send)
        w.interrupt_requested.connect(lambda sid: self._request({"type": "interrupt", "session": sid}))
        w.stop_requested.connect(lambda sid: self._request({"type": "stop", "session": sid}))
        w.delete_requested.connect(lambda sid, discard: self._request(
            {"type": "delete", "session": sid, **({"discard_worktree": True} if discard else {})}))
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
            lambda sid, cols, rows: self._spawn(self.resize_terminal(sid, cols, rows)))
        w.find_bar.request = self.request  # Ctrl+F searches the shown runner's journal
        attach_images(w.transcript, lambda: self.connection)  # thumbnails fetched from the shown runner
        w.runner_list.runner_chosen.connect(self.switch_runner)

    def _session_selected(self, sid: str | None) -> None:
        if self.core is None or self.connection is None:
            return
        if sid is not None:
            self.connection.open_session(sid)
        self.core.select(sid)
        self.window.sessions_model.refresh()

    def send(self, session_id: str, text: str) -> None:
        if self.core is None or self.connection is None:
            return
        info = self.core.sessions.get(session_id)
        if info is not None and info.agent == "command" and not text.endswith("\n"):
            text += "\n"  # a line for the program's stdin
        self.connection.send_text(session_id, text)

    def answer(self, session_id: str, request_id: str, behavior: str, answers: dict[str, str] | None = None,
               message: str | None = None, updated_permissions: list[dict[str, Any]] | None = None) -> None:
        """Kept in the outbox until the runner settles it: an answer given offline goes out on reconnect."""
        if self.connection is not None:
            self.connection.answer(session_id, request_id, behavior, message, answers=answers,
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
        self._spawn(self.request(message))

    async def request(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """Send a request; a failure is shown to the user (and returned as None)."""
        if self.connection is None:
            return None
        try:
            return await self.connection.request(message)
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
        if self.connection is None:
            return
        try:
            await self.connection.request({"type": "resize", "session": session_id, "cols": cols, "rows": rows})
        except RunnerRequestError as exc:
            log.debug("resize of %s to %dx%d not applied: %s (%s)", session_id, cols, rows, exc.message, exc.code)
        except (NotConnected, TimeoutError) as exc:
            log.debug("resize of %s to %dx%d not applied: %r", session_id, cols, rows, exc)

    async def create_session(self, request: dict[str, Any]) -> str | None:
        reply = await self.request({**request, "type": "create"})
        if reply is None:
            return None
        self.settings.remember_agent_defaults(request)  # the next new session of this agent starts from these
        with contextlib.suppress(OSError):
            self.settings.save()
        sid = reply.get("session", {}).get("id")
        if isinstance(sid, str):
            self.window.select_session(sid)
        return sid if isinstance(sid, str) else None

    def show_changes(self, session_id: str) -> ChangesDialog:
        """The changes panel of a session's worktree (one per session; refreshed when its turn ends)."""
        dialog = self.changes_dialogs.get(session_id)
        if dialog is None:
            title = self.core.sessions[session_id].title if self.core and session_id in self.core.sessions else ""
            dialog = ChangesDialog(session_id, title, self.request, self.window)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.destroyed.connect(lambda *_: self.changes_dialogs.pop(session_id, None))
            self.changes_dialogs[session_id] = dialog
        dialog.show()
        self._spawn(dialog.refresh())
        return dialog

    def ask_new_session(self) -> None:
        agents = self.core.agents if self.core is not None else []
        cwd = None
        if self.core is not None and self.window.current in self.core.sessions:
            cwd = self.core.sessions[self.window.current].data.get("cwd")
        dialog = NewSessionDialog(agents, cwd, self.window, defaults=self.settings.agent_defaults,
                                  local=self.runner_key == EMBEDDED)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._spawn(self.create_session(dialog.request())))
        dialog.open()
        self.new_session_dialog = dialog

    def ask_session_options(self, session_id: str) -> None:
        """Change a session's model / permission mode (the runner's `configure`)."""
        if self.core is None or session_id not in self.core.sessions:
            return
        data = self.core.sessions[session_id].data
        agent = next((a for a in self.core.agents if a.get("name") == data.get("agent")), {})
        dialog = SessionOptionsDialog(session_id, agent, data.get("options") or {}, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: (req := dialog.request()) and self._request(req))
        dialog.open()
        self.session_options_dialog = dialog

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self.tokens, self.runner_key, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.connect_requested.connect(self.switch_runner)
        dialog.runners_changed.connect(self._sync_runners)
        if self.runner_key != EMBEDDED and self.settings.find(self.runner_key) is None:
            # Started with --runner: offer to save this runner (and its token) right away.
            dialog.prefill_new(self.runner_key)
        dialog.finished.connect(lambda _r: self._token_maybe_changed())
        dialog.open()
        self.settings_dialog = dialog

    def _token_maybe_changed(self) -> None:
        if self.explicit_token:
            return
        for key, handle in self.runners.items():
            token = self._token_for(key) if key != EMBEDDED else handle.connection.token
            if token != handle.connection.token:
                handle.connection.set_token(token)

    def switch_runner(self, key: str) -> None:
        self.settings.last_runner = key
        try:
            self.settings.save()
        except OSError as exc:
            log.warning("cannot save settings: %s", exc)
        self.explicit_token = None
        self._spawn(self._connect_to(key))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())
            self._notice("error", f"Internal error: {task.exception()}")

    # ------------------------------------------------------------------ window, tray, quit

    def _close_window(self) -> None:
        if self.tray is not None and self.tray.visible:
            self.window.hide()
        else:
            self.request_quit()

    def running_count(self) -> int:
        """Agents running on every runner this app is connected to."""
        return sum(h.running_count() for h in self.runners.values())

    def quit_now(self) -> None:
        """Quit without asking (a signal from the system): the embedded runner stops its agents cleanly."""
        if not self.closed:
            self._spawn(self.shutdown())

    def request_quit(self) -> None:
        if self.closed:
            return
        # Agents of a remote runner keep running after we quit; ours stop with the embedded runner.
        embedded = self.runners.get(EMBEDDED)
        running = embedded.running_count() if embedded is not None else 0
        unsent = sum(h.core.outbox.undelivered() for h in self.runners.values())
        if running == 0 and unsent == 0:
            self._spawn(self.shutdown())
            return
        lines, details = [], []
        if running:
            lines.append(f"{running} agent{'s are' if running != 1 else ' is'} still running.")
            details.append("Quitting stops them (their transcripts are kept).")
        if unsent:
            lines.append(f"{unsent} message{'s have' if unsent != 1 else ' has'} not been delivered yet.")
            details.append("They are kept and sent the next time Nightshift connects to this runner.")
        box = QMessageBox(QMessageBox.Icon.Question, "Quit Nightshift", " ".join(lines), parent=self.window)
        box.setInformativeText(" ".join(details))
        label = "Stop agents and quit" if running else "Quit anyway"
        stop = box.addButton(label, QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: button is stop and self._spawn(self.shutdown()))
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
        self._runner_status_shown(handle)
        self._update_tray()

    def _runner_status_shown(self, handle: RunnerHandle) -> None:
        """The runner's own dot in the sidebar, and the window's overall dot (the worst of all)."""
        if handle.closed:
            return
        self.window.runner_list.set_status(handle.key, handle.core.status, len(handle.core.sessions))
        self.window.set_overall_status(self.overall_status())

    def overall_status(self) -> ConnectionStatus:
        return worst([h.core.status for h in self.runners.values() if not h.closed])

    def _update_tray(self) -> None:
        if self.tray is None:
            return
        self.tray.update(self.overall_status(), self.running_count())

    def _session_updated(self, handle: RunnerHandle, info: SessionInfo, previous: str | None) -> None:
        self._update_tray()
        dialog = self.changes_dialogs.get(info.id) if handle is self.shown else None
        if dialog is not None and previous in LIVE_STATUSES and info.status != previous:
            self._spawn(dialog.refresh())  # a turn ended: show what it changed
        watching = handle is self.shown and self._window_active()
        notification = self.notifications.consider(self._journal_key(handle), info, previous,
                                                   user_watching=watching)
        if notification is not None:
            self.notify(notification.title, notification.body)

    def _sessions_listed(self, handle: RunnerHandle) -> None:
        """The whole list, after each connect: what changed while the app was away is told now, once."""
        self._update_tray()
        watching = handle is self.shown and self._window_active()
        for notification in self.notifications.listed(self._journal_key(handle), handle.core.sessions.values(),
                                                      user_watching=watching):
            self.notify(notification.title, notification.body)

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

    def notify(self, title: str, body: str) -> None:
        self.notified.emit(title, body)
        if self.tray is not None:
            self.tray.show_message(title, body)

    async def ask_trust(self, runner: str, fingerprint: str) -> bool:
        """First connection to a wss:// runner whose certificate no authority vouches for: the user compares the
        fingerprint with the one `nightshift-runner` printed, and trusts it (pinned) or not (nothing is sent)."""
        box = QMessageBox(QMessageBox.Icon.Question, "Trust this runner?",
                          f"First connection to {self._label(runner)}. Its certificate's SHA-256 fingerprint is:"
                          f"\n\n{fingerprint}", parent=self.window)
        box.setInformativeText("Trust it only if it is the fingerprint nightshift-runner printed on that machine "
                               "(nightshift-runner --fingerprint). If it ever changes, Nightshift will refuse "
                               "the connection and not send the token.")
        trust = box.addButton("Trust", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
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
