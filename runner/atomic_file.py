"""Files replaced whole: a reader (or the next start after a crash) sees the old content or the new, never a part."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_atomically(path: str | Path, data: bytes, *, mode: int = 0o600, sync_folder: bool = True) -> None:
    """Write `data` to a temporary file beside `path` (created with `mode`, so a secret is never readable by
    others even for a moment), fsync it, rename it over `path`, and fsync the folder so the rename survives a
    power cut too (POSIX; NTFS journals renames itself). The temporary file's name ends in `.tmp` and is gone
    whatever happens, unless the process dies between its creation and the rename."""
    path = os.fspath(path)
    tmp = f"{path}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if sync_folder and os.name == "posix":
        folder = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
