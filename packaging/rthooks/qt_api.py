"""PyInstaller runtime hook: make qasync pick PySide6 even if it is imported before PySide6.

Without QT_API, qasync probes PyQt5/PyQt6 first; they are excluded from the bundle, so probing wastes time.
"""

import os

os.environ.setdefault("QT_API", "pyside6")
