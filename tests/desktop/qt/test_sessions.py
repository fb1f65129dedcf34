"""The sidebar's model and view without runners: groups, order, the filter, and lists merged in bulk."""

from __future__ import annotations

import random
from typing import Any

from desktop.core.view import SessionInfo
from desktop.qt.sessions import ID_ROLE, SessionListModel, SessionListView


def info(sid: str, created: float, title: str = "") -> SessionInfo:
    return SessionInfo(id=sid, title=title or sid, agent="command", status="idle", data={"created_at": created})


def layout(model: SessionListModel) -> list[tuple[str, str | None]]:
    return [(r.runner, r.info.id if r.info is not None else None) for r in model.rows]


def test_a_relisting_merges_new_sessions_into_the_newest_first_order_of_their_group_only(qapp: Any) -> None:
    model = SessionListModel()
    model.set_runners([("a", "A"), ("b", "B")])
    model.set_sessions([info("b1", 5.0)], "b")
    rng = random.Random(7)
    old = [info(f"s{i}", float(rng.randrange(100))) for i in range(40)]
    model.set_sessions(old, "a")
    signals: list[str] = []
    model.rowsInserted.connect(lambda *_: signals.append("inserted"))
    model.rowsRemoved.connect(lambda *_: signals.append("removed"))
    model.modelReset.connect(lambda: signals.append("reset"))
    # A reconnect: two gone, some new ones everywhere in the order (equal creation times too), the rest known.
    new = [info(f"n{i}", float(rng.randrange(100))) for i in range(25)]
    listed = old[2:] + new
    rng.shuffle(listed)
    model.set_sessions(listed, "a")
    group = [sid for runner, sid in layout(model) if runner == "a" and sid is not None]
    created = {s.id: s.data["created_at"] for s in listed}
    assert sorted(group) == sorted(s.id for s in listed)
    assert [created[sid] for sid in group] == sorted((created[sid] for sid in group), reverse=True)
    assert layout(model)[0] == ("a", None) and layout(model)[-2:] == [("b", None), ("b", "b1")]
    assert model.headers["a"].sessions == 63 and model.headers["b"].sessions == 1
    assert "reset" not in signals and signals.count("removed") == 2
    assert signals.count("inserted") < len(new)  # adjacent new rows go in together


def test_the_filter_hides_groups_without_a_match_and_the_header_of_a_lone_runner(qapp: Any) -> None:
    model = SessionListModel()
    view = SessionListView()
    view.setModel(model)
    model.set_runners([("a", "A")])
    model.set_sessions([info("a1", 1.0, "build docs"), info("a2", 2.0, "fix parser")], "a")

    def visible() -> list[str | None]:
        return [model.data(model.index(i), ID_ROLE) for i in range(model.rowCount()) if not view.isRowHidden(i)]

    assert visible() == ["a2", "a1"]  # one runner: no header
    model.set_runners([("a", "A"), ("b", "B")])
    model.set_sessions([info("b1", 3.0, "parser tests")], "b")
    assert visible() == [None, "a2", "a1", None, "b1"]
    view.set_filter("docs")
    assert visible() == [None, "a1"]
    model.upsert(info("b3", 0.5, "unrelated"), "b")  # no match yet: its group stays hidden
    assert visible() == [None, "a1"]
    model.upsert(info("b2", 4.0, "docs for b"), "b")  # a session arriving while filtering: its group shows
    assert visible() == [None, "a1", None, "b2"]
    view.set_filter("")
    model.remove("a1", "a")
    assert visible() == [None, "a2", None, "b2", "b1", "b3"]
    view.deleteLater()
