"""Settings without Qt: the list of remote runners and what the window remembers across restarts (a JSON file),
and the runners' tokens (the OS keyring).

Tokens never go to the JSON file. Where no keyring backend works, a token is kept in memory for this run
only and the UI says so (`TokenStore.persistent` is False and `TokenStore.problem` explains why).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

from runner.atomic_file import write_atomically

log = logging.getLogger(__name__)

KEYRING_SERVICE = "nightshift"
AGENT_DEFAULT_KEYS = ("model", "permission_mode", "approval")
EMBEDDED = "embedded"
THEMES = ("system", "light", "dark")
"""The theme choices: follow the system's light or dark, or always one of them."""


@dataclass
class RemoteRunner:
    name: str
    url: str


def default_config_dir() -> Path:
    return Path(platformdirs.user_config_dir("nightshift", appauthor=False))


class SettingsStore:
    """Non-secret settings in `settings.json` in the config folder."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_config_dir() / "settings.json"
        self.runners: list[RemoteRunner] = []
        self.last_runner: str = EMBEDDED
        """The current runner when the app quit (EMBEDDED or a saved runner's URL): current again on the next start."""
        self.agent_defaults: dict[str, dict[str, str]] = {}
        """Per agent type, the options last used to create a session (model, permission_mode, ...)."""
        self.last_sessions: dict[str, str] = {}
        """Per runner key, the session selected last: selected again on the next start when it still exists."""
        self.window_geometry: str = ""
        """The main window's size, position and state (Qt's saveGeometry, base64), "" for the default."""
        self.theme: str = "system"
        """One of THEMES."""
        self.load()

    def load(self) -> None:
        """Whatever of the file makes sense: a missing or corrupt file, or a field of the wrong type, leaves the
        default for what it cannot give."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("cannot read %s: %s", self.path, exc)
            return
        runners = data.get("runners") if isinstance(data, dict) else None
        self.runners = [RemoteRunner(str(r.get("name") or r.get("url")), str(r["url"]))
                        for r in (runners if isinstance(runners, list) else [])
                        if isinstance(r, dict) and isinstance(r.get("url"), str)]
        last = data.get("last_runner") if isinstance(data, dict) else None
        self.last_runner = last if isinstance(last, str) else EMBEDDED
        defaults = data.get("agent_defaults") if isinstance(data, dict) else None
        self.agent_defaults = {
            str(agent): {str(k): v for k, v in options.items() if isinstance(v, str)}
            for agent, options in (defaults or {}).items() if isinstance(options, dict)
        } if isinstance(defaults, dict) else {}
        sessions = data.get("last_sessions") if isinstance(data, dict) else None
        self.last_sessions = {k: v for k, v in sessions.items() if isinstance(k, str) and isinstance(v, str)
                              } if isinstance(sessions, dict) else {}
        geometry = data.get("window_geometry") if isinstance(data, dict) else None
        self.window_geometry = geometry if isinstance(geometry, str) else ""
        chosen = data.get("theme") if isinstance(data, dict) else None
        self.theme = chosen if chosen in THEMES else "system"

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"runners": [asdict(r) for r in self.runners], "last_runner": self.last_runner,
                   "agent_defaults": self.agent_defaults, "last_sessions": self.last_sessions,
                   "window_geometry": self.window_geometry, "theme": self.theme}
        write_atomically(self.path, json.dumps(payload, indent=2).encode())

    def remember_agent_defaults(self, create: dict[str, object]) -> None:
        """Remember the options of a `create` request as that agent's defaults for the next new session."""
        agent = create.get("agent")
        if not isinstance(agent, str) or agent == "command":
            return
        self.agent_defaults[agent] = {k: str(create[k]) for k in AGENT_DEFAULT_KEYS if create.get(k)}

    def find(self, url: str) -> RemoteRunner | None:
        return next((r for r in self.runners if r.url == url), None)

    def upsert(self, runner: RemoteRunner, old_url: str | None = None) -> None:
        key = old_url or runner.url
        if self.last_runner == key:
            self.last_runner = runner.url
        if key in self.last_sessions and key != runner.url:
            self.last_sessions[runner.url] = self.last_sessions.pop(key)
        for i, existing in enumerate(self.runners):
            if existing.url == key:
                self.runners[i] = runner
                return
        self.runners.append(runner)

    def remove(self, url: str) -> None:
        self.runners = [r for r in self.runners if r.url != url]
        self.last_sessions.pop(url, None)
        if self.last_runner == url:
            self.last_runner = EMBEDDED


class TokenStore:
    """Runner tokens in the OS keyring (service "nightshift", username = runner URL), or for this run only."""

    def __init__(self) -> None:
        self._memory: dict[str, str] = {}
        self._problem: str | None = None
        # The keyring (and its backend's discovery, about 0.2 s) is loaded on first use, not at start-up: the
        # embedded runner needs no token from it.
        self._probed = False

    @property
    def problem(self) -> str | None:
        """Why tokens cannot be kept in the keyring, or None when they can."""
        if not self._probed:
            self._probed = True
            try:
                import keyring
                from keyring.backends import fail

                backend = keyring.get_keyring()
                if isinstance(backend, fail.Keyring) or type(backend).__module__.endswith("null"):
                    self._problem = "no usable keyring backend was found"
            except Exception as exc:  # keyring raises many kinds of errors when it cannot load a backend
                self._problem = f"the keyring cannot be used: {exc}"
        return self._problem

    @property
    def persistent(self) -> bool:
        return self.problem is None

    def get(self, url: str) -> str | None:
        if url in self._memory:
            return self._memory[url]
        if self.problem is not None:
            return None
        try:
            import keyring

            return keyring.get_password(KEYRING_SERVICE, url)
        except Exception as exc:
            self._fail(exc)
            return None

    def set(self, url: str, token: str) -> bool:
        """Store a token; False when it is kept for this run only."""
        if self.problem is None:
            try:
                import keyring

                keyring.set_password(KEYRING_SERVICE, url, token)
                self._memory.pop(url, None)
                return True
            except Exception as exc:
                self._fail(exc)
        self._memory[url] = token
        return False

    def delete(self, url: str) -> None:
        self._memory.pop(url, None)
        if self.problem is not None:
            return
        try:
            import keyring
            from keyring.errors import PasswordDeleteError

            try:
                keyring.delete_password(KEYRING_SERVICE, url)
            except PasswordDeleteError:
                pass
        except Exception as exc:
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        log.warning("keyring failed, tokens are kept for this run only: %s", exc)
        self._probed = True
        self._problem = f"the keyring failed: {exc}"
