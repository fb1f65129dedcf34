"""Work around a PySide6 reference-count bug on CPython < 3.12 (imported first by the desktop package).

PySide6 6.12.0's SignalInstance.emit() returns True without a new reference, so every emit made from
Python (ours, and qasync's for each call_soon_threadsafe) drops True's reference count by one; after a
few thousand emits the interpreter aborts with "bool_dealloc: deallocating True or False" (similar
aborts for None were seen too). From Python 3.12 on these singletons are immortal and the bug is
harmless. Here they get the same treatment: a reference count so large it cannot reach zero. They are
static objects that are never freed anyway, so nothing else changes.
"""

from __future__ import annotations

import ctypes
import sys

_BUMP = 1 << 40


def immortalize_singletons() -> bool:
    """Returns whether anything was done (CPython before 3.12 only)."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False
    for obj in (True, False, None):
        refcount = ctypes.c_ssize_t.from_address(id(obj))
        if refcount.value < _BUMP // 2:  # once per process, however often this is imported
            refcount.value += _BUMP
    return True


immortalize_singletons()
