"""Messages typed by the user that the runner has not confirmed yet."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from enum import StrEnum


class OutboxState(StrEnum):
    QUEUED = "queued"  # not sent on any connection yet (offline)
    IN_FLIGHT = "in_flight"  # written to a connection, no `sent` yet
    FAILED = "failed"  # the runner refused it; kept until the user retries or discards it


@dataclass
class OutboxItem:
    client_msg_id: str
    session: str
    text: str
    state: OutboxState = OutboxState.QUEUED
    error: str | None = None
    request_id: int | None = None


class Outbox:
    """Pending sends, keyed by client_msg_id. An item leaves only when the runner confirms it (`sent`, or
    the journaled `user` event carrying its id) or the user discards it; the runner applies each id at most
    once, so resending everything unconfirmed after a reconnect is safe."""

    def __init__(self) -> None:
        self._items: dict[str, OutboxItem] = {}
        self._prefix = uuid.uuid4().hex[:12]
        self._counter = itertools.count(1)

    def add(self, session: str, text: str) -> OutboxItem:
        item = OutboxItem(f"c-{self._prefix}-{next(self._counter)}", session, text)
        self._items[item.client_msg_id] = item
        return item

    def get(self, client_msg_id: str) -> OutboxItem | None:
        return self._items.get(client_msg_id)

    def to_send(self) -> list[OutboxItem]:
        """What must go out on a fresh connection, oldest first (failed items wait for the user)."""
        return [i for i in self._items.values() if i.state is not OutboxState.FAILED]

    def confirm(self, client_msg_id: str) -> OutboxItem | None:
        return self._items.pop(client_msg_id, None)

    def fail(self, client_msg_id: str, error: str) -> OutboxItem | None:
        item = self._items.get(client_msg_id)
        if item is not None:
            item.state = OutboxState.FAILED
            item.error = error
            item.request_id = None
        return item

    def retry(self, client_msg_id: str) -> OutboxItem | None:
        item = self._items.get(client_msg_id)
        if item is not None and item.state is OutboxState.FAILED:
            item.state = OutboxState.QUEUED
            item.error = None
        return item

    def discard(self, client_msg_id: str) -> OutboxItem | None:
        return self._items.pop(client_msg_id, None)

    def by_request(self, request_id: object) -> OutboxItem | None:
        for item in self._items.values():
            if item.request_id == request_id and item.state is OutboxState.IN_FLIGHT:
                return item
        return None

    def for_session(self, session: str) -> list[OutboxItem]:
        return [i for i in self._items.values() if i.session == session]

    def drop_session(self, session: str) -> list[OutboxItem]:
        gone = self.for_session(session)
        for item in gone:
            del self._items[item.client_msg_id]
        return gone

    def __len__(self) -> int:
        return len(self._items)
