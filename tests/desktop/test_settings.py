"""Settings and tokens: runners in a JSON file, tokens only in the keyring (or in memory for this run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keyring
from keyring.backends import fail

from desktop.settings import EMBEDDED, KEYRING_SERVICE, RemoteRunner, SettingsStore, TokenStore


def test_runners_round_trip_without_any_token_on_disk(tmp_path: Path, memory_keyring: Any) -> None:
    path = tmp_path / "cfg" / "settings.json"
    settings = SettingsStore(path)
    tokens = TokenStore()
    assert tokens.persistent
    settings.upsert(RemoteRunner("build box", "ws://10.0.0.5:8765"))
    settings.last_runner = "ws://10.0.0.5:8765"
    settings.save()
    assert tokens.set("ws://10.0.0.5:8765", "s3cret-token") is True
    assert memory_keyring.get_password(KEYRING_SERVICE, "ws://10.0.0.5:8765") == "s3cret-token"
    assert "s3cret" not in path.read_text()
    again = SettingsStore(path)
    assert again.runners == [RemoteRunner("build box", "ws://10.0.0.5:8765")]
    assert again.last_runner == "ws://10.0.0.5:8765"
    assert TokenStore().get("ws://10.0.0.5:8765") == "s3cret-token"
    again.upsert(RemoteRunner("renamed", "ws://10.0.0.6:8765"), old_url="ws://10.0.0.5:8765")
    again.remove("ws://10.0.0.6:8765")
    assert again.runners == [] and again.last_runner == EMBEDDED
    tokens.delete("ws://10.0.0.5:8765")
    assert tokens.get("ws://10.0.0.5:8765") is None


def test_without_a_keyring_tokens_live_in_memory_only(tmp_path: Path, monkeypatch: Any) -> None:
    # Every place the app writes its settings points into tmp_path, and the settings are saved with the runner
    # whose token is set: a token that reached the disk would be found there.
    for var in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    keyring.set_keyring(fail.Keyring())
    settings = SettingsStore()
    assert settings.path.is_relative_to(tmp_path)
    tokens = TokenStore()
    assert not tokens.persistent and tokens.problem
    settings.upsert(RemoteRunner("box", "ws://h:1"))
    settings.last_runner = "ws://h:1"
    settings.save()
    assert tokens.set("ws://h:1", "in-memory-secret-4711") is False
    assert tokens.get("ws://h:1") == "in-memory-secret-4711"
    assert TokenStore().get("ws://h:1") is None  # nothing survives this run
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert settings.path in written
    assert not [p for p in written if b"in-memory-secret-4711" in p.read_bytes()]


def test_a_corrupt_settings_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    settings = SettingsStore(path)
    assert settings.runners == [] and settings.last_runner == EMBEDDED


def test_agent_defaults_are_remembered_per_agent(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    settings = SettingsStore(path)
    settings.remember_agent_defaults({"type": "create", "agent": "codex", "model": "gpt-5", "cwd": "/x",
                                      "permission_mode": "read-only", "approval": "auto_review"})
    settings.remember_agent_defaults({"type": "create", "agent": "gemini", "model": "gemini-2.5-pro"})
    settings.remember_agent_defaults({"type": "create", "agent": "command", "argv": ["ls"]})
    settings.save()
    again = SettingsStore(path)
    assert again.agent_defaults == {
        "codex": {"model": "gpt-5", "permission_mode": "read-only", "approval": "auto_review"},
        "gemini": {"model": "gemini-2.5-pro"},
    }
    # A later session with the CLI's default model forgets the remembered one.
    again.remember_agent_defaults({"type": "create", "agent": "gemini"})
    assert again.agent_defaults["gemini"] == {}
    path.write_text('{"agent_defaults": {"codex": "bad", "claude": {"model": 3, "permission_mode": "plan"}}}')
    assert SettingsStore(path).agent_defaults == {"claude": {"permission_mode": "plan"}}


def test_what_the_window_remembers_round_trips_and_bad_values_fall_back(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    settings = SettingsStore(path)
    assert settings.last_sessions == {} and settings.window_geometry == "" and settings.theme == "system"
    settings.upsert(RemoteRunner("box", "ws://h:1"))
    settings.last_sessions = {EMBEDDED: "s-local", "ws://h:1": "s-remote"}
    settings.window_geometry = "AdnQywADAAA="
    settings.theme = "dark"
    settings.save()
    again = SettingsStore(path)
    assert again.last_sessions == {EMBEDDED: "s-local", "ws://h:1": "s-remote"}
    assert again.window_geometry == "AdnQywADAAA=" and again.theme == "dark"
    # A runner renamed to another URL takes its remembered session along; a removed one forgets it.
    again.upsert(RemoteRunner("box", "ws://h:2"), old_url="ws://h:1")
    assert again.last_sessions == {EMBEDDED: "s-local", "ws://h:2": "s-remote"}
    again.remove("ws://h:2")
    assert again.last_sessions == {EMBEDDED: "s-local"}
    # Values of the wrong type (a hand-edited file, an older or newer version) each fall back on their own.
    path.write_text(json.dumps({"runners": 5, "last_sessions": {"embedded": 3, "ws://h:1": "s"},
                                "window_geometry": ["x"], "theme": "purple", "last_runner": "ws://h:1"}))
    odd = SettingsStore(path)
    assert odd.runners == [] and odd.last_sessions == {"ws://h:1": "s"}
    assert odd.window_geometry == "" and odd.theme == "system" and odd.last_runner == "ws://h:1"
    for text in ("{not json", "[1, 2]", "null", ""):
        path.write_text(text)
        broken = SettingsStore(path)
        assert broken.theme == "system" and broken.last_sessions == {} and broken.window_geometry == ""
