"""Git worktrees for sessions: each agent on a repository gets its own worktree and branch, so parallel agents never
edit the same files; the view reviews the changes and keeps (commit, merge) or discards them.

Everything goes through the system `git` (no git library of our own), run without a terminal or an editor, so a
prompt can never hang the runner. Every failure becomes a `RequestError` with a protocol error code and git's own
words.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
from dataclasses import asdict, dataclass
from typing import Any

from runner.vocabulary import RequestError

GIT_TIMEOUT = 60.0
MAX_DIFF_BYTES = 2 * 1024 * 1024
"""Diff text returned by `changes` in all; beyond it, files are listed without their diff (`truncated`)."""

_GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",  # never ask for credentials
    "GIT_EDITOR": "true",  # never open an editor (merge commit messages are given with -m anyway)
    "GIT_MERGE_AUTOEDIT": "no",
    "LC_ALL": "C",  # git's messages parsed below are the C locale's
    # A read (`git status` refreshing the index as it goes) takes no lock: one the runner runs at a turn's end
    # made the user's commit, or the agent's own git, fail on index.lock.
    "GIT_OPTIONAL_LOCKS": "0",
}
# Used only when the repository has no identity of its own configured (a fresh machine, CI).
_FALLBACK_IDENTITY = {"GIT_AUTHOR_NAME": "Nightshift", "GIT_AUTHOR_EMAIL": "nightshift@localhost",
                      "GIT_COMMITTER_NAME": "Nightshift", "GIT_COMMITTER_EMAIL": "nightshift@localhost"}


@dataclass
class Worktree:
    """A session's worktree: stored in the session's record, so the link survives runner restarts."""

    repo: str  # the main worktree of the repository
    path: str  # this session's worktree
    branch: str  # the session's branch
    base: str  # the branch it came from, and merges back into
    base_commit: str  # where the session's branch started

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Worktree | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(**{k: str(data[k]) for k in ("repo", "path", "branch", "base", "base_commit")})
        except KeyError:
            return None


async def git(cwd: str, *args: str, check: bool = True, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run git in `cwd` (with `env` added to the environment); returns (exit code, stdout, stderr). Raises
    RequestError when `check` and it fails."""
    exe = shutil.which("git")
    if exe is None:
        raise RequestError("git_unavailable", "git is not installed on the runner's machine")
    env = {**os.environ, **_GIT_ENV, **(env or {})}
    try:
        proc = await asyncio.create_subprocess_exec(
            exe, *args, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
    except (FileNotFoundError, NotADirectoryError):
        raise RequestError("worktree_missing", f"the folder {cwd} no longer exists") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), GIT_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RequestError("git_failed", f"git {args[0]} took longer than {GIT_TIMEOUT:.0f} s") from None
    except asyncio.CancelledError:  # the runner is shutting down: leave no git behind
        proc.kill()
        await proc.wait()
        raise
    code = proc.returncode or 0
    stdout, stderr = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    if check and code != 0:
        raise RequestError("git_failed", f"git {' '.join(args[:2])} failed: {stderr.strip() or stdout.strip()}")
    return code, stdout, stderr


async def _identity_env(cwd: str) -> dict[str, str]:
    code, out, _ = await git(cwd, "config", "user.email", check=False)
    return {} if code == 0 and out.strip() else _FALLBACK_IDENTITY


