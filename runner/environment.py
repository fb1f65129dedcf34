"""The environment variables the runner and the desktop both honour: each is read here and nowhere else."""

from __future__ import annotations

import os

import platformdirs

DATA_DIR_VARIABLE = "NIGHTSHIFT_DATA_DIR"
TOKEN_VARIABLE = "NIGHTSHIFT_TOKEN"


def data_dir_from_env() -> str | None:
    """The data folder NIGHTSHIFT_DATA_DIR names, if set (else None)."""
    return os.environ.get(DATA_DIR_VARIABLE) or None


def default_data_dir() -> str:
    """NIGHTSHIFT_DATA_DIR, else the platform's user data folder."""
    return data_dir_from_env() or platformdirs.user_data_dir("nightshift", appauthor=False)


def token_from_env() -> str | None:
    """The token NIGHTSHIFT_TOKEN holds (surrounding whitespace removed), if set and not blank (else None)."""
    return os.environ.get(TOKEN_VARIABLE, "").strip() or None
