"""FolderBrowser: the picker's state, fed with `dir` replies as a runner sends them (runner/PROTOCOL.md)."""

from __future__ import annotations

from typing import Any

from desktop.core.folder_browser import FolderBrowser, FolderEntry, shown_name


def dir_reply(path: str, entries: list[dict[str, Any]], parent: str | None = "/home", sep: str = "/",
              **extra: Any) -> dict[str, Any]:
    return {"type": "dir", "path": path, "parent": parent, "home": "/home/me", "sep": sep, "truncated": False,
            "total": len(entries), "entries": entries, **extra}


ME = [
    {"name": ".cache", "is_dir": True, "hidden": True},
    {"name": "api", "is_dir": True, "hidden": False},
    {"name": "caf\ufffd", "is_dir": True, "hidden": False, "undecodable": True},
    {"name": "notes.txt", "is_dir": False, "hidden": False},
]


def test_navigation_asks_for_the_runners_paths_with_its_separator() -> None:
    b = FolderBrowser()
    first = b.go("")
    assert first.path == "" and b.pending == first
    assert b.listed(first, dir_reply("/home/me", ME))
    assert [e.name for e in b.visible()] == ["api", "caf\ufffd", "notes.txt"]  # hidden ones off by default
    b.show_hidden = True
    assert len(b.visible()) == 4 and b.visible()[0].name == ".cache"
    api = b.entries[1]
    into = b.into(api)
    assert into is not None and into.path == "/home/me/api"
    assert b.into(b.entries[2]) is None and b.into(b.entries[3]) is None  # undecodable, a file
    assert b.up() is not None and b.up().path == "/home"  # type: ignore[union-attr]
    # A Windows runner: its separator, whatever this machine's is; at a root the name joins without doubling.
    w = FolderBrowser()
    t = w.go("C:\\")
    w.listed(t, dir_reply("C:\\", [{"name": "Users", "is_dir": True, "hidden": False}], parent=None, sep="\\"))
    assert w.into(w.entries[0]).path == "C:\\Users"  # type: ignore[union-attr]
    assert w.up() is None


def test_only_the_newest_request_is_applied() -> None:
    b = FolderBrowser()
    slow = b.go("/slow/nfs")
    quick = b.go("/home/me")
    assert not b.listed(slow, dir_reply("/slow/nfs", []))
    assert b.failed(slow, "timed out") is None and b.error is None
    assert b.listed(quick, dir_reply("/home/me", ME)) and b.path == "/home/me"
    assert not b.listed(quick, dir_reply("/again", []))  # answered once


def test_an_error_keeps_the_folder_shown_and_says_why() -> None:
    b = FolderBrowser()
    b.listed(b.go(""), dir_reply("/home/me", ME))
    denied = b.go("/root")
    assert b.failed(denied, "permission denied: '/root'") is None
    assert b.path == "/home/me" and len(b.entries) == 4
    assert b.status() == "permission denied: '/root'"
    b.listed(b.go("/home/me/api"), dir_reply("/home/me/api", []))
    assert b.error is None and b.status() == ""


def test_a_first_folder_that_cannot_be_listed_falls_back_to_home_and_keeps_the_reason() -> None:
    b = FolderBrowser()
    gone = b.go("/home/me/deleted")
    home = b.failed(gone, "no such folder: '/home/me/deleted'")
    assert home is not None and home.path == ""
    assert b.listed(home, dir_reply("/home/me", ME))
    assert b.status() == "no such folder: '/home/me/deleted' (showing the home folder)"
    # Once something is shown, a failure no longer jumps anywhere.
    assert b.failed(b.go("/nope"), "no such folder") is None and b.path == "/home/me"


def test_status_says_when_a_folder_was_cut_and_what_is_hidden() -> None:
    b = FolderBrowser()
    b.listed(b.go(""), dir_reply("/big", ME, truncated=True, total=250_000))
    assert b.status() == "Showing the first 4 of 250,000 entries (folders first)"
    b.listed(b.go(""), dir_reply("/home/me", ME))
    assert b.status() == "1 hidden"
    b.listed(b.go(""), {k: v for k, v in dir_reply("/home/me", ME).items() if k != "total"})  # an older runner
    assert b.total == 4


def test_the_chosen_folder_is_the_selected_subfolder_or_the_one_shown() -> None:
    b = FolderBrowser()
    assert b.chosen(None) is None
    b.listed(b.go(""), dir_reply("/home/me", ME))
    assert b.chosen(None) == "/home/me"
    assert b.chosen(b.entries[1]) == "/home/me/api"
    assert b.chosen(b.entries[3]) == "/home/me"  # a file is not a folder to work in


def test_names_are_shown_on_one_line_and_cannot_reorder_the_text() -> None:
    assert shown_name("two\nlines\ttab") == "two\u240alines\u2409tab"
    assert shown_name("evil\u202eexe.txt") == "evil\ufffdexe.txt"
    assert shown_name("caf\u00e9 \u65e5\u672c") == "caf\u00e9 \u65e5\u672c"
    assert FolderEntry("a\rb", True, False).shown_name == "a\u240db"