def branch_name(title: str, session_id: str) -> str:
    """`nightshift/<title words>-<session id>`: readable in `git branch`, unique per session."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-") or "session"
    return f"nightshift/{slug}-{session_id.removeprefix('s-')}"


async def create(root: str, session_id: str, title: str, cwd: str, base: str | None = None) -> tuple[Worktree, str]:
    """Add a worktree for a session started in `cwd` (inside a repository), on a new branch from `base` (default:
    the current branch). Returns the worktree and the folder the agent starts in (the same subfolder of it)."""
    if not os.path.isdir(cwd):
        raise RequestError("bad_request", f"not a folder: {cwd}")
    code, top, _ = await git(cwd, "rev-parse", "--show-toplevel", check=False)
    if code != 0:
        raise RequestError("not_a_repository", f"{cwd} is not inside a git repository")
    repo = top.strip()
    if base is None:
        code, head, _ = await git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        if code != 0:
            raise RequestError("detached_head", f"{repo} has a detached HEAD: pick the branch to start from")
        base = head.strip()
    code, sha, _ = await git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{base}^{{commit}}", check=False)
    if code != 0:
        raise RequestError("unknown_branch", f"no branch {base!r} in {repo}")
    branch = branch_name(title, session_id)
    path = os.path.join(root, session_id)
    os.makedirs(root, exist_ok=True)
    await git(repo, "worktree", "add", "-b", branch, path, sha.strip())
    relative = os.path.relpath(os.path.realpath(cwd), os.path.realpath(repo))
    start = path if relative == "." else os.path.join(path, relative)
    os.makedirs(start, exist_ok=True)  # an untracked subfolder of the main worktree does not exist in a new one
    return Worktree(repo, path, branch, base, sha.strip()), start


def _check_present(wt: Worktree) -> None:
    if not os.path.isdir(wt.path):
        raise RequestError("worktree_missing", f"the worktree {wt.path} was removed outside Nightshift")


async def changes(wt: Worktree) -> dict[str, Any]:
    """The worktree against its base commit, committed and uncommitted, new files included, file by file."""
    _check_present(wt)
    # Untracked files show up as added through intent-to-add entries in a throwaway copy of the index: the
    # session's own index is never touched.
    index = await _temporary_index(wt)
    try:
        _, names, _ = await git(wt.path, "diff", "--name-status", "-z", "--find-renames", wt.base_commit, env=index)
        _, numstat, _ = await git(wt.path, "diff", "--numstat", "-z", "--find-renames", wt.base_commit, env=index)
        _, patch, _ = await git(wt.path, "diff", "--find-renames", "--no-color", wt.base_commit, env=index)
    finally:
        _remove_quietly(index["GIT_INDEX_FILE"])
    files = _parse_name_status(names)
    counts = _parse_numstat(numstat)
    diffs = _split_patch(patch)
    total, truncated = 0, False
    for f in files:
        f["added"], f["removed"] = counts.get(f["path"], (0, 0))
        diff = diffs.get(f["path"], "")
        if total + len(diff) > MAX_DIFF_BYTES:
            diff, truncated = "", True
        total += len(diff)
        f["diff"] = diff
    _, status, _ = await git(wt.path, "status", "--porcelain")
    _, ahead, _ = await git(wt.path, "rev-list", "--count", f"{wt.base_commit}..HEAD")
    return {
        "branch": wt.branch,
        "base": wt.base,
        "files": files,
        "uncommitted": len([line for line in status.splitlines() if line.strip()]),
        "commits": int(ahead.strip() or 0),
        "truncated": truncated,
    }


async def _temporary_index(wt: Worktree) -> dict[str, str]:
    """A copy of the worktree's index with every untracked file added as intent-to-add, as GIT_INDEX_FILE."""
    _, gitdir, _ = await git(wt.path, "rev-parse", "--absolute-git-dir")
    real = os.path.join(gitdir.strip(), "index")
    # One file per call: a refresh at a turn's end and a view's request may run at the same time.
    env = {"GIT_INDEX_FILE": os.path.join(gitdir.strip(), f"nightshift-index-{secrets.token_hex(4)}")}
    if os.path.exists(real):
        # copy2 keeps the index's modification time: git rereads the files changed no later than that time
        # ("racily clean"); a copy dated now would make it trust a same-size edit made in the index's second.
        shutil.copy2(real, env["GIT_INDEX_FILE"])
    await git(wt.path, "add", "--intent-to-add", "--all", ".", env=env)
    return env


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


_STATUS = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "C": "copied", "T": "modified"}


def _parse_name_status(text: str) -> list[dict[str, Any]]:
    parts = text.split("\0")
    files, i = [], 0
    while i < len(parts) and parts[i]:
        code = parts[i]
        if code[0] in "RC":
            files.append({"path": parts[i + 2], "old_path": parts[i + 1], "status": _STATUS[code[0]]})
            i += 3
        else:
            files.append({"path": parts[i + 1], "status": _STATUS.get(code[0], "modified")})
            i += 2
    return files


def _parse_numstat(text: str) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    parts = text.split("\0")
    i = 0
    while i < len(parts) and parts[i]:
        added, removed, path = parts[i].split("\t", 2)
        if path == "":  # a rename: the next two fields are the old and new paths
            path = parts[i + 2]
            i += 3
        else:
            i += 1
        out[path] = (int(added) if added.isdigit() else 0, int(removed) if removed.isdigit() else 0)
    return out


def _split_patch(patch: str) -> dict[str, str]:
    """One unified diff per file, keyed by the new path (`+++ b/...`, or the old one for a deletion)."""
    out: dict[str, str] = {}
    for chunk in re.split(r"(?m)^(?=diff --git )", patch):
        if not chunk.startswith("diff --git "):
            continue
        new = re.search(r"(?m)^\+\+\+ b/(.*)$", chunk)
        old = re.search(r"(?m)^--- a/(.*)$", chunk)
        header = re.match(r"diff --git a/(.*) b/(.*)$", chunk.splitlines()[0])
        path = new.group(1) if new else old.group(1) if old else header.group(2) if header else ""
        out[path] = chunk
    return out


