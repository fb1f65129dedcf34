"""A git worktree per session, against real repositories in temporary folders (system git) and a real runner."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from runner import worktrees
from runner.runner import Runner
from tests.conftest import TOKEN
from tests.fakes.git_repo import git, make_repo
from tests.fakes.view_client import ViewClient

if shutil.which("git") is None:  # pragma: no cover - the set-up installs git; CI must not skip
    pytest.fail("git is not installed (scripts/setup.sh test installs it)", pytrace=False)

PY = sys.executable


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"shared.txt": "one\ntwo\nthree\n", "src/app.py": "print('hi')\n"})


def writer(path: str, text: str) -> list[str]:
    """A command agent that writes `text` to `path` (relative to its folder) and exits."""
    return [PY, "-c", f"open({path!r}, 'w').write({text!r})"]


async def run_session(view: ViewClient, **create: object) -> dict:
    reply = await view.request({"type": "create", "worktree": True, **create})
    assert reply["type"] == "created", reply
    sid = reply["session"]["id"]
    await view.request({"type": "attach", "session": sid})
    await view.wait_status(sid, "exited")
    return reply["session"]


async def test_two_sessions_edit_one_file_apart_keep_one_discard_the_other(client: ViewClient, repo: Path) -> None:
    a = await run_session(client, argv=writer("shared.txt", "one\nTWO from a\nthree\n"), cwd=str(repo), title="A")
    b = await run_session(client, argv=writer("shared.txt", "one\nTWO from b\nthree\n"), cwd=str(repo), title="B")
    wa, wb = a["worktree"], b["worktree"]
    assert wa["path"] != wb["path"] and wa["branch"] != wb["branch"] and wa["base"] == "main"
    assert a["cwd"] == wa["path"]
    assert Path(wa["path"], "shared.txt").read_text() == "one\nTWO from a\nthree\n"
    assert Path(wb["path"], "shared.txt").read_text() == "one\nTWO from b\nthree\n"
    assert (repo / "shared.txt").read_text() == "one\ntwo\nthree\n"  # the main worktree saw neither

    changes = await client.request({"type": "changes", "session": a["id"]})
    assert changes["type"] == "changes" and changes["uncommitted"] == 1 and changes["commits"] == 0
    (f,) = changes["files"]
    assert f["path"] == "shared.txt" and f["status"] == "modified" and (f["added"], f["removed"]) == (1, 1)
    assert "-two\n+TWO from a\n" in f["diff"]

    committed = await client.request({"type": "commit", "session": a["id"], "message": "A's change"})
    assert committed["type"] == "committed" and len(committed["commit"]) == 40
    merged = await client.request({"type": "merge", "session": a["id"], "fast_forward_only": True})
    assert merged["type"] == "merged" and merged["fast_forward"] is True
    assert (repo / "shared.txt").read_text() == "one\nTWO from a\nthree\n"
    assert git(repo, "log", "-1", "--format=%s") == "A's change"

    refused = await client.request({"type": "discard", "session": b["id"]})
    assert refused["code"] == "would_lose_work" and "1 uncommitted" in refused["message"]
    assert Path(wb["path"]).is_dir()
    assert (await client.request({"type": "discard", "session": b["id"], "force": True}))["type"] == "ok"
    assert not Path(wb["path"]).exists()
    assert wb["branch"] not in git(repo, "branch", "--list")
    listed = {s["id"]: s for s in (await client.request({"type": "list"}))["sessions"]}
    assert "worktree" not in listed[b["id"]]


async def test_a_merge_conflict_is_reported_and_leaves_both_branches_intact(client: ViewClient, repo: Path) -> None:
    a = await run_session(client, argv=writer("shared.txt", "one\nA\nthree\n"), cwd=str(repo), title="a")
    b = await run_session(client, argv=writer("shared.txt", "one\nB\nthree\n"), cwd=str(repo), title="b")
    for s in (a, b):
        assert (await client.request({"type": "commit", "session": s["id"], "message": s["title"]}))["type"] \
            == "committed"
    assert (await client.request({"type": "merge", "session": a["id"]}))["type"] == "merged"
    main_before = git(repo, "rev-parse", "main")
    b_before = git(repo, "rev-parse", b["worktree"]["branch"])
    ff = await client.request({"type": "merge", "session": b["id"], "fast_forward_only": True})
    assert ff["code"] == "not_fast_forward"
    conflict = await client.request({"type": "merge", "session": b["id"]})
    assert conflict["type"] == "error" and conflict["code"] == "merge_conflict" and "shared.txt" in conflict["message"]
    assert git(repo, "rev-parse", "main") == main_before
    assert git(repo, "rev-parse", b["worktree"]["branch"]) == b_before
    assert git(repo, "status", "--porcelain") == ""  # the failed merge was undone
    assert (repo / "shared.txt").read_text() == "one\nA\nthree\n"


async def test_changes_include_new_files_and_commits_without_touching_the_index(client: ViewClient,
                                                                               repo: Path) -> None:
    code = ("import os\nopen('new.txt','w').write('fresh\\n')\nos.remove('src/app.py')\n")
    s = await run_session(client, argv=[PY, "-c", code], cwd=str(repo), title="files")
    changes = await client.request({"type": "changes", "session": s["id"]})
    by_path = {f["path"]: f for f in changes["files"]}
    assert by_path["new.txt"]["status"] == "added" and "+fresh" in by_path["new.txt"]["diff"]
    assert by_path["src/app.py"]["status"] == "deleted"
    assert git(s["worktree"]["path"], "status", "--porcelain").splitlines() == [" D src/app.py", "?? new.txt"]
    assert (await client.request({"type": "commit", "session": s["id"], "message": "files"}))["type"] == "committed"
    again = await client.request({"type": "changes", "session": s["id"]})
    assert again["commits"] == 1 and again["uncommitted"] == 0 and {f["path"] for f in again["files"]} == set(by_path)
    listed = {x["id"]: x for x in (await client.request({"type": "list"}))["sessions"]}
    assert listed[s["id"]]["worktree"]["changed_files"] == 2


async def test_a_subfolder_of_the_repository_starts_the_agent_in_the_same_subfolder(client: ViewClient,
                                                                                   repo: Path) -> None:
    s = await run_session(client, argv=writer("here.txt", "x"), cwd=str(repo / "src"), title="sub")
    assert s["cwd"] == os.path.join(s["worktree"]["path"], "src")
    assert Path(s["worktree"]["path"], "src", "here.txt").exists()


async def test_git_failures_are_clear_errors(client: ViewClient, repo: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    r = await client.request({"type": "create", "worktree": True, "argv": ["true"], "cwd": str(plain)})
    assert r["code"] == "not_a_repository"
    git(repo, "checkout", "-q", "--detach")
    r = await client.request({"type": "create", "worktree": True, "argv": ["true"], "cwd": str(repo)})
    assert r["code"] == "detached_head"
    r = await client.request({"type": "create", "worktree": True, "argv": ["true"], "cwd": str(repo), "base": "nope"})
    assert r["code"] == "unknown_branch"
    s = await run_session(client, argv=writer("shared.txt", "changed\n"), cwd=str(repo), base="main", title="x")
    assert (await client.request({"type": "commit", "session": s["id"], "message": "x"}))["type"] == "committed"
    r = await client.request({"type": "merge", "session": s["id"]})
    assert r["code"] == "detached_head"
    git(repo, "checkout", "-q", "main")
    (repo / "shared.txt").write_text("dirty\n")
    r = await client.request({"type": "merge", "session": s["id"]})
    assert r["code"] == "dirty_base"
    r = await client.request({"type": "commit", "session": s["id"], "message": "again"})
    assert r["code"] == "nothing_to_commit"
    plain_session = (await client.request({"type": "create", "argv": ["true"]}))["session"]["id"]
    assert (await client.request({"type": "changes", "session": plain_session}))["code"] == "no_worktree"


async def test_restart_keeps_the_link_and_a_worktree_removed_by_hand_is_reported(data_dir: str, repo: Path) -> None:
    runner = await Runner.start(data_dir, TOKEN)
    view = await ViewClient.open(runner.url, TOKEN)
    kept = await run_session(view, argv=writer("shared.txt", "kept\n"), cwd=str(repo), title="kept")
    gone = await run_session(view, argv=writer("shared.txt", "gone\n"), cwd=str(repo), title="gone")
    await view.close()
    await runner.shutdown()
    shutil.rmtree(gone["worktree"]["path"])  # by hand, outside the app

    runner = await Runner.start(data_dir, TOKEN)
    view = await ViewClient.open(runner.url, TOKEN)
    try:
        listed = {s["id"]: s for s in (await view.request({"type": "list"}))["sessions"]}
        assert listed[kept["id"]]["worktree"]["branch"] == kept["worktree"]["branch"]
        assert (await view.request({"type": "changes", "session": kept["id"]}))["files"][0]["path"] == "shared.txt"
        missing = await view.request({"type": "changes", "session": gone["id"]})
        assert missing["code"] == "worktree_missing"
        await view.request({"type": "attach", "session": gone["id"]})
        await view.wait_for(lambda: any(e.get("code") == "worktree_missing" for e in view.events.get(gone["id"], [])))
        # `git worktree prune` ran at start-up: git no longer lists the removed one.
        assert gone["worktree"]["path"] not in git(repo, "worktree", "list")
        # Deleting keeps a worktree unless the view confirmed discarding it.
        assert (await view.request({"type": "delete", "session": kept["id"]}))["type"] == "ok"
        assert Path(kept["worktree"]["path"]).is_dir()
        other = await run_session(view, argv=writer("x.txt", "x"), cwd=str(repo), title="other")
        assert (await view.request({"type": "delete", "session": other["id"], "discard_worktree": True}))["type"] \
            == "ok"
        assert not Path(other["worktree"]["path"]).exists()
        assert other["worktree"]["branch"] not in git(repo, "branch", "--list")
    finally:
        await view.close()
        await runner.shutdown()


async def test_reading_the_changes_never_makes_a_commit_fail(repo: Path, tmp_path: Path) -> None:
    """The runner reads a worktree's changes by itself when a turn ends (`git status` among them), maybe just as
    the user commits: the read must not hold the index lock the commit needs (git's optional locks are off)."""
    wt, _ = await worktrees.create(str(tmp_path / "worktrees"), "s1", "race", str(repo))
    for n in range(200):  # a worktree git status takes a moment to refresh the index of
        (Path(wt.path) / f"f{n}.txt").write_text("0\n")
    await worktrees.commit(wt, "files")
    done = False

    async def read_changes() -> None:
        while not done:
            await worktrees.changes(wt)

    readers = [asyncio.create_task(read_changes()) for _ in range(2)]
    try:
        for i in range(1, 31):
            for n in range(0, 200, 10):
                # Replaced, not rewritten in place: git maps the files it diffs, and one cut short under it
                # kills it (SIGBUS), which is not what this test is about.
                (tmp_path / "new.tmp").write_text(f"{i}\n")
                os.replace(tmp_path / "new.tmp", Path(wt.path) / f"f{n}.txt")
            await worktrees.commit(wt, f"change {i}")
    finally:
        done = True
        await asyncio.gather(*readers)


async def test_a_file_rewritten_to_the_same_size_in_the_second_the_worktree_was_made_is_a_change(
        repo: Path, tmp_path: Path) -> None:
    """git trusts a file's size and times in its index, and rereads only "racily clean" files: changed no later
    than the index file itself. Copying the index to read the changes must keep that time, or an edit of the
    same size made in the same second as the worktree is missed once the clock has moved to the next second."""
    for attempt in range(10):
        start = int(time.time())
        wt, _ = await worktrees.create(str(tmp_path / f"worktrees{attempt}"), f"s{attempt}", "race", str(repo))
        (Path(wt.path) / "shared.txt").write_text("one\nTWO\nthree\n")  # same size as "one\ntwo\nthree\n"
        if int(time.time()) == start:
            break
    else:  # pragma: no cover - ten tries each straddling a second boundary
        pytest.fail("could not make and edit a worktree within one second")
    await asyncio.sleep(start + 1.05 - time.time())  # the next second: the index copy is newer than the edit
    summary = await worktrees.changes(wt)
    assert [f["path"] for f in summary["files"]] == ["shared.txt"], summary
    assert "-two\n+TWO\n" in summary["files"][0]["diff"]
    assert summary["uncommitted"] == 1
