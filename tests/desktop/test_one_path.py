"""One connection path: the first connection and every reconnect run the same code, and one dispatcher
handles every message (the seed's bug was a second, partial handler for the reconnect path). Observed from
outside, through the connection's observer hook and the core's own entry point."""

from __future__ import annotations

from typing import Any

from desktop.connection import RunnerConnection
from desktop.core.status import Phase
from desktop.core.view import ViewCore, ViewListener
from tests.conftest import TOKEN
from tests.desktop.qt.helpers import ConnectionLog, until


class Recorder(ViewListener):
    def __init__(self) -> None:
        self.delivered: dict[str, list[dict[str, Any]]] = {}

    def events(self, session_id: str, events: list[dict[str, Any]]) -> None:
        self.delivered.setdefault(session_id, []).extend(events)


async def test_first_connect_and_reconnect_take_the_same_path(runner: Any, client: Any) -> None:
    created = await client.request({"type": "create", "argv": ["/bin/sh", "-c", "echo one; echo two"],
                                    "title": "t"})
    sid = created["session"]["id"]
    await client.request({"type": "attach", "session": sid})
    await client.wait_for(lambda: any(e.get("status") == "exited" for e in client.events.get(sid, [])), 30)

    recorder = Recorder()
    core = ViewCore(recorder)
    core.open_session(sid)
    log = ConnectionLog()
    conn = RunnerConnection(runner.url, TOKEN, core, observer=log)
    calls: list[str] = []
    original = core.receive

    def counting_receive(msg: dict[str, Any]) -> None:
        calls.append(str(msg.get("type")))
        original(msg)

    core.receive = counting_receive  # type: ignore[method-assign]
    conn.start()
    try:
        await until(lambda: core.status.phase is Phase.LIVE, 30, "first connection live")
        first = list(log.events)
        first_calls = list(calls)
        log.events.clear()
        calls.clear()
        conn.reconnect_now("test")
        await until(lambda: "opened" in log.events and "send:attach" in log.events
                    and core.status.phase is Phase.LIVE, 30, "reconnected and attached")
        second = list(log.events)
    finally:
        await conn.close()

    def sends(trace: list[str]) -> list[str]:
        return [t for t in trace if t.startswith("send:") or t in ("connecting", "opened")]

    # The reconnect starts where the first connection started and sends the very same requests.
    assert second[0] == "closed"
    assert sends(first) == sends(second[1:]) == ["connecting", "opened", "send:hello", "send:list",
                                                 "send:attach", "send:agents"]
    # Every frame received on either connection went through the one dispatcher into the core.
    for trace, through_core in ((first, first_calls), (second, calls)):
        received = [t.removeprefix("recv:") for t in trace if t.startswith("recv:")]
        assert received == through_core[: len(received)]
    delivered = recorder.delivered[sid]
    assert [e["seq"] for e in delivered] == list(range(1, len(delivered) + 1))
    assert log.opened == 2 and log.max_live == 1
