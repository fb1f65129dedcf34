"""What the user sent that the runner has not confirmed yet: typed messages and permission answers.

An item leaves only when it is settled:
- a message when the journaled `user` event carrying its client_msg_id arrives in the stream, or when a resend
  on a later connection is answered `sent` with `duplicate: true` (the runner already has it in its journal).
  A first `sent` marks it DELIVERED (no longer shown as pending) but keeps it: a runner that answered before
  its commit and then died would otherwise lose it silently. The runner applies each client_msg_id at most
  once, across reconnects and restarts, so resending everything unsettled is always safe.
- a permission answer when the runner answers `ok`, when its `permission_answer` event arrives, or when the
  runner says the request is no longer open (`unknown_request`: answered already, by us before a crash or by
  another view).

With a store, every change is written to disk (a new item at once, before it goes on the wire), so a quit, a
crash or a reboot with unsettled items sends them next time, exactly once.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

log = logging.getLogger(__name__)


class OutboxState(StrEnum):
    QUEUED = "queued"  # not sent on the current connection yet (offline, or restored from disk)
    IN_FLIGHT = "in_flight"  # written to a connection, no reply yet
    DELIVERED = "delivered"  # `sent` received; kept until the journal shows it (see the module's doc)
    FAILED = "failed"  # the runner refused it; kept until the user retries or discards it


@dataclass
class OutboxItem:
    client_msg_id: str
    """The item's key; for a message also the protocol's client_msg_id."""
    session: str
    text: str
    state: OutboxState = OutboxState.QUEUED
    error: str | None = None
    answer: dict[str, Any] | None = None
    """For a permission answer: request_id, behavior, and maybe message and answers (the user's choices for the
    agent's questions, question -> answer). None for a typed message."""

    @property
    def is_answer(self) -> bool:
        return self.answer is not None

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"id": self.client_msg_id, "session": self.session, "text": self.text}
        if self.state is OutboxState.FAILED:
            record["error"] = self.error or "failed"
        if self.answer is not None:
            record["answer"] = dict(self.answer)
        return record

    @classmethod
    def from_record(cls, record: Any) -> OutboxItem | None:
        if not isinstance(record, dict):
            return None
        cmid, session, text = record.get("id"), record.get("session"), record.get("text")
        if not (isinstance(cmid, str) and isinstance(session, str) and isinstance(text, str)):
            return None
        answer = record.get("answer")
        if answer is not None and not _valid_answer(answer):
            return None
        error = record.get("error")
        state = OutboxState.FAILED if isinstance(error, str) else OutboxState.QUEUED
        return cls(cmid, session, text, state, error if isinstance(error, str) else None, answer=answer)


def _valid_answer(answer: Any) -> bool:
    if not (isinstance(answer, dict) and "request_id" in answer and "behavior" in answer):
        return False
    for key, value in answer.items():
        if key == "answers":
            if not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
                return False
        elif key == "updated_permissions":
            if not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
                return False
        elif not isinstance(value, str):
            return False
    return True


class OutboxStore(Protocol):
    """Where an outbox keeps its items between runs (desktop.outbox_store.FileOutboxStore)."""

    def load(self) -> list[dict[str, Any]]: ...

    def save(self, records: list[dict[str, Any]], urgent: bool) -> None:
        """Keep these records (the whole outbox). `urgent`: durable before returning (a new item); otherwise
        it may be written a little later (a settled item that stays on disk a moment only costs a resend
        the runner answers as a duplicate)."""

    def flush(self) -> None: ...

    on_error: Callable[[OSError], None] | None
    """Set by the outbox: a delayed write failed."""


