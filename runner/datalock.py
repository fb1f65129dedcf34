"""One runner per data folder: two runners writing one journal would hand out the same seqs twice.

The lock is an advisory lock on DATA_DIR/runner.lock (flock on Linux and macOS, msvcrt on Windows), held for the
runner's life and released by the system when its process ends, however it ends: a crashed runner never leaves a
stale lock behind. The file holds the owner's pid, to say who holds it.
"""

from __future__ import annotations

import contextlib
import os
import sys

from runner.journal import JournalError

LOCK_FILE = "runner.lock"


class DataFolderInUse(JournalError):
    """Another runner has this data folder; the message names it."""


class DataFolderLock:
    def __init__(self, data_dir: str) -> None:
        self.path = os.path.join(data_dir, LOCK_FILE)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise DataFolderInUse at once (never wait: the other runner may run for weeks)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"another runner (pid {holder})" if holder else "another runner"
            raise DataFolderInUse(
                f"the data folder {os.path.dirname(self.path)} is in use by {who}; stop it, or give this one "
                "another folder (--data-dir)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the descriptor drops the lock


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


if sys.platform == "win32":
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
