"""No exception dies silently: every one nobody handled is logged, with its traceback, on one logger.

- asyncio: a task whose exception was never retrieved, a failing callback (the loop's exception handler);
- Qt: an exception raised in a slot or a virtual method (PySide hands it to sys.excepthook);
- threads: an exception that ends a thread (threading.excepthook).

The tests fail on any record of this logger (tests/desktop/conftest.py).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from types import TracebackType
from typing import Any

log = logging.getLogger("desktop.unhandled")


def log_loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    details = [f"{key}: {value!r}" for key, value in context.items() if key not in ("message", "exception")]
    message = str(context.get("message") or "unhandled exception in the event loop")
    info = (type(exc), exc, exc.__traceback__) if isinstance(exc, BaseException) else None
    log.error("%s%s", message, "".join(f"\n  {d}" for d in details), exc_info=info)


def install_loop_handler(loop: asyncio.AbstractEventLoop) -> None:
    loop.set_exception_handler(log_loop_exception)


def log_uncaught(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    log.error("uncaught exception (in a Qt slot or callback)", exc_info=(exc_type, exc, tb))


def log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    log.error("uncaught exception in thread %s", name,
              exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback))


def install_process_hooks() -> None:
    """For the app's process (not for tests, whose framework has hooks of its own)."""
    sys.excepthook = log_uncaught
    threading.excepthook = log_thread_exception