async def commit(wt: Worktree, message: str) -> str:
    """Commit everything uncommitted in the worktree (new files included); returns the new commit's id."""
    _check_present(wt)
    if not message.strip():
        raise RequestError("bad_request", "the commit message is empty")
    await git(wt.path, "add", "--all")
    code, _, _ = await git(wt.path, "diff", "--cached", "--quiet", check=False)
    if code == 0:
        raise RequestError("nothing_to_commit", "there is nothing uncommitted in the worktree")
    await git(wt.path, "commit", "--quiet", "--no-verify", "-m", message, env=await _identity_env(wt.path))
    _, sha, _ = await git(wt.path, "rev-parse", "HEAD")
    return sha.strip()


async def merge(wt: Worktree, fast_forward_only: bool) -> dict[str, Any]:
    """Merge the session's branch into its base in the repository's main worktree: fast-forward, or a merge commit.
    Conflicts are reported and undone; nothing is forced, both branches stay as they were."""
    _check_present(wt)
    _, status, _ = await git(wt.path, "status", "--porcelain")
    if status.strip():
        raise RequestError("uncommitted_changes", "the worktree has uncommitted changes: commit or discard first")
    code, head, _ = await git(wt.repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if code != 0:
        raise RequestError("detached_head", f"{wt.repo} has a detached HEAD; check out {wt.base} there to merge")
    if head.strip() != wt.base:
        raise RequestError("base_not_checked_out",
                            f"{wt.repo} has {head.strip()} checked out; check out {wt.base} there to merge into it")
    _, dirty, _ = await git(wt.repo, "status", "--porcelain", "--untracked-files=no")
    if dirty.strip():
        raise RequestError("dirty_base", f"{wt.repo} has uncommitted changes on {wt.base}; commit or stash them first")
    code, _, _ = await git(wt.repo, "merge-base", "--is-ancestor", wt.branch, wt.base, check=False)
    if code == 0:
        raise RequestError("nothing_to_merge", f"{wt.base} already has every commit of {wt.branch}")
    if fast_forward_only:
        code, out, err = await git(wt.repo, "merge", "--ff-only", wt.branch, check=False)
        if code != 0:
            raise RequestError("not_fast_forward", f"{wt.base} has moved on since the session started: "
                                "merge with a merge commit instead")
        fast = True
    else:
        code, out, err = await git(wt.repo, "merge", "--no-ff", "--no-edit", "-m",
                                   f"Merge {wt.branch} (Nightshift session)", wt.branch,
                                   check=False, env=await _identity_env(wt.repo))
        if code != 0:
            _, conflicted, _ = await git(wt.repo, "diff", "--name-only", "--diff-filter=U", check=False)
            await git(wt.repo, "merge", "--abort", check=False)
            files = conflicted.split()
            if files:
                raise RequestError("merge_conflict", "merging would conflict in: " + ", ".join(files))
            raise RequestError("git_failed", f"git merge failed: {err.strip() or out.strip()}")
        fast = False
    _, sha, _ = await git(wt.repo, "rev-parse", "HEAD")
    return {"commit": sha.strip(), "fast_forward": fast}


async def unsaved_work(wt: Worktree) -> dict[str, int]:
    """What discarding would lose: uncommitted files, and commits its base does not have."""
    if not os.path.isdir(wt.path):
        uncommitted = 0
    else:
        _, status, _ = await git(wt.path, "status", "--porcelain")
        uncommitted = len([line for line in status.splitlines() if line.strip()])
    code, count, _ = await git(wt.repo, "rev-list", "--count", f"{wt.base}..{wt.branch}", check=False)
    return {"uncommitted": uncommitted, "unmerged_commits": int(count.strip()) if code == 0 and count.strip() else 0}


async def discard(wt: Worktree, force: bool) -> None:
    """Remove the worktree and delete its branch. Without `force`, refuses when that would lose work."""
    if not force:
        lose = await unsaved_work(wt)
        if lose["uncommitted"] or lose["unmerged_commits"]:
            raise RequestError(
                "would_lose_work",
                f"discarding loses {lose['uncommitted']} uncommitted file(s) and {lose['unmerged_commits']} "
                f"commit(s) not merged into {wt.base}; confirm to discard anyway",
            )
    if os.path.isdir(wt.path):
        await git(wt.repo, "worktree", "remove", "--force", wt.path)
    await git(wt.repo, "worktree", "prune", check=False)
    code, _, _ = await git(wt.repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{wt.branch}", check=False)
    if code == 0:
        await git(wt.repo, "branch", "-D", wt.branch)


async def prune(repos: set[str]) -> None:
    """`git worktree prune` in every repository sessions use (run when the runner starts)."""
    for repo in repos:
        if os.path.isdir(repo):
            try:
                await git(repo, "worktree", "prune", check=False)
            except RequestError:
                return  # no git on this machine: nothing to prune
