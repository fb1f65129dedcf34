"""The folders new sessions were started in, per runner, most recent first: offered by the new-session dialog.

Kept in `recent_folders.json` next to the settings (`{"runners": {runner key: [folder, ...]}}`), replaced
atomically on each change. The folders are the runner's paths (a remote runner's, not this machine's), so they
are never checked here. An unreadable file is set aside (`.bad`) and the store starts empty: a convenience
lost, nothing else.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from runner.atomic_file import write_atomically

log = logging.getLogger(__name__)

RECENT_FILE = "recent_folders.json"
LIMIT = 10


class RecentFolders:
    def __init__(self, path: Path, limit: int = LIMIT) -> None:
        self.path = path
        self.limit = limit
        self._folders: dict[str, list[str]] = {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            for runner, folders in data["runners"].items():
                kept = [f for f in folders if isinstance(f, str) and f]
                if kept:
                    self._folders[str(runner)] = list(dict.fromkeys(kept))[:limit]
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("cannot read %s (%s): set aside, starting with no recent folders", path, exc)
            self._folders.clear()
            try:
                os.replace(path, path.with_suffix(".bad"))
            except OSError:
                pass

    def folders(self, runner: str) -> list[str]:
        return list(self._folders.get(runner, []))

    def add(self, runner: str, folder: str) -> None:
        """`folder` becomes the runner's most recent one (moved up if it was there); the oldest beyond the limit
        are dropped. Saved at once: a crash right after creating a session keeps it."""
        if not folder:
            return
        kept = [f for f in self._folders.get(runner, []) if f != folder]
        self._folders[runner] = [folder, *kept][: self.limit]
        self._save()

    def _save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, json.dumps({"runners": self._folders}, indent=1).encode())
        except OSError as exc:
            # The session exists either way; only the suggestion next time is missing.
            log.warning("cannot save the recent folders to %s: %s", self.path, exc)
