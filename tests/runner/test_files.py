"""`list_dir`: the runner's folders for a view's folder picker, over a real WebSocket to a real runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from runner import files
from tests.fakes.view_client import ViewClient


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The runner is in-process: its home folder is this one for the test."""
    home = tmp_path / "home"
    (home / "projects" / "api").mkdir(parents=True)
    (home / ".config").mkdir()
    (home / "notes.txt").write_text("x")
    (home / ".bashrc").write_text("x")
    (home / "Zoo").mkdir()
    (home / "link-to-projects").symlink_to(home / "projects")
    (home / "dangling").symlink_to(home / "nowhere")
    (home / "loop").symlink_to(home / "loop")  # following it never ends: ELOOP
    monkeypatch.setenv("HOME", str(home))
    return home


async def test_an_empty_path_lists_the_home_folder_folders_first(client: ViewClient, home: Path) -> None:
    reply = await client.request({"type": "list_dir"})
    assert reply["type"] == "dir"
    assert reply["path"] == str(home) == reply["home"]
    assert reply["parent"] == str(home.parent)
    assert reply["sep"] == os.sep
    assert reply["truncated"] is False and reply["total"] == 8
    assert [(e["name"], e["is_dir"], e["hidden"], e.get("is_link", False)) for e in reply["entries"]] == [
        (".config", True, True, False),
        ("link-to-projects", True, False, True),
        ("projects", True, False, False),
        ("Zoo", True, False, False),
        (".bashrc", False, True, False),
        ("dangling", False, False, True),
        ("loop", False, False, True),
        ("notes.txt", False, False, False),
    ]


async def test_paths_absolute_relative_and_with_a_tilde(client: ViewClient, home: Path) -> None:
    for path in (str(home / "projects"), "projects", "~/projects", str(home / "projects" / ".." / "projects")):
        reply = await client.request({"type": "list_dir", "path": path})
        assert reply["path"] == str(home / "projects"), path
        assert [e["name"] for e in reply["entries"]] == ["api"]
    root = await client.request({"type": "list_dir", "path": "/"})
    assert root["path"] == "/" and root["parent"] is None


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/no/such/folder", "not_found"),
        ("~/notes.txt", "not_a_directory"),
        ("/tmp/" + "x" * 5000, "bad_path"),
        ("/tmp/a\0b", "bad_path"),
        ("~/dangling", "not_found"),
        ("~/loop", "bad_path"),
        ("~/loop/inside", "bad_path"),
    ],
)
async def test_bad_paths_get_clear_error_codes(client: ViewClient, home: Path, path: str, code: str) -> None:
    reply = await client.request({"type": "list_dir", "path": path})
    assert reply["type"] == "error" and reply["code"] == code, reply
    assert reply["message"]
    assert (await client.request({"type": "ping"}))["type"] == "pong"


async def test_a_path_that_is_not_text_is_refused_at_the_door(client: ViewClient, home: Path) -> None:
    await client.send_raw('{"type": "list_dir", "path": "/tmp/\\udc80", "id": "s"}')
    await client.send_raw(json.dumps({"type": "list_dir", "path": 7, "id": "n"}))
    await client.wait_for(lambda: {"s", "n"} <= {m.get("re") for m in client.frames})
    replies = {m["re"]: m for m in client.frames if m.get("re") in ("s", "n")}
    assert replies["s"]["code"] == "bad_request" and "path" in replies["s"]["message"]
    assert replies["n"]["code"] == "bad_request"


@pytest.mark.skipif(sys.platform == "darwin", reason="APFS refuses file names that are not UTF-8")
async def test_a_file_name_that_is_not_utf8_is_shown_marked_and_the_connection_lives(
    client: ViewClient, home: Path
) -> None:
    os.mkdir(os.path.join(os.fsencode(home), b"caf\xe9"))
    reply = await client.request({"type": "list_dir", "path": str(home)})
    odd = [e for e in reply["entries"] if e.get("undecodable")]
    assert odd == [{"name": "caf\ufffd", "is_dir": True, "hidden": False, "undecodable": True}]
    assert (await client.request({"type": "ping"}))["type"] == "pong"


async def test_a_huge_folder_is_cut_and_says_so(
    client: ViewClient, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "MAX_ENTRIES", 3)
    reply = await client.request({"type": "list_dir", "path": str(home)})
    assert reply["truncated"] is True and reply["total"] == 8
    assert [e["name"] for e in reply["entries"]] == [".config", "link-to-projects", "projects"]


async def test_a_folder_of_many_thousand_entries_is_cut_folders_first(client: ViewClient, tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.mkdir()
    for i in range(12_000):
        (big / f"file-{i:05}").touch()
    for name in ("zz-last-folder", "AA-folder"):
        (big / name).mkdir()
    reply = await client.request({"type": "list_dir", "path": str(big)})
    assert reply["truncated"] is True and reply["total"] == 12_002
    names = [e["name"] for e in reply["entries"]]
    assert len(names) == files.MAX_ENTRIES == 10_000
    assert names[:3] == ["AA-folder", "zz-last-folder", "file-00000"] and names[-1] == "file-09997"
    assert (await client.request({"type": "ping"}))["type"] == "pong"


def test_listing_a_huge_folder_holds_only_the_entries_it_sends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory is bounded by MAX_ENTRIES, not by the folder: a data folder of millions of files must not
    swell the runner."""
    big = tmp_path / "big"
    big.mkdir()
    for i in range(20_000):
        (big / f"f{i}").touch()
    monkeypatch.setattr(files, "MAX_ENTRIES", 100)
    tracemalloc.start()
    try:
        reply = files.list_dir_sync(str(big))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reply["total"] == 20_000 and len(reply["entries"]) == 100
    assert peak < 1_000_000, f"peak {peak} bytes for 100 entries kept"


async def test_a_home_folder_that_is_not_utf8_is_a_clear_error_and_the_connection_lives(
    client: ViewClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    odd_home = os.path.join(os.fsencode(tmp_path), b"home-caf\xe9")
    os.mkdir(odd_home)
    monkeypatch.setenv("HOME", os.fsdecode(odd_home))  # a str with a surrogate escape, as Python gives it
    reply = await client.request({"type": "list_dir"})
    assert reply["type"] == "error" and reply["code"] == "bad_path", reply
    assert "not UTF-8" in reply["message"] and "home-caf\\udce9" in reply["message"]
    other = await client.request({"type": "list_dir", "path": str(tmp_path)})
    assert other["type"] == "dir" and other["home"] is None
    assert (await client.request({"type": "ping"}))["type"] == "pong"


def test_a_folder_the_runner_user_cannot_read_is_permission_denied(tmp_path: Path) -> None:
    """Run as another user when we are root (root reads everything), else as ourselves with mode 000."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o700 if os.geteuid() == 0 else 0o000)
    tmp_path.chmod(0o755)
    code = (
        "import json, os, sys\n"
        "from runner.files import list_dir_sync\n"
        "from runner.vocabulary import RequestError\n"
        "if os.geteuid() == 0: os.setgid(65534); os.setuid(65534)\n"
        "try: list_dir_sync(sys.argv[1])\n"
        "except RequestError as e: print(json.dumps([e.code, e.message]))\n"
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", code, str(locked)], capture_output=True, text=True, timeout=60,
            cwd=Path(__file__).parents[2], env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        )
    finally:
        locked.chmod(0o700)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["permission_denied", f"permission denied: {str(locked)!r}"]
