"""desktop/core is the app's logic without Qt: it must import (and so be testable) without PySide6."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import desktop.core

QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "PySide2", "qasync", "shiboken6")


def test_importing_every_desktop_core_module_loads_no_qt() -> None:
    root = Path(desktop.core.__file__).parent
    modules = sorted("desktop.core." + ".".join(p.relative_to(root).with_suffix("").parts)
                     for p in root.rglob("*.py") if p.name != "__init__.py")
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert len(modules) >= 8
    assert out.stdout.strip() == ""
