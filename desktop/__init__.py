"""Nightshift desktop app: a PySide6 view of a runner (embedded or remote).

desktop/core holds the logic without Qt (cursors, outbox, backoff, status, transcript rows);
desktop/connection.py is the one asyncio connection path; desktop/qt holds the thin widgets; desktop/app.py
wires it all together.
"""

from runner import __version__

__all__ = ["__version__"]
