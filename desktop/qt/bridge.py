"""ViewBridge: the core's listener on the Qt side. It owns the per-session transcript models and turns core
callbacks into Qt signals. Events are applied to models in coalesced batches (one insertion per flush).

A flush never holds the event loop for long: events are worked out in slices of about SLICE_S per event-loop
turn (layout, paint, input and timers run in between), and the batch is shown once its events are all worked
out, or every COMMIT_AFTER_S while more keep coming. A catch-up of 100,000 events thus costs the user no frozen
window, and a catch-up of a few thousand is still one insertion.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from desktop.core.status import ConnectionStatus, Phase
from desktop.core.view import SessionInfo, ViewCore, ViewListener
from desktop.qt.transcript_model import TranscriptModel

FLUSH_MS = 30
"""Events arriving within this many ms go into one model batch: smooth, at most ~33 layouts a second."""
STREAM_FLUSH_MS = 80
"""While events keep coming (a batch was shown less than STREAMING_S ago), batches are shown this often: each
one costs a layout and a repaint of the window, and ~12 updates a second read as smoothly as 33."""
STREAMING_S = 0.25
SLICE_S = 0.004
"""Work per event-loop turn at most (a little over: the slice ends after the step that crosses it)."""
BACKLOG_SLICE_S = 0.02
BACKLOG = 5000
"""With more than BACKLOG events waiting (a catch-up), slices are longer: fewer turns, less overhead between them,
and still under one frame at 60 Hz."""
STEP = 128
"""Events worked out between two looks at the clock."""
PROGRESS_MS = 100
"""A catch-up's count of events to go changes with every frame: shown at most this often."""
COMMIT_AFTER_S = 0.5
COMMIT_AFTER_EVENTS = 20_000
"""A batch still growing is shown anyway once it is this old and this big, so a long catch-up shows progress
(and is still a few big batches, not many small ones)."""


