"""How the runner hands memory back to the system (glibc on Linux; elsewhere these do nothing).

An agent can print megabyte lines (a minified bundle, a base64 image). glibc raises its threshold for serving an
allocation from mmap() each time such a block is freed, after which big strings come from the heaps instead, and a
few live objects between them keep those heaps from shrinking: after such a session is deleted the runner held 10
to 70 MB more than before, varying from run to run. A fixed threshold keeps every block over it in its own mapping,
returned when freed; malloc_trim() returns what the heaps have free after a delete.
"""

from __future__ import annotations

import ctypes
import sys

MMAP_THRESHOLD = 256 * 1024
"""Bytes from which an allocation gets its own mapping (glibc's default starts at 128 KiB and grows to 32 MiB)."""
_M_MMAP_THRESHOLD = -3  # mallopt() parameter, from glibc's malloc.h


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim, libc.mallopt  # noqa: B018  (musl has neither)
    except (OSError, AttributeError):
        return None
    return libc


_libc = _glibc()


def keep_big_allocations_apart() -> None:
    """Serve allocations of MMAP_THRESHOLD bytes or more from their own mappings (once per process)."""
    if _libc is not None:
        _libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def return_freed_memory() -> None:
    """Hand the free pages of every heap back to the system (a few ms: after a delete, not per event)."""
    if _libc is not None:
        _libc.malloc_trim(0)
