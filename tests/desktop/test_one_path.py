"""One connection path: the first connection and every reconnect run the same code, and one dispatcher
handles every message (the seed's bug was a second, partial handler for the reconnect path)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from desktop.connection import RunnerConnection
from desktop.core.status import Phase
from desktop.core.view import ViewCore, ViewListener
from tests.conftest import TOKEN
from tests.desktop.qt.helpers import until

DESKTOP = Path(__file__).resolve().parents[2] / "desktop"


def _functions_containing(predicate: Any) -> list[str]:
    """Qualified names (file:Class.method) of every function whose own body has a node matching predicate."""
    found: list[str] = []
    for path in sorted(DESKTOP.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))

        def visit(node: ast.AST, scope: list[str], rel: str = str(path.relative_to(DESKTOP))) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    visit(child, [*scope, child.name])
                else:
                    if predicate(child):
                        found.append(f"{rel}:{'.'.join(scope)}")
                    visit(child, scope)

        visit(tree, [])
    return found


def _is_call_to(attr: str) -> Any:
    def match(node: ast.AST) -> bool:
        if not isinstance(node, ast.Call):
            return False
        func = node.func
        return (isinstance(func, ast.Attribute) and func.attr == attr) or (
            isinstance(func, ast.Name) and func.id == attr)
    return match


def test_the_desktop_has_one_socket_reader_one_dispatcher_and_one_connect() -> None:
    readers = _functions_containing(lambda n: isinstance(n, ast.AsyncFor) or _is_call_to("recv")(n))
    assert readers == ["connection.py:RunnerConnection._connect_once"]
    opens = _functions_containing(_is_call_to("connect"))
    opens = [o for o in opens if "lifecycle/" not in o]  # Qt signal .connect() calls are not sockets
    ws_connects = [o for o in opens if o.startswith("connection.py:")]
    assert ws_connects == ["connection.py:RunnerConnection._connect_once"]
    assert _functions_containing(_is_call_to("_dispatch")) == ["connection.py:RunnerConnection._connect_once"]
    receivers = [f for f in _functions_containing(_is_call_to("receive")) if not f.startswith("core/")]
    assert receivers == ["connection.py:RunnerConnection._dispatch"]


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
    conn = RunnerConnection(runner.url, TOKEN, core)
    conn.trace = []
    calls: list[str] = []
    original = core.receive

    def counting_receive(msg: dict[str, Any]) -> None:
        calls.append(str(msg.get("type")))
        original(msg)

    core.receive = counting_receive  # type: ignore[method-assign]
    conn.start()
    try:
        await until(lambda: core.status.phase is Phase.LIVE, 30, "first connection live")
        first = list(conn.trace)
        first_calls = list(calls)
        conn.trace.clear()
        calls.clear()
        conn.reconnect_now("test")
        await until(lambda: "opened" in conn.trace and "send:attach" in conn.trace
                    and core.status.phase is Phase.LIVE, 30, "reconnected and attached")
        second = list(conn.trace)
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
    assert conn.connections_made == 2 and conn.max_live_sockets == 1
