"""What the app remembers across restarts, kept in the settings (desktop/settings.py): the session last selected
on each runner, the window's geometry and the theme. The app tells it what the user did; it tells the app which
session to select again.

The theme is applied before the window is built (its style sheet takes the colours then), and again whenever
the user chooses another one or, when following the system, the system changes its scheme.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Container

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QBoxLayout, QDialog, QFormLayout

from desktop.qt import theme
from desktop.qt.main_window import MainWindow
from desktop.settings import THEMES, SettingsStore

log = logging.getLogger(__name__)


class Remembered:
    def __init__(self, settings: SettingsStore, qapp: QApplication, current_runner: str) -> None:
        self.settings = settings
        self.qapp = qapp
        self.window: MainWindow | None = None
        self.pending: str | None = current_runner
        """The runner whose remembered session is selected once it lists it, unless the user picks one first."""
        self.theme_choice: theme.ThemeChoice | None = None
        if settings.theme != "system":
            theme.apply_choice(qapp, settings.theme)  # "system" is what __main__ applied
        self._hints = QGuiApplication.styleHints()
        self._follows_scheme = hasattr(self._hints, "colorSchemeChanged")
        if self._follows_scheme:
            self._hints.colorSchemeChanged.connect(self._system_scheme_changed)

    def attach(self, window: MainWindow) -> None:
        """The window, back where it was (on a screen that still exists)."""
        self.window = window
        if self.settings.window_geometry:
            window.restore_saved_geometry(self.settings.window_geometry)

    def save(self) -> None:
        try:
            self.settings.save()
        except OSError as exc:
            log.warning("cannot save settings: %s", exc)

    # ------------------------------------------------------------------ sessions

    def session_selected(self, runner: str, session_id: str | None) -> None:
        """The user looks at a session (None: at none, which forgets nothing)."""
        if session_id is None:
            return
        self.pending = None  # the user's choice wins over the remembered one
        self.settings.last_sessions[runner] = session_id
        self.settings.last_runner = runner
        self.save()

    def runner_chosen(self, runner: str) -> None:
        """The runner was made current (in the settings): its remembered session is selected once listed."""
        self.settings.last_runner = runner
        self.save()
        self.pending = runner

    def to_select(self, runner: str, listed: Container[str]) -> str | None:
        """The session to select now that `runner` lists `listed`: its remembered one if it is pending and still
        exists (once)."""
        sid = self.settings.last_sessions.get(runner)
        if self.pending != runner or sid is None or sid not in listed:
            return None
        self.pending = None
        return sid

    # ------------------------------------------------------------------ theme and geometry

    def add_theme_choice(self, dialog: QDialog) -> theme.ThemeChoice:
        """The theme as a row of the settings dialog, above its Close button: applied at once, remembered."""
        self.theme_choice = theme.ThemeChoice(self.settings.theme, dialog)
        self.theme_choice.chosen.connect(self.set_theme)
        row = QFormLayout()
        row.addRow("Theme", self.theme_choice)
        layout = dialog.layout()
        if isinstance(layout, QBoxLayout):
            layout.insertLayout(layout.count() - 1, row)
        return self.theme_choice

    def set_theme(self, choice: str) -> None:
        """One of THEMES: on the whole application at once, and on the next start."""
        if choice not in THEMES:
            raise ValueError(f"unknown theme {choice!r}")
        self.settings.theme = choice
        self.save()
        self.apply_theme()

    def apply_theme(self) -> None:
        theme.apply_choice(self.qapp, self.settings.theme)
        if self.window is not None:
            self.window.theme_changed()

    def _system_scheme_changed(self, *_args: object) -> None:
        if self.settings.theme == "system":
            self.apply_theme()

    def close(self) -> None:
        """The app quits: the window's geometry is kept; the system's scheme is no longer followed."""
        if self._follows_scheme:
            with contextlib.suppress(RuntimeError, TypeError):
                self._hints.colorSchemeChanged.disconnect(self._system_scheme_changed)
            self._follows_scheme = False
        if self.window is not None:
            self.settings.window_geometry = self.window.saved_geometry()
        self.save()
