"""Frozen entry point of the desktop app (PyInstaller needs a script file, not a module:function)."""

from desktop.__main__ import main

raise SystemExit(main())
