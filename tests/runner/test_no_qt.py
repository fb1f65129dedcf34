"""The runner never imports Qt: it must run headless on machines without PySide6."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import runner

QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "PySide2", "qasync", "shiboken6")


def test_importing_every_runner_module_loads_no_qt() -> None:
    modules = sorted(
        "runner." + ".".join(p.relative_to(Path(runner.__file__).parent).with_suffix("").parts)
        for p in Path(runner.__file__).parent.rglob("*.py")
        if p.name != "__init__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert len(modules) >= 8
    assert out.stdout.strip() == ""


def test_no_qt_import_statement_in_runner_sources() -> None:
    for path in Path(runner.__file__).parent.rglob("*.py"):
        text = path.read_text()
        for name in QT_MODULES:
            assert f"import {name}" not in text and f"from {name}" not in text, path