class Outbox:
    def __init__(self, store: OutboxStore | None = None,
                 on_store_error: Callable[[str], None] | None = None) -> None:
        self._items: dict[str, OutboxItem] = {}
        self._prefix = uuid.uuid4().hex[:12]
        self._counter = itertools.count(1)
        self._store = store
        self._on_store_error = on_store_error
        self.store_problem: str | None = None
        if store is not None:
            store.on_error = self._store_failed
            for record in store.load():
                item = OutboxItem.from_record(record)
                if item is not None and item.client_msg_id not in self._items:
                    self._items[item.client_msg_id] = item

    # ------------------------------------------------------------------ adding

    def add(self, session: str, text: str) -> OutboxItem:
        item = OutboxItem(self._new_id("c"), session, text)
        self._items[item.client_msg_id] = item
        self._save(urgent=True)
        return item

    def add_answer(self, session: str, request_id: str, behavior: str, message: str | None = None,
                   answers: dict[str, str] | None = None,
                   updated_permissions: list[dict[str, Any]] | None = None) -> OutboxItem:
        """A permission answer; a second answer to a request still unsettled is the first one."""
        for item in self._items.values():
            if item.answer is not None and item.session == session and item.answer["request_id"] == request_id:
                return item
        answer: dict[str, Any] = {"request_id": request_id, "behavior": behavior}
        if message:
            answer["message"] = message
        if answers:
            answer["answers"] = dict(answers)
        if updated_permissions:
            answer["updated_permissions"] = [dict(u) for u in updated_permissions]  # "allow for this session"
        item = OutboxItem(self._new_id("a"), session, "", answer=answer)
        self._items[item.client_msg_id] = item
        self._save(urgent=True)
        return item

    def _new_id(self, kind: str) -> str:
        return f"{kind}-{self._prefix}-{next(self._counter)}"

    # ------------------------------------------------------------------ reading

    def to_send(self) -> list[OutboxItem]:
        """What goes out on a fresh connection, oldest first: everything unsettled except failed items (they
        wait for the user). DELIVERED items go again too: the runner's duplicate answer settles them."""
        return [i for i in self._items.values() if i.state is not OutboxState.FAILED]

    def for_session(self, session: str) -> list[OutboxItem]:
        """The session's messages the user still waits for (shown as pending rows): not answers, and not
        those the runner has acknowledged."""
        return [i for i in self._items.values() if i.session == session and not i.is_answer
                and i.state is not OutboxState.DELIVERED]

    def undelivered(self) -> int:
        """Items the runner has not acknowledged yet."""
        return sum(1 for i in self._items.values() if i.state is not OutboxState.DELIVERED)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._items.values()))

    # ------------------------------------------------------------------ changes

    def in_flight(self, item: OutboxItem) -> None:
        if item.state is OutboxState.QUEUED:
            item.state = OutboxState.IN_FLIGHT

    def connection_lost(self) -> None:
        """Nothing is in flight any more: those items go again on the next connection."""
        for item in self._items.values():
            if item.state is OutboxState.IN_FLIGHT:
                item.state = OutboxState.QUEUED

    def delivered(self, client_msg_id: str) -> OutboxItem | None:
        item = self._items.get(client_msg_id)
        if item is not None and item.state is not OutboxState.FAILED:
            item.state = OutboxState.DELIVERED
        return item

    def confirm(self, client_msg_id: str) -> OutboxItem | None:
        """Settled: it is in the runner's journal."""
        item = self._items.pop(client_msg_id, None)
        if item is not None:
            self._save(urgent=False)
        return item

    def settle_answer(self, session: str, request_id: str) -> OutboxItem | None:
        for item in self._items.values():
            if item.answer is not None and item.session == session and item.answer["request_id"] == request_id:
                return self.confirm(item.client_msg_id)
        return None

    def fail(self, client_msg_id: str, error: str) -> OutboxItem | None:
        item = self._items.get(client_msg_id)
        if item is not None:
            item.state = OutboxState.FAILED
            item.error = error
            self._save(urgent=False)
        return item

    def retry(self, client_msg_id: str) -> OutboxItem | None:
        item = self._items.get(client_msg_id)
        if item is not None and item.state is OutboxState.FAILED:
            item.state = OutboxState.QUEUED
            item.error = None
            self._save(urgent=False)
        return item

    def discard(self, client_msg_id: str) -> OutboxItem | None:
        return self.confirm(client_msg_id)

    def drop_session(self, session: str) -> list[OutboxItem]:
        gone = [i for i in self._items.values() if i.session == session]
        for item in gone:
            del self._items[item.client_msg_id]
        if gone:
            self._save(urgent=False)
        return gone

    def flush(self) -> None:
        """Write any delayed change now (before a clean exit)."""
        if self._store is not None:
            try:
                self._store.flush()
            except OSError as exc:
                self._store_failed(exc)

    # ------------------------------------------------------------------ the store

    def _save(self, urgent: bool) -> None:
        if self._store is None:
            return
        try:
            self._store.save([i.to_record() for i in self._items.values()], urgent)
        except OSError as exc:
            self._store_failed(exc)
            return
        if self.store_problem is not None:
            self.store_problem = None
            log.info("unsent messages are saved to disk again")

    def _store_failed(self, exc: OSError) -> None:
        problem = f"unsent messages cannot be saved to disk ({exc}); they are kept until you quit"
        first = self.store_problem is None
        self.store_problem = problem
        log.warning("%s", problem)
        if first and self._on_store_error is not None:
            self._on_store_error(problem)
