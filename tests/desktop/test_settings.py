"""Settings and tokens: runners in a JSON file, tokens only in the keyring (or in memory for this run)."""

from __future__ import annotations

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


def test_without_a_keyring_tokens_live_in_memory_only(tmp_path: Path) -> None:
    keyring.set_keyring(fail.Keyring())
    tokens = TokenStore()
    assert not tokens.persistent and tokens.problem
    assert tokens.set("ws://h:1", "tok") is False
    assert tokens.get("ws://h:1") == "tok"
    assert TokenStore().get("ws://h:1") is None  # nothing survives this run
    assert not any("tok" in p.read_text(errors="ignore") for p in tmp_path.rglob("*") if p.is_file())


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
