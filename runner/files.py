"""Folder listing for a view's folder picker (`list_dir`, PROTOCOL.md): the runner's file system, not the view's.

A remote runner's folders are what a new session's `cwd` must name, so the view browses them through the runner.
Listing runs in a thread: a slow or network file system must not hold up the runner's loop.
"""

from __future__ import annotations

import asyncio
import errno
import heapq
import os
import stat
import sys
from collections.abc import Iterator
from typing import Any

from runner.vocabulary import ErrorCode, RequestError

MAX_ENTRIES = 10_000
"""Entries per reply (folders first); a bigger folder is cut there with `truncated`, so a reply stays small."""


def _is_hidden(entry: os.DirEntry[str]) -> bool:
    if entry.name.startswith("."):
        return True
    # Where the OS has a hidden flag of its own, honour it too (Finder, Explorer hide those).
    try:
        if sys.platform == "win32":
            return bool(entry.stat(follow_symlinks=False).st_file_attributes & stat.FILE_ATTRIBUTE_HIDDEN)
        if sys.platform == "darwin":
            return bool(entry.stat(follow_symlinks=False).st_flags & stat.UF_HIDDEN)
    except OSError:
        pass
    return False


def _utf8_safe(name: str) -> bool:
    """A name with bytes that are not UTF-8 arrives with surrogate escapes: it cannot go into a JSON text frame."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _resolve(path: str) -> str:
    home = os.path.expanduser("~")
    if not path:
        return home
    path = os.path.expanduser(path)
    if not os.path.isabs(path):
        path = os.path.join(home, path)  # relative to the home folder, like `cwd` in create
    return os.path.normpath(path)


def _error(exc: OSError, path: str) -> RequestError:
    shown = repr(path)
    if exc.errno == errno.ENOENT:
        return RequestError(ErrorCode.NOT_FOUND, f"no such folder: {shown}")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return RequestError(ErrorCode.PERMISSION_DENIED, f"permission denied: {shown}")
    if exc.errno == errno.ENOTDIR:
        return RequestError(ErrorCode.NOT_A_DIRECTORY, f"not a folder: {shown}")
    if exc.errno in (errno.ENAMETOOLONG, errno.ELOOP, errno.EINVAL):
        return RequestError(ErrorCode.BAD_PATH, f"cannot use the path {shown}: {exc.strerror}")
    return RequestError(ErrorCode.IO_ERROR, f"cannot list {shown}: {exc.strerror or exc}")


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows links: a link to a folder can be opened like one
    except OSError:  # a loop of links, or a link the runner may not follow: not a folder it can open
        return False


def _describe(entry: os.DirEntry[str], is_dir: bool) -> dict[str, Any]:
    try:
        is_link = entry.is_symlink()
    except OSError:
        is_link = False
    item: dict[str, Any] = {"name": entry.name, "is_dir": is_dir, "hidden": _is_hidden(entry)}
    if is_link:
        item["is_link"] = True
    if not _utf8_safe(entry.name):
        # Shown (with U+FFFD for the bad bytes) but not openable: no text path can name it.
        item["name"] = entry.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        item["undecodable"] = True
    return item


def list_dir_sync(path: str) -> dict[str, Any]:
    """The `dir` reply for `path` ("" is the home folder). Raises RequestError with a protocol error code."""
    full = _resolve(path)
    if not _utf8_safe(full):
        # Only the home folder can bring bytes that are not UTF-8 here (`path` itself is text): such a path
        # cannot go into a JSON text frame, and no view could send it back.
        raise RequestError(ErrorCode.BAD_PATH, f"the folder's path is not UTF-8 text: {full!r}")
    total = 0
    try:
        with os.scandir(full) as it:

            def keyed() -> Iterator[tuple[bool, str, str, bool, os.DirEntry[str]]]:
                # Folders first, then by name; names are unique in a folder, so the entry is never compared.
                nonlocal total
                for entry in it:
                    total += 1
                    is_dir = _is_dir(entry)
                    yield (not is_dir, entry.name.casefold(), entry.name, is_dir, entry)

            # Only the entries sent are kept (and described): a folder of millions costs time, not memory.
            kept = heapq.nsmallest(MAX_ENTRIES, keyed())
            entries = [_describe(entry, is_dir) for *_, is_dir, entry in kept]
    except OSError as exc:
        raise _error(exc, path or full) from None
    except ValueError as exc:  # an embedded NUL character
        raise RequestError(ErrorCode.BAD_PATH, f"cannot use the path {path!r}: {exc}") from None
    parent = os.path.dirname(full)
    home = os.path.expanduser("~")
    return {
        "type": "dir",
        "path": full,
        "parent": parent if parent != full else None,
        "home": home if _utf8_safe(home) else None,
        "sep": os.sep,
        "entries": entries,
        "truncated": total > len(entries),
        "total": total,
    }


async def list_dir(path: str) -> dict[str, Any]:
    return await asyncio.to_thread(list_dir_sync, path)