class ViewBridge(QObject):
    """One runner's view on the Qt side. Everything reaches it through its public methods and signals: the
    core through `listener`, the window through `model`, `session` and `sessions`."""

    status_changed = Signal(object)
    runner_changed = Signal(str)
    sessions_listed = Signal()
    session_updated = Signal(object, object)  # SessionInfo, previous status (None: new)
    session_removed = Signal(str)
    heads_changed = Signal(list)
    outbox_changed = Signal(str)
    agents_listed = Signal(list)
    notice = Signal(str, str)
    events_applied = Signal(str, int)  # session, number of events

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._core: ViewCore | None = None
        self._models: dict[str, TranscriptModel] = {}
        self._buffer: dict[str, list[dict[str, Any]]] = {}
        self._last_commit = 0.0
        self._packing: set[str] = set()
        """Sessions whose models have rows left to pack (done a little per idle turn)."""
        self.rendering = True
        self.connected = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self.flush)
        self._shown_status: ConnectionStatus | None = None
        self._progress = QTimer(self)
        self._progress.setSingleShot(True)
        self._progress.setInterval(PROGRESS_MS)
        self._progress.timeout.connect(self._show_progress)
        self.listener: ViewListener = _Listener(self)
        """What the core reports to (ViewCore's listener)."""

    def bind(self, core: ViewCore) -> None:
        """The core this bridge shows (built with `listener`); once, before anything is shown."""
        self._core = core

    # ------------------------------------------------------------ for the window

    def model(self, session_id: str) -> TranscriptModel:
        model = self._models.get(session_id)
        if model is None:
            model = self._models[session_id] = TranscriptModel(session_id, self)
            self.refresh_pending(session_id)
        return model

    def has_model(self, session_id: str) -> bool:
        return session_id in self._models

    def session(self, session_id: str | None) -> SessionInfo | None:
        if self._core is None or session_id is None:
            return None
        return self._core.sessions.get(session_id)

    def sessions(self) -> list[SessionInfo]:
        return list(self._core.sessions.values()) if self._core is not None else []

    @property
    def status(self) -> ConnectionStatus:
        return self._core.status if self._core is not None else ConnectionStatus()

    def dispose(self) -> None:
        """Free every transcript (the runner is gone from this window)."""
        self._timer.stop()
        self._buffer.clear()
        self._packing.clear()
        for sid in list(self._models):
            self.release(sid)

    # ------------------------------------------------------------ from the core (through _Listener)

    def events(self, session_id: str, events: list[dict[str, Any]]) -> None:
        self._buffer.setdefault(session_id, []).extend(events)
        if self.rendering and not self._timer.isActive():
            streaming = time.monotonic() - self._last_commit < STREAMING_S
            self._timer.start(STREAM_FLUSH_MS if streaming else FLUSH_MS)

    def flush(self) -> None:
        """One step per event-loop turn: show one batch that is ready, or work out buffered events for about
        SLICE_S. Comes back on the next turn while anything is left."""
        if not self.rendering:
            return
        backlog = sum(len(events) for events in self._buffer.values()) > BACKLOG
        deadline = time.perf_counter() + (BACKLOG_SLICE_S if backlog else SLICE_S)
        ready = [sid for sid, model in self._models.items() if model.has_prepared()
                 and (not self._buffer.get(sid) or (model.pending_age() >= COMMIT_AFTER_S
                                                    and model.prepared_events() >= COMMIT_AFTER_EVENTS))]
        if ready:
            self._commit(ready[0], self._models[ready[0]])
        else:
            for sid in list(self._buffer):
                events, model, taken = self._buffer[sid], self.model(sid), 0
                while taken < len(events) and time.perf_counter() < deadline:
                    model.prepare_events(events[taken:taken + STEP])
                    taken += STEP
                # Only what is not worked out yet stays buffered (a stream that never pauses must not
                # keep every event it ever sent).
                if taken >= len(events):
                    del self._buffer[sid]
                elif taken:
                    self._buffer[sid] = events[taken:]
        # Whatever is left of the slice packs rows that left a window (a chunk is ~0.3 ms), so memory stays
        # bounded during a stream that never pauses too.
        for sid in list(self._packing):
            model = self._models.get(sid)
            first = True  # at least one chunk a turn: a stream that fills every slice must not outrun it
            while model is not None and (first or time.perf_counter() < deadline):
                first = False
                if not model.pack_some():
                    model = None
            if model is None:
                self._packing.discard(sid)
            if time.perf_counter() >= deadline:
                break
        if self._buffer or self._packing or any(m.has_prepared() for m in self._models.values()):
            self._timer.start(0)

    def flush_all(self) -> None:
        """Everything buffered, now, each session as one batch."""
        buffered, self._buffer = self._buffer, {}
        for sid, events in buffered.items():
            self.model(sid).prepare_events(events)
        for sid, model in list(self._models.items()):
            if model.has_prepared():
                self._commit(sid, model)

    def _commit(self, sid: str, model: TranscriptModel) -> None:
        self._last_commit = time.monotonic()
        count = model.commit_events()
        self._packing.add(sid)
        if count:
            self.events_applied.emit(sid, count)

    def set_rendering(self, enabled: bool) -> None:
        if not enabled and self.rendering:
            # Render what already arrived (at most one FLUSH_MS window) before stopping. Kept back, it would
            # be applied on its own when rendering resumes, ahead of the catch-up: two batches, not one.
            self.flush_all()
        self.rendering = enabled
        if enabled:
            self.flush()
        else:
            self._timer.stop()

    def show_status(self, status: ConnectionStatus) -> None:
        connected = status.phase in (Phase.LIVE, Phase.CATCHING_UP)
        if connected != self.connected:
            self.connected = connected
            for sid in list(self._models):
                self.refresh_pending(sid)
        shown = self._shown_status
        if shown is not None and status.behind != shown.behind and replace(status, behind=shown.behind) == shown:
            # Only the count to go moved: the window catches up with it a few times a second (redrawing the
            # status on every frame of a catch-up cost a fifth of the GUI's time).
            if not self._progress.isActive():
                self._progress.start()
            return
        self._progress.stop()
        self._shown_status = status
        self.status_changed.emit(status)

    def _show_progress(self) -> None:
        status = self.status
        if status != self._shown_status:
            self._shown_status = status
            self.status_changed.emit(status)

    def clear_transcripts(self, runner_id: str) -> None:
        """Another journal behind the same address: every transcript starts over."""
        self._packing.clear()
        self._buffer.clear()
        for model in self._models.values():
            model.reset()
        self.runner_changed.emit(runner_id)

    def refresh_pending(self, session_id: str) -> None:
        """The session's unsent messages, as pending rows under its transcript."""
        if self._core is None or session_id not in self._models:
            return
        self._models[session_id].set_pending(self._core.outbox.for_session(session_id), self.connected)

    def release(self, session_id: str) -> None:
        """Free a session's transcript (deleted, or nobody shows it any more)."""
        self._buffer.pop(session_id, None)
        self._packing.discard(session_id)
        model = self._models.pop(session_id, None)
        if model is not None:
            model.deleteLater()


class _Listener(ViewListener):
    """Adapts ViewListener's method names onto the bridge's signals."""

    def __init__(self, bridge: ViewBridge) -> None:
        self.b = bridge

    def status_changed(self, status: ConnectionStatus) -> None:
        self.b.show_status(status)

    def runner_changed(self, runner_id: str) -> None:
        self.b.clear_transcripts(runner_id)

    def sessions_listed(self, sessions: list[SessionInfo]) -> None:
        self.b.sessions_listed.emit()

    def session_updated(self, info: SessionInfo, previous_status: str | None) -> None:
        self.b.session_updated.emit(info, previous_status)

    def session_removed(self, session_id: str) -> None:
        self.b.release(session_id)
        self.b.session_removed.emit(session_id)

    def session_released(self, session_id: str) -> None:
        self.b.release(session_id)

    def heads_changed(self, session_ids: list[str]) -> None:
        self.b.heads_changed.emit(session_ids)

    def events(self, session_id: str, events: list[dict[str, Any]]) -> None:
        self.b.events(session_id, events)

    def outbox_changed(self, session_id: str) -> None:
        self.b.refresh_pending(session_id)
        self.b.outbox_changed.emit(session_id)

    def agents_listed(self, agents: list[dict[str, Any]]) -> None:
        self.b.agents_listed.emit(agents)

    def notice(self, level: str, message: str) -> None:
        self.b.notice.emit(level, message)

